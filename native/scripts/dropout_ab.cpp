// A/B of the CPU dropout loop of cpu/net.cpp (dropout_block), the mask part only: before issue 10's one hash (the
// CPU engine's own key and integer threshold, reproduced here) and after (include/dense4j_dropout.h), interleaved,
// with the library's flags. Not part of the build; by hand, from the repository root:
//   g++ -O3 -march=x86-64-v3 -std=c++17 -Inative/include native/scripts/dropout_ab.cpp -o /tmp/dropout_ab && /tmp/dropout_ab
#include "dense4j_dropout.h"
#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>
#include <algorithm>
static uint64_t old_key(uint64_t seed, int64_t step, int layer) {
    return d4j::splitmix64(d4j::splitmix64(seed) ^ ((uint64_t)step << 16) ^ (uint64_t)(uint32_t)layer);
}
__attribute__((noinline)) void before(const float* y, float* mask, float* yd, int64_t n, float rate, uint64_t seed, int64_t step) {
    const uint64_t key = old_key(seed, step, 1);
    const uint32_t threshold = (uint32_t)std::llround((double)rate * 16777216.0);
    const float scale = 1.0f / (1.0f - rate);
    for (int64_t i = 0; i < n; i++) {
        const uint32_t u = (uint32_t)(d4j::splitmix64(key + (uint64_t)i) >> 40);
        const float m = u >= threshold ? scale : 0.0f;
        mask[i] = m; yd[i] = y[i] * m;
    }
}
__attribute__((noinline)) void after(const float* y, float* mask, float* yd, int64_t n, float rate, uint64_t seed, int64_t step) {
    const uint64_t key = d4j::dropout_key(seed, step, 1);
    const float threshold = d4j::dropout_threshold(rate), scale = d4j::dropout_scale(rate);
    for (int64_t i = 0; i < n; i++) {
        const float m = d4j::dropout_mask(key, (uint64_t)i, threshold, scale);
        mask[i] = m; yd[i] = y[i] * m;
    }
}
int main() {
    const int64_t n = 32 * 128;  // the reference workload's hidden layer, batch 32
    std::vector<float> y(n, 1.f), mask(n), yd(n);
    std::vector<double> tb, ta;
    for (int rep = 0; rep < 15; rep++) {
        for (int which = 0; which < 2; which++) {
            auto t0 = std::chrono::steady_clock::now();
            for (int s = 0; s < 2000; s++) (which ? after : before)(y.data(), mask.data(), yd.data(), n, 0.2f, 7, s);
            double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / 2000;
            (which ? ta : tb).push_back(us);
        }
    }
    std::sort(tb.begin(), tb.end()); std::sort(ta.begin(), ta.end());
    printf("dropout 32x128 per step, median of 15 (interleaved): before %.2f us, after %.2f us, ratio %.2f\n",
           tb[7], ta[7], ta[7] / tb[7]);
}
