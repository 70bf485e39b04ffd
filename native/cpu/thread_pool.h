// Our own fork-join pool for the CPU kernels (no BLAS library runs threads of its own). See thread_pool.cpp for how it
// avoids the collapse of spinning pools when another process holds a core.
#pragma once
#include <atomic>
#include <cstdint>

#pragma GCC visibility push(hidden)
namespace d4j {

// A parallel region: `chunks` independent pieces of work, run(ctx, i) for every i in [0, chunks), each exactly
// once, on the calling thread and the pool's workers. A chunk must write only its own outputs and must not
// depend on which thread runs it or in which order: then results are identical for any thread count.
// `cost` (optional, one weight per chunk) places chunks on threads so that each starts with a fair share;
// whatever a thread has not started when another runs out is taken over (from the far end of its range).
struct Region {
    void (*run)(void* ctx, int chunk);
    void* ctx;
    int chunks;
    const float* cost;
    double work;  // the region's work in FLOP-like units (GEMM FLOPs; others by estimate): the pool's yardstick
    // Optional: thread t starts with chunks [split[t], split[t+1]) when the region runs on split_threads threads
    // (the caller keeps chunks on the threads that ran them before: cache affinity). Overrides cost.
    const int* split = nullptr;
    int split_threads = 0;
};

// The chunks [first, end) that thread t of `threads` starts with in a region without cost or split: an even
// split by count, in order. Callers that want a later region to give thread t the same data use it too.
struct ChunkRange { int first, end; };
inline ChunkRange home_chunks(int chunks, int threads, int t) {
    if (t >= threads) return {chunks, chunks};
    return {(int)((int64_t)chunks * t / threads), (int)((int64_t)chunks * (t + 1) / threads)};
}
// The thread whose home_chunks holds `chunk` (the last t with chunks * t / threads <= chunk).
inline int home_thread(int chunks, int threads, int chunk) {
    return (int)(((int64_t)(chunk + 1) * threads + chunks - 1) / chunks) - 1;
}

// Runs every chunk of the region and returns when all are done. Serial (on the calling thread, in order) when
// the pool has one thread, when another thread is using the pool (concurrent predicts), and while the pool
// measures that running in parallel is not faster (another process holding the cores): see thread_pool.cpp.
void parallel(const Region& r);

// Whether the calling thread is running a region's chunks one after the other on its own (the pool runs it
// serially): a chunk that waits for another chunk of its region must then run that one itself (column_run).
bool running_serially();

// Wait while *addr == expected (at most timeout_ns when > 0; may return early), and wake up to n such waiters.
void futex_wait(std::atomic<uint32_t>* addr, uint32_t expected, int64_t timeout_ns = 0);
void futex_wake(std::atomic<uint32_t>* addr, int n);

// Threads a region may use now (1 = serial). Chunk plans use it to decide how finely to split.
int team_size();

constexpr int MAX_CHUNKS = 65535;

// d4j_set_num_threads / d4j_get_num_threads / d4j_thread_stats (threads.cpp)
void pool_set_threads(int n);     // the shared pool
int pool_requested_threads();     // the calling thread's pool (its private team, else the shared one)
void pool_set_caller_threads(int n);  // d4j_set_caller_threads
int pool_caller_threads();
int pool_max_team();            // the largest team this process can get (CPUs it may run on)
void pool_stats(int64_t* out);  // 6 counters, see dense4j.h

}  // namespace d4j
#pragma GCC visibility pop
