// Float64 reference of the dropout mask (inverted dropout: 0 or 1 / (1 - rate)), written from its specification
// in include/dense4j_dropout.h, which both engines use: a mask element is a pure function of (seed, step, layer,
// element), the same on the CPU and on the GPU. The hash is integer arithmetic (exact); the keep threshold is
// ceil(rate * 2^24) computed in float64 (exact for a float32 rate).
#pragma once
#include <cmath>
#include <cstdint>

namespace ref {

inline uint64_t splitmix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// step: the optimizer updates done before the training step (0 for the first); element: row * width + col.
inline double dropout_mask(uint64_t seed, int64_t step, int layer, int64_t element, double rate) {
    const double r = (float)rate;  // the engines take the rate as float32
    const uint64_t key = splitmix64(splitmix64(seed ^ splitmix64((uint64_t)step)) + (uint64_t)layer);
    const uint64_t bits = splitmix64(key + (uint64_t)element) >> 40;
    return (double)bits >= std::ceil(r * 16777216.0) ? 1.0 / (1.0 - r) : 0.0;
}

}  // namespace ref
