// The GEMM kernels behind the three dense products (forward, input gradient, weight gradient), as templates
// over the operand layouts; each of gemm_forward.cu, gemm_backward_input.cu and gemm_backward_weight.cu
// instantiates its own layout.
//
// C[M,N] = epilogue(op(A)[M,K] . op(B)[K,N]), all row-major; op(A) is A or A^T (TA), op(B) is B or B^T (TB).
//
// How the fast kernels are made fast:
//  - block tiles BMxBN staged through shared memory in BK-deep slices, double-buffered: the next slice is
//    fetched from global memory into registers while the current one is multiplied, then stored to the other
//    buffer, so one __syncthreads per slice and global latency hidden behind the FMAs;
//  - 16-byte (float4) global loads along whichever dimension is contiguous in memory (K for a row-major A,
//    M for a transposed A, N for row-major B, K for transposed B), with a scalar fallback at ragged edges and
//    for leading dimensions that are not multiples of 4; tiles are stored K-major in shared memory ([BK][BM])
//    so the inner loop reads float4 fragments of both operands. Bank conflicts: rows of a tile are padded so
//    that row k starts 8 banks after row k-1 for BK = 16 (TF32 fragment loads: lanes t4 = 0..3 read rows
//    k..k+3 at 8 columns g, 32 distinct banks) and 4 banks after it for BK = 8 (the FP32 128x128 tile). A
//    transposing store (K contiguous in memory, M or N in shared memory) has a warp hold 8 columns x 4 groups
//    of 4 k; with the 8-bank row offset, rows 4 apart share banks, so in store step j the thread of k-group q
//    writes row 4q + (j + q) % 4 rather than 4q + j: the 4 groups then hit 4 different 8-bank ranges, 32
//    distinct banks per step (written straight, step j of every group lands in one range: 4-way conflicts);
//  - FP32: register blocking, each thread accumulating a TMxTN (8x8 or 4x4) block of C as outer products of
//    two float4-loaded fragments whose rows/columns are interleaved (ty*4 + c*BM/(TM/4)) so a quarter warp
//    reads 128 contiguous bytes;
//  - TF32 (precision setting): mma.sync.m16n8k8 tensor-core instructions, operands rounded to TF32 (cvt.rna)
//    once when stored to shared memory, FP32 accumulation, warps arranged WMxWN over the block tile;
//  - tile shapes 128x128 (big squares), 64x64 and 32x32 (32-row batches, narrow outputs), chosen at run time,
//    and split-K across gridDim.z when the tiles alone cannot fill the SMs (32x784x128 gives 4 tiles of 32x32:
//    split 10 ways over K it runs 40 blocks). Split-K is reduced deterministically without float atomics:
//    each split writes its partial tile to a workspace, the last block to arrive at a tile (integer atomic
//    counter) sums the partials in split order 0..S-1 and runs the epilogue; results repeat bit for bit;
//  - row tiles along blockIdx.x (up to 2^31 - 1) and column tiles along blockIdx.y (up to 65535), so any
//    number of rows fits (with M on gridDim.y, 65535 row tiles stopped it at about 2 million rows of 32);
//  - the epilogue (bias + activation + dropout, or activation derivative) runs in registers on the finished
//    sums, so the output is written once and no separate elementwise kernel reads it back.
// The simple variant (one thread per output, FP32, no shared memory) is kept as a reference for benchmarks.
#pragma once
#include "common.cuh"

namespace d4j {
namespace gk {

struct Params {
    const float* A; const float* B; float* C;
    int M, N, K, lda, ldb, ldc;
    int a_rows;          // rows of op(A) read from memory (M, or M-1 when the last row is implicit ones)
    int vec_a, vec_b;    // float4 loads allowed
    int k_chunk;         // K range of one split (multiple of 16)
    float* ws; unsigned* counters;
    Epilogue ep;
};

// Output tile (m0, n0) of this block: row tiles along blockIdx.x (up to 2^31 - 1, so any M fits), column tiles
// along blockIdx.y (65535 at most: N up to 1 million even for the 16-wide tiles of the simple kernel).
template <int BM, int BN>
__device__ __forceinline__ void tile_origin(const Params& p, int& m0, int& n0) {
    m0 = (int)blockIdx.x * BM;
    n0 = (int)blockIdx.y * BN;
}

__device__ __forceinline__ float to_tf32(float x) {
#ifdef D4J_CUDA_EMULATION
    return ::d4j_emu::cvt_rna_tf32(x);
#else
    uint32_t r;
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
    return __uint_as_float(r);
#endif
}


template <bool TA>
__device__ __forceinline__ float ld_a(const Params& p, int m, int k, int kend) {
    if (m >= p.M || k >= kend) return 0.f;
    if (TA) {
        if (m >= p.a_rows) return 1.f;
        return __ldg(p.A + (size_t)k * p.lda + m);
    }
    return __ldg(p.A + (size_t)m * p.lda + k);
}
template <bool TB>
__device__ __forceinline__ float ld_b(const Params& p, int k, int n, int kend) {
    if (n >= p.N || k >= kend) return 0.f;
    return TB ? __ldg(p.B + (size_t)n * p.ldb + k) : __ldg(p.B + (size_t)k * p.ldb + n);
}

// The dropout key of the epilogue's layer at this step (dense4j_dropout.h), read once per thread before its
// elements are written: each element then costs one hash, not four.
__device__ __forceinline__ uint64_t epilogue_dropout_key(const Params& p) {
    return p.ep.drop > 0.f ? dropout_key(p.ep.st->seed, p.ep.st->step, p.ep.layer) : 0;
}

// Writes one finished element through the epilogue (key: epilogue_dropout_key(p)).
__device__ __forceinline__ void epilogue_store(const Params& p, uint64_t key, int r, int c, float v) {
    const Epilogue& e = p.ep;
    size_t o = (size_t)r * p.ldc + c;
    if (e.mode == EPI_FORWARD) {
        if (e.bias) v += __ldg(e.bias + c);
        if (e.z) e.z[o] = v;
        float a = act_forward(e.act, v);
        if (e.y_keep) e.y_keep[o] = a;
        if (e.drop > 0.f) a *= dropout_factor(key, (uint64_t)r * p.N + c, e.drop);
        p.C[o] = a;
    } else if (e.mode == EPI_BACKWARD) {
        if (e.drop > 0.f) v *= dropout_factor(key, (uint64_t)r * p.N + c, e.drop);
        if (e.act != D4J_CUDA_ACT_LINEAR) v *= act_grad(e.act, e.zin ? e.zin[o] : 0.f, e.y[o]);
        p.C[o] = v;
    } else {
        p.C[o] = v;
    }
}

// Split-K: called by every block after it wrote its partial tile to ws[blockIdx.z]. The last block to arrive
// sums the S partials in split order (deterministic) and applies the epilogue.
template <int BM, int BN, int NT>
__device__ void splitk_finish(const Params& p, int m0, int n0) {
    __shared__ int is_last;
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) {
        unsigned tile = blockIdx.y * gridDim.x + blockIdx.x;
        unsigned prev = atomicAdd(&p.counters[tile], 1u);
        is_last = prev == gridDim.z - 1;
        if (is_last) p.counters[tile] = 0;  // ready for the next launch (graph replays)
    }
    __syncthreads();
    if (!is_last) return;
    __threadfence();
    const size_t plane = (size_t)p.M * p.N;
    const uint64_t key = epilogue_dropout_key(p);
    for (int e = threadIdx.x; e < BM * BN; e += NT) {
        int r = m0 + e / BN, c = n0 + e % BN;
        if (r >= p.M || c >= p.N) continue;
        const float* src = p.ws + (size_t)r * p.N + c;
        float s = 0.f;
        for (unsigned z = 0; z < gridDim.z; ++z) s += __ldcg(src + z * plane);
        epilogue_store(p, key, r, c, s);
    }
}

__device__ __forceinline__ void emit(const Params& p, uint64_t key, int r, int c, float v) {
    if (r >= p.M || c >= p.N) return;
    if (gridDim.z == 1) epilogue_store(p, key, r, c, v);
    else p.ws[(size_t)blockIdx.z * p.M * p.N + (size_t)r * p.N + c] = v;
}

// Global -> registers -> shared memory staging of one BK slice of both operands.
template <bool TA, bool TB, int BM, int BN, int BK, int NT, int PAD, bool TF32>
struct TileLoader {
    static constexpr int SA = BM + PAD, SB = BN + PAD;
    static constexpr int A_VEC = BM * BK / 4, B_VEC = BN * BK / 4;
    static constexpr int A_PER = A_VEC / NT, B_PER = B_VEC / NT;
    static_assert(A_VEC % NT == 0 && B_VEC % NT == 0, "tile not divisible among threads");
    float4 ra[A_PER], rb[B_PER];

    __device__ __forceinline__ void fetch(const Params& p, int m0, int n0, int k0, int kend) {
        const int tid = threadIdx.x;
#pragma unroll
        for (int i = 0; i < A_PER; ++i) {
            int idx = tid + i * NT;
            if (!TA) {
                int m = idx / (BK / 4), kq = (idx % (BK / 4)) * 4, gm = m0 + m, gk = k0 + kq;
                if (p.vec_a && gm < p.M && gk + 3 < kend)
                    ra[i] = __ldg(reinterpret_cast<const float4*>(p.A + (size_t)gm * p.lda + gk));
                else
                    ra[i] = make_float4(ld_a<TA>(p, gm, gk, kend), ld_a<TA>(p, gm, gk + 1, kend),
                                        ld_a<TA>(p, gm, gk + 2, kend), ld_a<TA>(p, gm, gk + 3, kend));
            } else {
                int k = idx / (BM / 4), mq = (idx % (BM / 4)) * 4, gm = m0 + mq, gk = k0 + k;
                if (p.vec_a && gm + 3 < p.a_rows && gk < kend)
                    ra[i] = __ldg(reinterpret_cast<const float4*>(p.A + (size_t)gk * p.lda + gm));
                else
                    ra[i] = make_float4(ld_a<TA>(p, gm, gk, kend), ld_a<TA>(p, gm + 1, gk, kend),
                                        ld_a<TA>(p, gm + 2, gk, kend), ld_a<TA>(p, gm + 3, gk, kend));
            }
        }
#pragma unroll
        for (int i = 0; i < B_PER; ++i) {
            int idx = tid + i * NT;
            if (!TB) {
                int k = idx / (BN / 4), nq = (idx % (BN / 4)) * 4, gn = n0 + nq, gk = k0 + k;
                if (p.vec_b && gn + 3 < p.N && gk < kend)
                    rb[i] = __ldg(reinterpret_cast<const float4*>(p.B + (size_t)gk * p.ldb + gn));
                else
                    rb[i] = make_float4(ld_b<TB>(p, gk, gn, kend), ld_b<TB>(p, gk, gn + 1, kend),
                                        ld_b<TB>(p, gk, gn + 2, kend), ld_b<TB>(p, gk, gn + 3, kend));
            } else {
                int n = idx / (BK / 4), kq = (idx % (BK / 4)) * 4, gn = n0 + n, gk = k0 + kq;
                if (p.vec_b && gn < p.N && gk + 3 < kend)
                    rb[i] = __ldg(reinterpret_cast<const float4*>(p.B + (size_t)gn * p.ldb + gk));
                else
                    rb[i] = make_float4(ld_b<TB>(p, gk, gn, kend), ld_b<TB>(p, gk + 1, gn, kend),
                                        ld_b<TB>(p, gk + 2, gn, kend), ld_b<TB>(p, gk + 3, gn, kend));
            }
        }
    }

    static __device__ __forceinline__ float cv(float x) { return TF32 ? to_tf32(x) : x; }
    static __device__ __forceinline__ float4 cv4(float4 v) { return make_float4(cv(v.x), cv(v.y), cv(v.z), cv(v.w)); }

    // Transposing store of v = 4 consecutive k (kq..kq+3) of column col into a K-major tile with row stride S.
    // With BK = 16 a warp spans 4 groups of k and rows 4 apart share banks: group q writes its rows in the order
    // rotated by q, so each of the 4 store instructions touches 4 different 8-bank ranges (see the header).
    template <int S>
    static __device__ __forceinline__ void store_kmajor(float* t, int kq, int col, float4 v) {
        constexpr bool kRotate = BK == 16;
        const int q = kRotate ? (kq >> 2) & 3 : 0;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int r = (j + q) & 3;
            const float e = r == 0 ? v.x : r == 1 ? v.y : r == 2 ? v.z : v.w;
            t[(kq + r) * S + col] = cv(e);
        }
    }

    __device__ __forceinline__ void store(float* As, float* Bs) const {
        const int tid = threadIdx.x;
#pragma unroll
        for (int i = 0; i < A_PER; ++i) {
            int idx = tid + i * NT;
            if (!TA) {
                int m = idx / (BK / 4), kq = (idx % (BK / 4)) * 4;
                store_kmajor<SA>(As, kq, m, ra[i]);
            } else {
                int k = idx / (BM / 4), mq = (idx % (BM / 4)) * 4;
                *reinterpret_cast<float4*>(As + k * SA + mq) = cv4(ra[i]);
            }
        }
#pragma unroll
        for (int i = 0; i < B_PER; ++i) {
            int idx = tid + i * NT;
            if (!TB) {
                int k = idx / (BN / 4), nq = (idx % (BN / 4)) * 4;
                *reinterpret_cast<float4*>(Bs + k * SB + nq) = cv4(rb[i]);
            } else {
                int n = idx / (BK / 4), kq = (idx % (BK / 4)) * 4;
                store_kmajor<SB>(Bs, kq, n, rb[i]);
            }
        }
    }
};

// ---- FP32 SIMT kernel: BMxBN tile, BK slices, TMxTN register block per thread ----------------------------
template <bool TA, bool TB, int BM, int BN, int BK, int TM, int TN>
__global__ void __launch_bounds__((BM / TM) * (BN / TN), 2) gemm_simt(Params p) {
    // Row padding (see the header): 8 banks between rows for BK = 16 (rotated transposing stores), 4 for BK = 8.
    constexpr int NT = (BM / TM) * (BN / TN), PAD = BK == 16 ? 8 : 4;
    using Loader = TileLoader<TA, TB, BM, BN, BK, NT, PAD, false>;
    constexpr int SA = Loader::SA, SB = Loader::SB;
    constexpr int CM = TM / 4, CN = TN / 4;  // float4 chunks per thread along M and N
    __shared__ __align__(16) float As[2][BK * SA];
    __shared__ __align__(16) float Bs[2][BK * SB];

    const int tid = threadIdx.x, tx = tid % (BN / TN), ty = tid / (BN / TN);
    int m0, n0;
    tile_origin<BM, BN>(p, m0, n0);
    const int kbeg = blockIdx.z * p.k_chunk, kend = min(p.K, kbeg + p.k_chunk);
    float acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = 0.f;

    if (kbeg < kend) {
        Loader ld;
        ld.fetch(p, m0, n0, kbeg, kend);
        ld.store(As[0], Bs[0]);
        __syncthreads();
        int cur = 0;
        for (int k0 = kbeg; k0 < kend; k0 += BK) {
            const bool next = k0 + BK < kend;
            if (next) ld.fetch(p, m0, n0, k0 + BK, kend);
            const float* as = As[cur];
            const float* bs = Bs[cur];
#pragma unroll
            for (int kk = 0; kk < BK; ++kk) {
                float a[TM], b[TN];
#pragma unroll
                for (int c = 0; c < CM; ++c) {
                    float4 v = *reinterpret_cast<const float4*>(as + kk * SA + c * (BM / CM) + ty * 4);
                    a[c * 4 + 0] = v.x; a[c * 4 + 1] = v.y; a[c * 4 + 2] = v.z; a[c * 4 + 3] = v.w;
                }
#pragma unroll
                for (int c = 0; c < CN; ++c) {
                    float4 v = *reinterpret_cast<const float4*>(bs + kk * SB + c * (BN / CN) + tx * 4);
                    b[c * 4 + 0] = v.x; b[c * 4 + 1] = v.y; b[c * 4 + 2] = v.z; b[c * 4 + 3] = v.w;
                }
#pragma unroll
                for (int i = 0; i < TM; ++i)
#pragma unroll
                    for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
            }
            if (next) ld.store(As[cur ^ 1], Bs[cur ^ 1]);
            __syncthreads();
            cur ^= 1;
        }
    }
    const uint64_t key = epilogue_dropout_key(p);
#pragma unroll
    for (int i = 0; i < TM; ++i) {
        int r = m0 + (i / 4) * (BM / CM) + ty * 4 + (i % 4);
#pragma unroll
        for (int j = 0; j < TN; ++j) emit(p, key, r, n0 + (j / 4) * (BN / CN) + tx * 4 + (j % 4), acc[i][j]);
    }
    if (gridDim.z > 1) splitk_finish<BM, BN, NT>(p, m0, n0);
}

// ---- TF32 tensor-core kernel: WMxWN warps, each a (BM/WM)x(BN/WN) tile of m16n8k8 MMAs ------------------
__device__ __forceinline__ void mma_tf32(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
#ifdef D4J_CUDA_EMULATION
    ::d4j_emu::mma_m16n8k8_tf32(d, a, b);  // a warp-wide operation, emulated from the PTX fragment layout
#else
    asm volatile(
        "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
}

// Registers (nvcc 13.0 -Xptxas -v, sm_90): capped at 128 for 2 blocks per SM, the 128x128 tile spilled 60-72
// bytes (64 accumulators + 16 prefetch registers + fragments); with 1 block per SM it takes 160-177 registers and
// spills nothing. The 64x64 and 32x32 tiles keep 2 blocks per SM without spilling.
template <bool TA, bool TB, int BM, int BN, int BK, int WM, int WN>
__global__ void __launch_bounds__(WM * WN * 32, BM * BN >= 128 * 128 ? 1 : 2) gemm_tf32(Params p) {
    constexpr int NT = WM * WN * 32, PAD = 8;
    using Loader = TileLoader<TA, TB, BM, BN, BK, NT, PAD, true>;
    constexpr int SA = Loader::SA, SB = Loader::SB;
    constexpr int WTM = BM / WM, WTN = BN / WN, MI = WTM / 16, NI = WTN / 8;
    static_assert(MI >= 1 && NI >= 1 && BK % 8 == 0, "bad TF32 tile");
    __shared__ __align__(16) float As[2][BK * SA];
    __shared__ __align__(16) float Bs[2][BK * SB];

    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, g = lane >> 2, t4 = lane & 3;
    const int wy = warp / WN, wx = warp % WN;
    int m0, n0;
    tile_origin<BM, BN>(p, m0, n0);
    const int kbeg = blockIdx.z * p.k_chunk, kend = min(p.K, kbeg + p.k_chunk);
    float acc[MI][NI][4];
#pragma unroll
    for (int i = 0; i < MI; ++i)
#pragma unroll
        for (int j = 0; j < NI; ++j)
#pragma unroll
            for (int r = 0; r < 4; ++r) acc[i][j][r] = 0.f;

    if (kbeg < kend) {
        Loader ld;
        ld.fetch(p, m0, n0, kbeg, kend);
        ld.store(As[0], Bs[0]);
        __syncthreads();
        int cur = 0;
        for (int k0 = kbeg; k0 < kend; k0 += BK) {
            const bool next = k0 + BK < kend;
            if (next) ld.fetch(p, m0, n0, k0 + BK, kend);
            const float* as = As[cur];
            const float* bs = Bs[cur];
#pragma unroll
            for (int kk = 0; kk < BK; kk += 8) {
                // All B fragments of the slice, then one A fragment at a time: 4 live A registers instead of
                // 4 * MI keeps the 128x128 tile (64 accumulators + the prefetched next slice) out of local memory.
                uint32_t b[NI][2];
#pragma unroll
                for (int ni = 0; ni < NI; ++ni) {
                    int nb = wx * WTN + ni * 8 + g;
                    b[ni][0] = __float_as_uint(bs[(kk + t4) * SB + nb]);
                    b[ni][1] = __float_as_uint(bs[(kk + t4 + 4) * SB + nb]);
                }
#pragma unroll
                for (int mi = 0; mi < MI; ++mi) {
                    int mb = wy * WTM + mi * 16 + g;
                    uint32_t a[4];
                    a[0] = __float_as_uint(as[(kk + t4) * SA + mb]);
                    a[1] = __float_as_uint(as[(kk + t4) * SA + mb + 8]);
                    a[2] = __float_as_uint(as[(kk + t4 + 4) * SA + mb]);
                    a[3] = __float_as_uint(as[(kk + t4 + 4) * SA + mb + 8]);
#pragma unroll
                    for (int ni = 0; ni < NI; ++ni) mma_tf32(acc[mi][ni], a, b[ni]);
                }
            }
            if (next) ld.store(As[cur ^ 1], Bs[cur ^ 1]);
            __syncthreads();
            cur ^= 1;
        }
    }
    const uint64_t key = epilogue_dropout_key(p);
#pragma unroll
    for (int mi = 0; mi < MI; ++mi)
#pragma unroll
        for (int ni = 0; ni < NI; ++ni)
#pragma unroll
            for (int r = 0; r < 4; ++r)
                emit(p, key, m0 + wy * WTM + mi * 16 + g + (r >= 2 ? 8 : 0), n0 + wx * WTN + ni * 8 + 2 * t4 + (r & 1),
                     acc[mi][ni][r]);
    if (gridDim.z > 1) splitk_finish<BM, BN, NT>(p, m0, n0);
}

// ---- simple reference kernel: one thread per output element ----------------------------------------------
template <bool TA, bool TB>
__global__ void gemm_naive(Params p) {
    int m0, n0;
    tile_origin<16, 16>(p, m0, n0);
    int c = n0 + threadIdx.x % 16, r = m0 + threadIdx.x / 16;
    if (r >= p.M || c >= p.N) return;
    float acc = 0.f;
    for (int k = 0; k < p.K; ++k) acc = fmaf(ld_a<TA>(p, r, k, p.K), ld_b<TB>(p, k, c, p.K), acc);
    epilogue_store(p, epilogue_dropout_key(p), r, c, acc);
}

// Tile configurations: 0 = 128x128, 1 = 64x64, 2 = 32x32, 3 = simple.
constexpr int kCfgBM[4] = {128, 64, 32, 16};
constexpr int kCfgBN[4] = {128, 64, 32, 16};

template <bool TA, bool TB>
cudaError_t launch(const GemmCall& c, const GemmPlan& pl, const GemmWorkspace& w, cudaStream_t s) {
    Params p;
    p.A = c.A; p.B = c.B; p.C = c.C;
    p.M = c.M; p.N = c.N; p.K = c.K; p.lda = c.lda; p.ldb = c.ldb; p.ldc = c.ldc;
    p.a_rows = c.a_ones_row ? c.M - 1 : c.M;
    p.vec_a = (c.lda % 4 == 0) && ((uintptr_t)c.A % 16 == 0);
    p.vec_b = (c.ldb % 4 == 0) && ((uintptr_t)c.B % 16 == 0);
    p.k_chunk = pl.k_chunk;
    p.ws = w.ws; p.counters = w.counters;
    p.ep = c.ep;
    if (pl.tiles_n > 65535) return cudaErrorInvalidConfiguration;  // N > 65535 tiles (gemm() reports it first)
    dim3 grid(pl.tiles_m, pl.tiles_n, pl.splits);
    const bool tf32 = c.precision == D4J_CUDA_PRECISION_TF32;
    switch (pl.cfg) {
        case 0:
            if (tf32) D4J_LAUNCH(grid, 256, 0, s, gemm_tf32<TA, TB, 128, 128, 16, 2, 4>)(p);
            else D4J_LAUNCH(grid, 256, 0, s, gemm_simt<TA, TB, 128, 128, 8, 8, 8>)(p);
            break;
        case 1:
            if (tf32) D4J_LAUNCH(grid, 128, 0, s, gemm_tf32<TA, TB, 64, 64, 16, 2, 2>)(p);
            else D4J_LAUNCH(grid, 256, 0, s, gemm_simt<TA, TB, 64, 64, 16, 4, 4>)(p);
            break;
        case 2:
            if (tf32) D4J_LAUNCH(grid, 128, 0, s, gemm_tf32<TA, TB, 32, 32, 16, 2, 2>)(p);
            else D4J_LAUNCH(grid, 64, 0, s, gemm_simt<TA, TB, 32, 32, 16, 4, 4>)(p);
            break;
        default:
            D4J_LAUNCH(grid, 256, 0, s, gemm_naive<TA, TB>)(p);
            break;
    }
    return cudaGetLastError();
}

}  // namespace gk
}  // namespace d4j
