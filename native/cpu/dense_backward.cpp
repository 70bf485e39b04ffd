// Dense layer backward: dW = x^T.dz, db = column sums of dz, dx = dz.W^T (skipped for the first layer).
// Fast because both products are our register-blocked kernels (gemm_tiles.inc) on the row-major buffers as
// they are (no transposed copies; only the input gradient of a large batch packs a panel of W per thread, see
// input_grad_packs); db is one streaming pass over dz adding whole rows into double
// accumulators (vectorised, deterministic, accurate for any batch); and the work is cut into blocks of dW
// (columns, and rows for large layers) and of dx for the thread pool, in ONE region, each block computed
// entirely by one thread, so results are the same for any thread count.
#include <algorithm>
#include "gemm_kernels.h"
#include "internal.h"
#include "split.h"

namespace d4j {

void column_sums(const float* dz, int64_t ld, int rows, int c0, int c1, float* db) {
    constexpr int BLOCK = 256;
    for (int j0 = c0; j0 < c1; j0 += BLOCK) {
        const int m = std::min(BLOCK, c1 - j0);
        double acc[BLOCK];
        for (int j = 0; j < m; j++) acc[j] = 0.0;
        for (int64_t r = 0; r < rows; r++) {
            const float* row = dz + r * ld + j0;
            for (int j = 0; j < m; j++) acc[j] += row[j];
        }
        for (int j = 0; j < m; j++) db[j0 + j] = (float)acc[j];
    }
}

int weight_grad_block(const GemmKernels& k, const float* x, const float* dz, float* dw, float* db, int n, int in,
                      int out, const Block& blk, float skip_zeros_below) {
    TNArgs a;
    a.x = x + blk.r0;
    a.ldx = in;
    a.dz = dz + blk.c0;
    a.lddz = out;
    a.dw = dw + (int64_t)blk.r0 * out + blk.c0;
    a.lddw = out;
    a.m = n;
    a.k = blk.r1 - blk.r0;
    a.n = blk.c1 - blk.c0;
    int sparse = 0;
    if (skip_zeros_below > 0.0f && n <= SX_MAX_ROWS) sparse = k.sx_weight_grad(a, skip_zeros_below);
    else k.tn(a);
    if (blk.r0 == 0 && db) column_sums(dz, out, n, blk.c0, blk.c1, db);
    return sparse;
}

// Which form of the input-gradient kernel a product uses (gemm_kernels.h NTArgs::packed), decided from the
// whole product, never per block, so that every block of it is computed the same way at any thread count.
// The packed form (a panel of W transposed once per thread, then the forward's broadcast-FMA tile) wins once
// the batch is large enough to pay for the transposition (from 128 rows with AVX-512, 32 with AVX2, where it
// also matches or beats OpenBLAS's own AVX-512 kernels); the dot-product form wins for short batches.
// Measured by native/tests/bench_input_grad.cpp (benchmarks/RESULTS.md, "Input gradient").
bool input_grad_packs(const GemmKernels& k, int n, int out) {
    return k.nt_pack_rows > 0 && n >= k.nt_pack_rows;  // (narrow layers, out < 32, take nt's transposed path anyway)
}

void input_grad_block(const GemmKernels& k, const float* w, const float* dz, float* dx, int in, int out,
                      const Block& blk, bool packed) {
    NTArgs a;
    a.dz = dz + (int64_t)blk.r0 * out;
    a.lddz = out;
    a.w = w + (int64_t)blk.c0 * out;
    a.ldw = out;
    a.dx = dx + (int64_t)blk.r0 * in + blk.c0;
    a.lddx = in;
    a.m = blk.r1 - blk.r0;
    a.n = out;
    a.k = blk.c1 - blk.c0;
    a.packed = packed;
    k.nt(a);
}

// dW [in, out]: column blocks of the kernel's width, rows of dW when the layer is tall
// dW [in, out]: bands of whole rows (split.h plan_rows: contiguous pieces of dW, and of W and its optimizer state
// when the update is fused), 12 rows at a time: a multiple of every variant's rows per tile (TN_KR 4 or 6)
Grid weight_grad_grid(const GemmKernels&, int n, int in, int out, int team) {
    return plan_rows(in, out, 2.0 * n * in * out, 12, team);
}
SliceBands weight_grad_bands(const GemmKernels&, int n, int in, int out, int mid, int team) {
    return plan_slice_bands(in, out, n, mid, 12, team);
}
// dx [n, in]: blocks of input features (a block reads only its rows of W), batch rows for large batches
Grid input_grad_grid(int n, int in, int out, int team) {
    return plan(n, in, 2.0 * n * in * out, 16, false, team);
}

namespace {
struct BackwardJob {
    const GemmKernels* k;
    const float *x, *w, *dz;
    float *dw, *db, *dx;
    int n, in, out;
    Grid gw, gx;
    bool packed;
    static void run(void* p, int i) {
        const BackwardJob& j = *static_cast<const BackwardJob*>(p);
        if (i < j.gw.count()) weight_grad_block(*j.k, j.x, j.dz, j.dw, j.db, j.n, j.in, j.out, j.gw.block(i));
        else input_grad_block(*j.k, j.w, j.dz, j.dx, j.in, j.out, j.gx.block(i - j.gw.count()), j.packed);
    }
};
}  // namespace

void dense_backward(const float* x, const float* w, const float* dz, float* dw, float* db, float* dx,
                    int n, int in, int out) {
    const GemmKernels& k = gemm_kernels();
    const int team = team_size();
    BackwardJob job{&k, x, w, dz, dw, db, dx, n, in, out, weight_grad_grid(k, n, in, out, team), Grid{},
                    input_grad_packs(k, n, out)};
    job.gx = dx ? input_grad_grid(n, in, out, team) : Grid{};
    const int nw = job.gw.count(), nx = dx ? job.gx.count() : 0;
    const double work = 2.0 * n * in * out * (dx ? 2 : 1);
    if (nw + nx > 256) {  // too many to weigh on the stack (never with plan())
        parallel(Region{BackwardJob::run, &job, nw + nx, nullptr, work});
        return;
    }
    float cost[256];
    for (int i = 0; i < nw; i++) {
        const Block b = job.gw.block(i);
        cost[i] = (float)(b.r1 - b.r0) * (b.c1 - b.c0);
    }
    for (int i = 0; i < nx; i++) {
        const Block b = job.gx.block(i);
        cost[nw + i] = (float)(b.r1 - b.r0) * (b.c1 - b.c0) * out / n;
    }
    parallel(Region{BackwardJob::run, &job, nw + nx, cost, work});
}

}  // namespace d4j

extern "C" void d4j_dense_backward(const float* x, const float* w, const float* dz, float* dw, float* db,
                                   float* dx, int n, int in, int out) {
    if (!x || !dz || !dw || !db || (dx && !w) || n <= 0 || in <= 0 || out <= 0) return;
    d4j::dense_backward(x, w, dz, dw, db, dx, n, in, out);
}
