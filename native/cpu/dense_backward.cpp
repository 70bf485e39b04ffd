// Dense layer backward: dW = x^T.dz, db = column sums of dz, dx = dz.W^T (skipped for the first layer).
// Fast because both products are our register-blocked kernels (gemm_tiles.inc) on the row-major buffers as
// they are (no transposed copies, no packing); db is one streaming pass over dz adding whole rows into double
// accumulators (vectorised, deterministic, accurate for any batch); and the work is cut into blocks of dW
// (columns, and rows for large layers) and of dx for the thread pool, in ONE region, each block computed
// entirely by one thread, so results are the same for any thread count.
#include <cblas.h>
#include <algorithm>
#include <cctype>
#include <string>
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

void weight_grad_block(const GemmKernels& k, const float* x, const float* dz, float* dw, float* db, int n, int in,
                       int out, const Block& blk) {
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
    k.tn(a);
    if (blk.r0 == 0 && db) column_sums(dz, out, n, blk.c0, blk.c1, db);
}

// OpenBLAS's packed AVX-512 kernels (SkylakeX / Cooperlake / Sapphire Rapids, chosen by OpenBLAS at run time
// or by OPENBLAS_CORETYPE) beat our dot-product input-gradient kernel once both the batch and the layer are
// large (measured 512x1024x1024: 221 vs 131 GFLOP/s; at 32 rows ours is faster, and OpenBLAS's AVX2 kernels
// are slower than ours everywhere). So the input gradient goes to OpenBLAS, one single-threaded call per block,
// only then; the forward and weight-gradient kernels are ours at every size (as fast or faster).
static bool openblas_has_avx512_kernels() {
    static const bool yes = [] {
        std::string core = openblas_get_corename();
        for (char& c : core) c = (char)std::tolower((unsigned char)c);
        return core.find("skylakex") != std::string::npos || core.find("cooperlake") != std::string::npos ||
               core.find("sapphire") != std::string::npos;
    }();
    return yes;
}

bool input_grad_uses_openblas(const GemmKernels& k, int n, int out) {
    // only while OpenBLAS is on one thread (d4j_set_num_threads keeps it so): its own pool inside ours would
    // oversubscribe the cores
    return k.isa == ISA_AVX512 && n >= 128 && out >= 128 && openblas_has_avx512_kernels() &&
           openblas_get_num_threads() == 1;
}

void input_grad_block(const GemmKernels& k, const float* w, const float* dz, float* dx, int in, int out,
                      const Block& blk, bool openblas) {
    if (openblas) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blk.r1 - blk.r0, blk.c1 - blk.c0, out, 1.0f,
                    dz + (int64_t)blk.r0 * out, out, w + (int64_t)blk.c0 * out, out, 0.0f,
                    dx + (int64_t)blk.r0 * in + blk.c0, in);
        return;
    }
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
    k.nt(a);
}

// dW [in, out]: column blocks of the kernel's width, rows of dW when the layer is tall
Grid weight_grad_grid(const GemmKernels& k, int n, int in, int out, int team) {
    return plan(in, out, 2.0 * n * in * out, k.col_block, false, team);
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
    bool openblas;
    static void run(void* p, int i) {
        const BackwardJob& j = *static_cast<const BackwardJob*>(p);
        if (i < j.gw.count()) weight_grad_block(*j.k, j.x, j.dz, j.dw, j.db, j.n, j.in, j.out, j.gw.block(i));
        else input_grad_block(*j.k, j.w, j.dz, j.dx, j.in, j.out, j.gx.block(i - j.gw.count()), j.openblas);
    }
};
}  // namespace

void dense_backward(const float* x, const float* w, const float* dz, float* dw, float* db, float* dx,
                    int n, int in, int out) {
    const GemmKernels& k = gemm_kernels();
    const int team = team_size();
    BackwardJob job{&k, x, w, dz, dw, db, dx, n, in, out, weight_grad_grid(k, n, in, out, team), Grid{},
                    input_grad_uses_openblas(k, n, out)};
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
