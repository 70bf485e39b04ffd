// Float64 reference of the dropout masks (inverted dropout: 0 or 1 / (1 - rate)), each engine's counter-based
// hash written from its specification (splitmix64 finaliser): a mask element is a pure function of (seed, step,
// layer, element). The two engines specify different hashes (so the same seed draws different masks on the CPU
// and on the GPU); each is one function here, used by that engine's tests.
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

// CPU engine (cpu/activations.h): step = the number of the update (1 for the first); kept when the top 24 bits
// of the hash, as a fraction of 2^24, are at least rate rounded to a multiple of 2^-24.
inline double dropout_mask_cpu(uint64_t seed, int64_t step, int layer, int64_t element, double rate) {
    const uint64_t key = splitmix64(splitmix64(seed) ^ ((uint64_t)step << 16) ^ (uint64_t)(uint32_t)layer);
    const double u = (double)(splitmix64(key + (uint64_t)element) >> 40) / 16777216.0;
    return u >= std::llround(rate * 16777216.0) / 16777216.0 ? 1.0 / (1.0 - (float)rate) : 0.0;
}

// CUDA engine (dense4j_cuda.h, cuda/dropout.cu): step = the number of updates before this one (0 for the
// first); kept when the top 24 bits of the hash >= rate * 2^24 in float.
inline double dropout_mask_cuda(uint64_t seed, int64_t step, int layer, int64_t element, double rate) {
    const uint64_t key = splitmix64(splitmix64(seed ^ splitmix64((uint64_t)step)) + (uint64_t)layer);
    const uint32_t u = (uint32_t)(splitmix64(key + (uint64_t)element) >> 40);
    return (float)u >= (float)rate * 16777216.f ? 1.0 / (1.0 - (float)rate) : 0.0;
}

}  // namespace ref
