// Session 10 diagnosis (not a ctest, not in the build): two threads, pinned to the first two CPUs, each run Adam on
// its own half of the reference network's first layer (784 x 128, row-major as the engine keeps it) in lockstep
// rounds, 3000 rounds, the mean time of one update per thread printed. Halves by mode:
//   0: the two 64-column halves (what a column-parallel step updates; every row's boundary on a cache line)
//   1: the two row halves (each a flat run: what the default step's row bands update)
//   2: 64 columns each with 64 unused columns between (row stride 256)
//   3: 64 columns each with 16 unused columns between
//   4: the parameters in shared rows, gradient and moments private per thread; 5: everything private, row by row
//   6 / 7: the column halves in 8 row pieces, the second thread in reverse piece order (6) or the same order (7)
// Built and run by benchmarks/col10-check.sh (with column_update_microbench_stubs.cpp: the library's ISA choice and
// pool replaced by AVX-512 and a serial loop). Print the placement (bench_cpu --only probe) next to each run.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <atomic>
#include <vector>
#include <pthread.h>
#include "optimizer.h"
using namespace d4j;
// two threads, each updating its own 64 columns of a 784x128 layer (Adam), in lockstep rounds
int main(int argc, char** argv) {
    const int IN = 784, OUT = 128;
    const int64_t N = IN * 256, S = N + 16;
    float *p, *g, *s;
    posix_memalign((void**)&p, 64, N * 4); posix_memalign((void**)&g, 64, N * 4); posix_memalign((void**)&s, 64, 3 * S * 4);
    for (int64_t i = 0; i < N; i++) { p[i] = 0.01f * (i % 7); g[i] = 0.001f * (i % 13) - 0.005f; }
    for (int64_t i = 0; i < 3 * S; i++) s[i] = 0;
    const float hp[5] = {0.9f, 0.999f, 1e-7f, 0, 0};
    const int mode = argc > 1 ? atoi(argv[1]) : 0;  // 0: columns, 1: row halves (flat)
    std::atomic<int> go{0}, done{0};
    double tt[2] = {0, 0};
    auto work = [&](int c) {
        cpu_set_t one; CPU_ZERO(&one); CPU_SET(c, &one); pthread_setaffinity_np(pthread_self(), sizeof one, &one);
        for (int rep = 1; rep <= 3000; rep++) {
            while (go.load() < rep) {}
            OptStep o = optimizer_prepare(1, hp, 1e-3f, rep);
            auto t0 = std::chrono::steady_clock::now();
            if (mode == 0) o.fn(o, p + c * 64, g + c * 64, s + c * 64, s + S + c * 64, s + 2 * S + c * 64, IN, 64, OUT);
            else if (mode == 2) o.fn(o, p + c * 128, g + c * 128, s + c * 128, s + S + c * 128, s + 2 * S + c * 128, IN, 64, 256);
            else if (mode == 4) { // p strided in shared rows; g, m, v private per chunk (same strides, own buffers)
                static float* priv[2][3]; if (!priv[c][0]) for (int k = 0; k < 3; k++) { posix_memalign((void**)&priv[c][k], 64, IN * 256 * 4); for (int i = 0; i < IN*256; i++) priv[c][k][i] = k == 0 ? 0.001f : 0; }
                for (int r = 0; r < IN; r++) o.fn(o, p + r * 128 + c * 64, priv[c][0] + r * 64, priv[c][1] + r * 64, priv[c][2] + r * 64, priv[c][2] + r * 64, 1, 64, 64); }
            else if (mode == 5) { // everything private per chunk, row by row calls (the call overhead of mode 4)
                static float* priv[2][4]; if (!priv[c][0]) for (int k = 0; k < 4; k++) { posix_memalign((void**)&priv[c][k], 64, IN * 256 * 4); for (int i = 0; i < IN*256; i++) priv[c][k][i] = k == 0 ? 0.001f : 0; }
                for (int r = 0; r < IN; r++) o.fn(o, priv[c][3] + r * 64, priv[c][0] + r * 64, priv[c][1] + r * 64, priv[c][2] + r * 64, priv[c][2] + r * 64, 1, 64, 64); }
            else if (mode == 6 || mode == 7) { // column halves, 8 row pieces; chunk 1 in reverse piece order (6), or both same order (7)
                for (int q = 0; q < 8; q++) { int at = (mode == 6 && c == 1) ? 7 - q : q; int r0 = IN * at / 8, r1 = IN * (at + 1) / 8;
                    o.fn(o, p + r0 * 128 + c * 64, g + r0 * 128 + c * 64, s + r0 * 128 + c * 64, s + S + r0 * 128 + c * 64, s + 2 * S + r0 * 128 + c * 64, r1 - r0, 64, 128); } }
            else if (mode == 3) { const int gap = 16; o.fn(o, p + c * (64 + gap), g + c * (64+gap), s + c * (64+gap), s + S + c * (64+gap), s + 2 * S + c * (64+gap), IN, 64, 128+gap); }
            else { int64_t off = c * IN * 64; o.fn(o, p + off, g + off, s + off, s + S + off, s + 2 * S + off, 1, IN * 64, IN * 64); }
            if (rep > 100) tt[c] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            done++;
        }
    };
    std::thread t1(work, 1);
    std::thread t0(work, 0);
    for (int rep = 1; rep <= 3000; rep++) { while (done.load() < 2 * (rep - 1)) {} go.store(rep); }
    t0.join(); t1.join();
    std::printf("mode %d: %.2f / %.2f us per update\n", mode, tt[0] / 2900 * 1e6, tt[1] / 2900 * 1e6);
}
