// Thread count of the CPU path: our own pool (thread_pool.cpp) runs every kernel.
#include "dense4j.h"
#include "thread_pool.h"

extern "C" void d4j_set_num_threads(int n) { d4j::pool_set_threads(n); }

extern "C" int d4j_get_num_threads(void) { return d4j::pool_requested_threads(); }

extern "C" void d4j_thread_stats(int64_t* out) {
    if (out) d4j::pool_stats(out);
}

extern "C" void d4j_set_caller_threads(int n) { d4j::pool_set_caller_threads(n); }

extern "C" int d4j_get_caller_threads(void) { return d4j::pool_caller_threads(); }
