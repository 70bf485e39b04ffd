// Batch assembly from a data set resident on the device, and device-side shuffling:
//  - gather: out[r, :] = scale * data[order[pos + r], :] for uint8 data (4 bytes -> one float4 per thread when
//    the row width allows, the x/255 conversion done on the fly, so the data set costs 1 byte per pixel on the
//    GPU and the host never touches a batch) or float data; the batch's int32 labels or float target rows are
//    gathered by the same launch. In training, pos = first + batch_index * batch is read from the device state,
//    so one captured graph serves every step of an epoch;
//  - permutation: order[i] = the i-th value of a pseudo-random bijection of [0, n) keyed by the seed: a 4-round
//    Feistel network on the smallest even-bit power-of-two domain >= n, with cycle walking back into [0, n)
//    (fewer than 4 rounds of walking on average). Each element is independent: one kernel, no sort, no host.
#include "reduce.cuh"
#include <algorithm>

namespace d4j {

__device__ __forceinline__ int64_t batch_pos(const DevState* st, int64_t first, int batch) {
    return st ? st->first + st->batch_index * (int64_t)batch : first;
}

template <bool U8>
__global__ void gather_kernel(const void* __restrict__ data, float scale, int width, const int32_t* __restrict__ order,
                              int64_t first, int batch, const DevState* st, int rows, float* __restrict__ out,
                              const int32_t* __restrict__ labels, int32_t* __restrict__ labels_out,
                              const float* __restrict__ targets, int k, float* __restrict__ targets_out, int vec) {
    // Rows are strided over gridDim.y (at most 65535 by the launch limit): batches and single-op gathers may be
    // taller than that.
    for (int r = blockIdx.y; r < rows; r += gridDim.y) {
        const int64_t pos = batch_pos(st, first, batch) + r;
        const int64_t row = order ? (int64_t)order[pos] : pos;
        const int c4 = (blockIdx.x * blockDim.x + threadIdx.x) * 4;
        float* o = out + (size_t)r * width;
        if (c4 < width) {
            if (U8) {
                const uint8_t* src = (const uint8_t*)data + (size_t)row * width;
                if (vec && c4 + 3 < width) {
                    uchar4 v = *reinterpret_cast<const uchar4*>(src + c4);
                    *reinterpret_cast<float4*>(o + c4) = make_float4(v.x * scale, v.y * scale, v.z * scale, v.w * scale);
                } else {
                    for (int c = c4; c < min(c4 + 4, width); ++c) o[c] = src[c] * scale;
                }
            } else {
                const float* src = (const float*)data + (size_t)row * width;
                if (vec && c4 + 3 < width) {
                    float4 v = *reinterpret_cast<const float4*>(src + c4);
                    *reinterpret_cast<float4*>(o + c4) = make_float4(v.x * scale, v.y * scale, v.z * scale, v.w * scale);
                } else {
                    for (int c = c4; c < min(c4 + 4, width); ++c) o[c] = src[c] * scale;
                }
            }
        }
        if (blockIdx.x == 0) {
            if (labels && threadIdx.x == 0) labels_out[r] = labels[row];
            if (targets)
                for (int c = threadIdx.x; c < k; c += blockDim.x) targets_out[(size_t)r * k + c] = targets[(size_t)row * k + c];
        }
    }
}

cudaError_t gather(const void* data, int u8, float scale, int width, const int32_t* order, int64_t first_host,
                   int batch, const DevState* st, int rows, float* out, const int32_t* labels, int32_t* labels_out,
                   const float* targets, int k, float* targets_out, cudaStream_t s) {
    if (rows <= 0 || width <= 0) return cudaSuccess;
    int threads = 128;
    dim3 grid((unsigned)((width + 4 * threads - 1) / (4 * threads)), (unsigned)std::min(rows, 65535));
    if (u8) {
        // uchar4 loads need 4-byte aligned rows; the float4 stores need a 16-byte aligned out (a caller's offset
        // pointer may not be)
        int vec = width % 4 == 0 && (uintptr_t)data % 4 == 0 && (uintptr_t)out % 16 == 0;
        D4J_LAUNCH(grid, threads, 0, s, gather_kernel<true>)(data, scale, width, order, first_host, batch, st, rows, out,
                                                     labels, labels_out, targets, k, targets_out, vec);
    } else {
        int vec = width % 4 == 0 && (uintptr_t)data % 16 == 0 && (uintptr_t)out % 16 == 0;
        D4J_LAUNCH(grid, threads, 0, s, gather_kernel<false>)(data, scale, width, order, first_host, batch, st, rows, out,
                                                      labels, labels_out, targets, k, targets_out, vec);
    }
    return cudaGetLastError();
}

struct FeistelKey { uint32_t k[4]; int half; uint32_t mask; };

__device__ __forceinline__ uint64_t feistel(uint64_t x, const FeistelKey& f) {
    uint32_t L = (uint32_t)(x >> f.half), R = (uint32_t)(x & f.mask);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        uint32_t F = (uint32_t)splitmix64(((uint64_t)R << 32) ^ f.k[i]) & f.mask;
        uint32_t nl = R;
        R = L ^ F;
        L = nl;
    }
    return ((uint64_t)L << f.half) | R;
}

__global__ void permutation_kernel(int32_t* order, int64_t n, FeistelKey f) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        uint64_t x = (uint64_t)i;
        do { x = feistel(x, f); } while (x >= (uint64_t)n);
        order[i] = (int32_t)x;
    }
}

cudaError_t permutation(int32_t* order, int64_t n, uint64_t seed, cudaStream_t s) {
    if (n <= 0) return cudaSuccess;
    int bits = 2;
    while (bits < 62 && (1ll << bits) < n) ++bits;
    if (bits & 1) ++bits;
    FeistelKey f;
    f.half = bits / 2;
    f.mask = (uint32_t)((1ull << f.half) - 1);
    for (int i = 0; i < 4; ++i) f.k[i] = (uint32_t)splitmix64(seed + 0x632BE59BD9B4E019ull * (uint64_t)(i + 1));
    D4J_LAUNCH(grid_for(n, 256 * 4, 4096), 256, 0, s, permutation_kernel)(order, n, f);
    return cudaGetLastError();
}

}  // namespace d4j
