/*
 * The dropout mask of Dense4J's training steps, ONE definition for the CPU engine (cpu/net.cpp) and the CUDA
 * engine (cuda/common.cuh, compiled by nvcc and by the CPU execution harness cuda/emu): the same seed draws the
 * same mask on both. A mask element is a pure function of (seed, step, layer, element), so it is never stored
 * between the forward and the backward pass on the GPU, and any split of the work across threads or blocks
 * draws the same mask:
 *
 *   key(seed, step, layer) = splitmix64(splitmix64(seed ^ splitmix64(step)) + layer)
 *   bits(e)                = splitmix64(key + e) >> 40                (the top 24 bits)
 *   mask(e)                = bits(e) >= rate * 2^24 ? 1 / (1 - rate) : 0   (inverted dropout)
 *
 * step: the optimizer updates done before this training step (0 for the first, the `*step` of d4j_net_train and
 * d4j_cuda_net_train on entry); layer: the index of the Dense layer whose output is dropped; e: row * width +
 * col of that output in the batch; rate: the float32 rate. rate * 2^24 is exact in float32 and so is bits(e), so
 * the comparison is exact: P(drop) = ceil(rate * 2^24) / 2^24. splitmix64 is Steele, Lea and Flood's finaliser
 * (Stafford's mix 13), one 64-bit multiply pair per element: cheap enough to recompute per element per step.
 * native/reference/dropout.h states the same function in float64 from this specification; the CPU and CUDA
 * tests check their masks against it.
 */
#ifndef DENSE4J_DROPOUT_H
#define DENSE4J_DROPOUT_H
#include <stdint.h>

#if defined(__CUDACC__)
#define D4J_HOST_DEVICE __host__ __device__
#else
#define D4J_HOST_DEVICE
#endif

namespace d4j {

D4J_HOST_DEVICE inline uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

// Per (seed, step, layer): computed once per layer and step where the caller can hoist it.
D4J_HOST_DEVICE inline uint64_t dropout_key(uint64_t seed, int64_t step, int layer) {
    return splitmix64(splitmix64(seed ^ splitmix64((uint64_t)step)) + (uint64_t)layer);
}

// The keep threshold and the scale of a rate: computed once per layer, outside the loop over elements (a per-element
// division and a branch keep the CPU loop from vectorizing: measured 7x slower).
D4J_HOST_DEVICE inline float dropout_threshold(float rate) { return rate * 16777216.f; }
D4J_HOST_DEVICE inline float dropout_scale(float rate) { return 1.f / (1.f - rate); }

// The mask of element e: 0 (dropped) or scale = 1 / (1 - rate) (kept). bits < 2^24 converts to float exactly.
D4J_HOST_DEVICE inline float dropout_mask(uint64_t key, uint64_t element, float threshold, float scale) {
    const int32_t bits = (int32_t)(splitmix64(key + element) >> 40);
    return (float)bits >= threshold ? scale : 0.f;
}

// The same for one element, from the rate (the GPU epilogues, where the rate is a kernel parameter).
D4J_HOST_DEVICE inline float dropout_factor(uint64_t key, uint64_t element, float rate) {
    return dropout_mask(key, element, dropout_threshold(rate), dropout_scale(rate));
}

}  // namespace d4j

#endif
