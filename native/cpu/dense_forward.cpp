// Dense layer forward: z = x.W + b, y = act(z), x [n,in], W [in,out] (Keras layout), row-major.
// Fast because the product is our register-blocked kernel for the CPU's instruction set (gemm_tiles.inc:
// weights read in place, no packing, which is what small batches need) with the bias add and relu fused into
// its register epilogue; other activations are one pass over the block the kernel just wrote, still in L1;
// and a product big enough to share is cut into column blocks (rows too for large batches) run by the
// thread pool, each block computed entirely by one thread, so the result is the same for any thread count.
// Softmax is a max / exp-sum / divide per row (stable: x - max); its blocks are whole rows.
#include <algorithm>
#include "activations.h"
#include "gemm_kernels.h"
#include "internal.h"
#include "split.h"

namespace d4j {

// act(y) in place over a block whose y holds the pre-activation (relu and linear are done by the kernel)
static void activate_block(float* y, int64_t ld, int rows, int cols, int act) {
    for (int r = 0; r < rows; r++) {
        float* yr = y + r * ld;
        switch (act) {
            case D4J_ACT_SIGMOID:
                for (int j = 0; j < cols; j++) yr[j] = sigmoid(yr[j]);
                break;
            case D4J_ACT_TANH:
                for (int j = 0; j < cols; j++) yr[j] = std::tanh(yr[j]);
                break;
            case D4J_ACT_GELU:
                for (int j = 0; j < cols; j++) yr[j] = gelu(yr[j]);
                break;
            case D4J_ACT_SOFTMAX: {  // cols is the whole row here
                float mx = -INFINITY;
                bool nan = false;
                for (int j = 0; j < cols; j++) {
                    mx = std::max(mx, yr[j]);
                    nan |= yr[j] != yr[j];
                }
                if (nan || mx == INFINITY) mx = 0.0f;  // let NaN / inf propagate instead of inf - inf
                double sum = 0.0;
                for (int j = 0; j < cols; j++) {
                    const float e = std::exp(yr[j] - mx);
                    yr[j] = e;
                    sum += e;
                }
                const float s = (float)sum;
                for (int j = 0; j < cols; j++) yr[j] = yr[j] / s;
                break;
            }
            default: return;
        }
    }
}

void dense_forward_block(const GemmKernels& k, const float* x, const float* w, const float* b, float* z, float* y,
                         int in, int out, int act, const Block& blk) {
    const int64_t o = (int64_t)blk.r0 * out + blk.c0;
    NNArgs a;
    a.a = x + (int64_t)blk.r0 * in;
    a.lda = in;
    a.b = w + blk.c0;
    a.ldb = out;
    a.bias = b + blk.c0;
    a.z = z ? z + o : nullptr;
    a.y = y + o;
    a.ldc = out;
    a.m = blk.r1 - blk.r0;
    a.n = blk.c1 - blk.c0;
    a.k = in;
    a.relu = act == D4J_ACT_RELU;
    k.nn(a);
    if (act != D4J_ACT_LINEAR && act != D4J_ACT_RELU) activate_block(y + o, out, a.m, a.n, act);
}

Grid forward_grid(const GemmKernels& k, int n, int in, int out, int act, int team) {
    return plan(n, out, 2.0 * n * in * out, k.col_block, act == D4J_ACT_SOFTMAX, team);
}

namespace {
struct ForwardJob {
    const GemmKernels* k;
    const float *x, *w, *b;
    float *z, *y;
    int in, out, act;
    Grid g;
    static void run(void* p, int i) {
        const ForwardJob& j = *static_cast<const ForwardJob*>(p);
        dense_forward_block(*j.k, j.x, j.w, j.b, j.z, j.y, j.in, j.out, j.act, j.g.block(i));
    }
};
}  // namespace

void dense_forward(const float* x, const float* w, const float* b, float* z, float* y,
                   int n, int in, int out, int act) {
    const GemmKernels& k = gemm_kernels();
    ForwardJob job{&k, x, w, b, z, y, in, out, act, forward_grid(k, n, in, out, act, team_size())};
    parallel(Region{ForwardJob::run, &job, job.g.count(), nullptr, 2.0 * n * in * out});
}

}  // namespace d4j

extern "C" void d4j_dense_forward(const float* x, const float* w, const float* b, float* z, float* y,
                                  int n, int in, int out, int act) {
    if (!x || !w || !b || !y || n <= 0 || in <= 0 || out <= 0 || !d4j::valid_act(act)) return;
    d4j::dense_forward(x, w, b, z, y, n, in, out, act);
}
