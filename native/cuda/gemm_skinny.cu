// Skinny GEMM: C[M,N] = epilogue(A[M,K] . op(B)[K,N]) for few rows (M <= 64: a training batch, one predict row),
// A row-major and untransposed, op(B) = B (forward, NN) or B^T (input gradient, NT).
//
// Why a separate kernel: at these shapes the tiled kernels are latency-bound, not arithmetic-bound. On the H200
// (Nsight Compute, warm caches, 1.97 GHz) the 32x32 tile spent 25 us on 32x128x784 (40 blocks of 2 warps, each
// walking its K range slice after slice, then a split-K reduction pass) and 17-22 us on 32x10x128 (2 blocks):
// two warps per SM, each issuing an instruction every ~6 cycles. Here each block takes SKINNY_ROWS rows x 32
// columns and its 8 warps split K among themselves:
//  - lane j of every warp owns column n0 + j, so each B load is one coalesced 128-byte row segment (NN) or
//    32 independent rows read sequentially along K (NT, small K: the bytes stay in L1 across iterations);
//  - the A values of the block's rows are the same address for all lanes (one broadcast transaction);
//  - 16 k per iteration, every load of the iteration issued before its first FMA, keep loads in flight;
//  - the 8 partial sums are combined through shared memory in warp order 0..7, so the result repeats bit for bit
//    (no atomics, no workspace), and the epilogue (bias + activation + dropout, or activation derivative) is
//    the one of the tiled kernels, applied once per output.
// 32x128x784 runs as 8x4 = 32 blocks of 8 warps, each warp 100 k deep (6 iterations of 16, then 4 + 0). Arithmetic is FP32 whatever the precision
// setting (TF32 would not shorten a latency-bound loop). The planner (gemm_dispatch.cu) sends only AUTO calls here,
// with M <= 64 and B small enough (K*N <= 2^20) to be re-read from L2 by every group of rows.
#include "gemm_kernels.cuh"

namespace d4j {
namespace gk {

constexpr int SKINNY_ROWS = 4, SKINNY_WARPS = 8;

template <bool TB>
__device__ __forceinline__ float skinny_b(const Params& p, int k, int c) {
    return TB ? __ldg(p.B + (size_t)c * p.ldb + k) : __ldg(p.B + (size_t)k * p.ldb + c);
}

template <bool TB>
__global__ void __launch_bounds__(SKINNY_WARPS * 32) gemm_skinny(Params p) {
    __shared__ float partial[SKINNY_WARPS][SKINNY_ROWS][32];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int r0 = blockIdx.x * SKINNY_ROWS, c = blockIdx.y * 32 + lane;
    const bool col_ok = c < p.N;
    // this warp's K range: K split in 8 multiples of 4 (a whole float4 of A when its rows are 16-byte aligned)
    const int chunk = ((p.K + SKINNY_WARPS - 1) / SKINNY_WARPS + 3) / 4 * 4;
    const int kb = min(p.K, warp * chunk), ke = min(p.K, kb + chunk);
    const int rows = min(SKINNY_ROWS, p.M - r0);
    float acc[SKINNY_ROWS];
#pragma unroll
    for (int i = 0; i < SKINNY_ROWS; ++i) acc[i] = 0.f;

    int k = kb;
    // 16 k per iteration: all 16 B values and 4 float4 of each A row are loaded before the first FMA, so a warp has
    // up to 32 loads in flight instead of 8 (the first version, 4 k per iteration, spent ~18 us on 32x128x784:
    // 25 iterations per warp, each waiting a full memory latency)
    for (; k + 16 <= ke; k += 16) {
        float b[16];
#pragma unroll
        for (int j = 0; j < 16; ++j) b[j] = col_ok ? skinny_b<TB>(p, k + j, c) : 0.f;
        float4 v[SKINNY_ROWS][4];
#pragma unroll
        for (int i = 0; i < SKINNY_ROWS; ++i) {
            if (i >= rows) break;
            const float* a = p.A + (size_t)(r0 + i) * p.lda + k;
#pragma unroll
            for (int q = 0; q < 4; ++q) {
                if (p.vec_a) v[i][q] = __ldg(reinterpret_cast<const float4*>(a + 4 * q));
                else v[i][q] = make_float4(__ldg(a + 4 * q), __ldg(a + 4 * q + 1), __ldg(a + 4 * q + 2),
                                           __ldg(a + 4 * q + 3));
            }
        }
#pragma unroll
        for (int i = 0; i < SKINNY_ROWS; ++i) {
            if (i >= rows) break;
#pragma unroll
            for (int q = 0; q < 4; ++q) {
                acc[i] = fmaf(v[i][q].x, b[4 * q], acc[i]);
                acc[i] = fmaf(v[i][q].y, b[4 * q + 1], acc[i]);
                acc[i] = fmaf(v[i][q].z, b[4 * q + 2], acc[i]);
                acc[i] = fmaf(v[i][q].w, b[4 * q + 3], acc[i]);
            }
        }
    }
    for (; k + 4 <= ke; k += 4) {
        float b0 = 0.f, b1 = 0.f, b2 = 0.f, b3 = 0.f;
        if (col_ok) {
            b0 = skinny_b<TB>(p, k, c);
            b1 = skinny_b<TB>(p, k + 1, c);
            b2 = skinny_b<TB>(p, k + 2, c);
            b3 = skinny_b<TB>(p, k + 3, c);
        }
#pragma unroll
        for (int i = 0; i < SKINNY_ROWS; ++i) {
            if (i >= rows) break;
            const float* a = p.A + (size_t)(r0 + i) * p.lda + k;
            float4 v;
            if (p.vec_a) v = __ldg(reinterpret_cast<const float4*>(a));
            else v = make_float4(__ldg(a), __ldg(a + 1), __ldg(a + 2), __ldg(a + 3));
            acc[i] = fmaf(v.x, b0, acc[i]);
            acc[i] = fmaf(v.y, b1, acc[i]);
            acc[i] = fmaf(v.z, b2, acc[i]);
            acc[i] = fmaf(v.w, b3, acc[i]);
        }
    }
    for (; k < ke; ++k) {
        const float b = col_ok ? skinny_b<TB>(p, k, c) : 0.f;
#pragma unroll
        for (int i = 0; i < SKINNY_ROWS; ++i) {
            if (i >= rows) break;
            acc[i] = fmaf(__ldg(p.A + (size_t)(r0 + i) * p.lda + k), b, acc[i]);
        }
    }
#pragma unroll
    for (int i = 0; i < SKINNY_ROWS; ++i) partial[warp][i][lane] = acc[i];
    __syncthreads();
    if (threadIdx.x < SKINNY_ROWS * 32) {
        const int i = threadIdx.x / 32, r = r0 + i;
        float s = 0.f;
#pragma unroll
        for (int w = 0; w < SKINNY_WARPS; ++w) s += partial[w][i][lane];
        if (r < p.M && col_ok) epilogue_store(p, epilogue_dropout_key(p), r, c, s);
    }
}

}  // namespace gk

bool gemm_skinny_fits(const GemmCall& c) {
    // (K*N <= 2^20 also keeps the column tiles, N / 32, far under gridDim.y's 65535)
    return !c.ta && c.M >= 1 && c.M <= 64 && c.K >= 1 && (long long)c.K * c.N <= (1LL << 20);
}

cudaError_t gemm_skinny(const GemmCall& c, cudaStream_t s) {
    gk::Params p{};
    p.A = c.A; p.B = c.B; p.C = c.C;
    p.M = c.M; p.N = c.N; p.K = c.K; p.lda = c.lda; p.ldb = c.ldb; p.ldc = c.ldc;
    p.a_rows = c.M;
    // float4 loads of A: rows 16-byte aligned, and every warp's K range starts at a multiple of 4
    p.vec_a = (c.lda % 4 == 0) && ((uintptr_t)c.A % 16 == 0);
    p.ep = c.ep;
    dim3 grid((c.M + gk::SKINNY_ROWS - 1) / gk::SKINNY_ROWS, (c.N + 31) / 32, 1);
    if (c.tb) D4J_LAUNCH(grid, gk::SKINNY_WARPS * 32, 0, s, gk::gemm_skinny<true>)(p);
    else D4J_LAUNCH(grid, gk::SKINNY_WARPS * 32, 0, s, gk::gemm_skinny<false>)(p);
    return cudaGetLastError();
}

}  // namespace d4j
