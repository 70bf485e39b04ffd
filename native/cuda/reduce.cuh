// Deterministic reductions shared by the loss, norm and optimizer kernels: fixed-shape warp-shuffle trees,
// per-block partials in a workspace, and a "last block to arrive" finish (integer atomic counter, no float
// atomics), so totals repeat bit for bit whatever the scheduling. Also the per-step bookkeeping that lets a
// captured training step replay without the host: it runs in the loss kernel's last block.
#pragma once
#include "common.cuh"

namespace d4j {

__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// Sums a and b over the block (blockDim.x a multiple of 32, at most 1024); the result is valid in thread 0.
__device__ inline void block_sum2(double& a, double& b) {
    __shared__ double sa[32], sb[32];
    const int lane = threadIdx.x % 32, w = threadIdx.x / 32, nw = blockDim.x / 32;
    a = warp_sum(a);
    b = warp_sum(b);
    if (lane == 0) { sa[w] = a; sb[w] = b; }
    __syncthreads();
    if (threadIdx.x == 0) {
        double ta = 0, tb = 0;
        for (int i = 0; i < nw; ++i) { ta += sa[i]; tb += sb[i]; }
        a = ta; b = tb;
    }
    __syncthreads();
}

// Publishes this block's (a, b) and returns true in thread 0 of the last block to arrive, with the totals
// summed in block order. Every thread of every block must call it.
__device__ inline bool grid_sum2_last(LossWork w, double& a, double& b) {
    block_sum2(a, b);
    __shared__ int last;
    if (threadIdx.x == 0) {
        w.partial[2 * blockIdx.x] = a;
        w.partial[2 * blockIdx.x + 1] = b;
        __threadfence();
        unsigned prev = atomicAdd(w.counter, 1u);
        last = prev == gridDim.x - 1;
        if (last) {
            __threadfence();
            double ta = 0, tb = 0;
            for (unsigned i = 0; i < gridDim.x; ++i) {
                ta += __ldcg(w.partial + 2 * i);
                tb += __ldcg(w.partial + 2 * i + 1);
            }
            a = ta; b = tb;
            *w.counter = 0;
        }
    }
    __syncthreads();
    return threadIdx.x == 0 && last;
}

// Called by the single thread that holds the totals of a loss over n rows.
__device__ inline void loss_sink(const LossSink& s, double loss, double correct, int n) {
    DevState* st = s.st;
    if (!s.lrs) {  // evaluation / single op: just accumulate
        st->loss_sum += loss; st->correct += correct; st->rows += n;
        if (!isfinite(loss)) st->nonfinite = 1;
        return;
    }
    if (st->bad_label) {
        // a label outside [0, k) in this call (check_labels ran first): no update at all, the host reports it
    } else if (st->nonfinite || !isfinite(loss)) {
        st->nonfinite = 1;  // this and later updates are skipped; the host reports D4J_CUDA_ERR_NONFINITE
    } else {
        st->loss_sum += loss; st->correct += correct; st->rows += n;
        int64_t t = st->step + 1;
        st->t = t;
        st->lr = s.lrs[st->batch_index];
        if (s.optimizer == D4J_CUDA_OPT_ADAM || s.optimizer == D4J_CUDA_OPT_ADAMW) {
            st->bc1 = 1.0 - pow((double)s.beta1, (double)t);
            st->bc2 = 1.0 - pow((double)s.beta2, (double)t);
        }
        st->clip_factor = 1.f;
    }
    st->batch_index += 1;
}

inline int grid_for(long long work, int per_block, int max_blocks = kLossBlocksMax) {
    long long b = (work + per_block - 1) / per_block;
    if (b < 1) b = 1;
    if (b > max_blocks) b = max_blocks;
    return (int)b;
}

}  // namespace d4j
