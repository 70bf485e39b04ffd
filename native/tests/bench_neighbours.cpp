// What it costs two cores to write neighbouring ranges of memory (not a ctest): two threads, pinned to the first two
// CPUs this process may use, each stream read-modify-write passes over its own range of KB kilobytes of ONE
// allocation, the second range starting GAP bytes after the first ends; then the same with a range from a separate
// allocation for each thread. Printed: each thread's median time per 64-byte line over 9 timed rounds.
// Why it exists: the column step's chunks (column_step.cpp) each write their own contiguous ranges, and when the
// host placed the VM's two vCPUs far apart (~400 ns round trip, bench_cpu --only probe), the thread whose range
// came right after the other's ran 7-15% slower although no line was shared; 2 KB between the ranges removed it
// (the L2 prefetcher runs on past the end of a range into the neighbour's lines). net_state.h GUARD_FLOATS.
// Usage: bench_neighbours [KB ...]   (default 256 600)
#include <pthread.h>
#include <sched.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

// ns per line of a read-modify-write pass over a[0, n), median of 9 rounds of `passes` passes
double stream(float* a, size_t n, long passes) {
    std::vector<double> t;
    for (int round = 0; round < 9; round++) {
        const auto t0 = std::chrono::steady_clock::now();
        for (long p = 0; p < passes; p++)
            for (size_t i = 0; i < n; i++) a[i] = a[i] * 0.999f + 0.001f;
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        t.push_back(s * 1e9 / ((double)passes * (double)n / 16));
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

bool pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

// Two threads on cpus[0] and cpus[1], thread t on range t: in one allocation (gap bytes apart) or, when gap < 0,
// each in an allocation of its own
void run(const int* cpus, size_t kb, long gap) {
    const size_t n = kb * 1024 / sizeof(float), step = n + (gap > 0 ? (size_t)gap / sizeof(float) : 0);
    const size_t page = 4096, bytes = ((2 * step * sizeof(float)) / page + 1) * page;
    float* shared = gap >= 0 ? static_cast<float*>(std::aligned_alloc(page, bytes)) : nullptr;
    double ns[2] = {0, 0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; t++)
        threads.emplace_back([&, t] {
            pin(cpus[t]);
            float* own = nullptr;
            float* a = shared ? shared + t * step
                              : (own = static_cast<float*>(std::aligned_alloc(page, (n * sizeof(float) / page + 1) * page)));
            for (size_t i = 0; i < n; i++) a[i] = 1.0f + (float)(i % 7);  // first touch by its own thread
            ns[t] = stream(a, n, (long)(400 * 1024 / kb));
            std::free(own);
        });
    for (auto& th : threads) th.join();
    std::free(shared);
    if (gap >= 0) std::printf("%5zu KB each, %5ld bytes apart:      %.3f  %.3f ns/line\n", kb, gap, ns[0], ns[1]);
    else std::printf("%5zu KB each, separate allocations:  %.3f  %.3f ns/line\n", kb, ns[0], ns[1]);
}

}  // namespace

int main(int argc, char** argv) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0 || CPU_COUNT(&set) < 2) {
        std::printf("bench_neighbours: needs 2 CPUs\n");
        return 1;
    }
    int cpus[2], found = 0;
    for (int c = 0; c < CPU_SETSIZE && found < 2; c++)
        if (CPU_ISSET(c, &set)) cpus[found++] = c;
    std::vector<size_t> sizes;
    for (int i = 1; i < argc; i++) sizes.push_back((size_t)std::atol(argv[i]));
    if (sizes.empty()) sizes = {256, 600};
    std::printf("# threads on CPUs %d and %d; the second column is the thread on the range that comes second\n",
                cpus[0], cpus[1]);
    for (size_t kb : sizes) {
        for (long gap : {0L, 512L, 2048L, 4096L}) run(cpus, kb, gap);
        run(cpus, kb, -1);
    }
}
