// Thread count of the CPU path: our own pool (thread_pool.cpp) runs the kernels; OpenBLAS, used only outside
// the training engine's hot path, is kept on ONE thread whatever is asked: its spinning pool collapses when
// another process holds a core, and it would oversubscribe the cores our pool already uses.
#include "dense4j.h"
#include <cblas.h>
#include "thread_pool.h"

extern "C" void d4j_set_num_threads(int n) {
    openblas_set_num_threads(1);
    d4j::pool_set_threads(n);
}

extern "C" int d4j_get_num_threads(void) { return d4j::pool_requested_threads(); }

extern "C" void d4j_thread_stats(int64_t* out) {
    if (out) d4j::pool_stats(out);
}

extern "C" void d4j_set_caller_threads(int n) { d4j::pool_set_caller_threads(n); }

extern "C" int d4j_get_caller_threads(void) { return d4j::pool_caller_threads(); }
