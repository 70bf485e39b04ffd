// GEMM planning and dispatch: picks the tile configuration and the split-K factor for a problem size and the
// variant/precision settings, sizes the workspace, and calls the layout's kernel (gemm_forward.cu: NN,
// gemm_backward_input.cu: NT, gemm_backward_weight.cu: TN). Host code only.
#include "common.cuh"
#include <algorithm>
#include <cstdlib>

namespace d4j {

int sm_count() {
    static int cached[64] = {0};
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= 64) return 132;
    if (!cached[dev]) {
        int n = 0;
        if (cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess || n <= 0) n = 132;
        cached[dev] = n;
    }
    return cached[dev];
}

static int cdiv(int a, int b) { return (a + b - 1) / b; }

// Upper bound of the split-K factor (1..16, default 16): D4J_CUDA_MAX_SPLIT, read once, for tuning the planner on
// a given GPU (small batches are latency-bound: each split adds a partial-tile write and a reduction pass).
static int split_cap() {
    static const int cap = [] {
        const char* v = std::getenv("D4J_CUDA_MAX_SPLIT");
        int c = v ? std::atoi(v) : 16;
        return c < 1 ? 16 : std::min(c, 16);
    }();
    return cap;
}
static const int kBM[4] = {128, 64, 32, 16};

static void set_splits(GemmPlan& p, int K, int splits) {
    splits = std::max(1, splits);
    int chunk = cdiv(std::max(K, 1), splits);
    chunk = cdiv(chunk, 16) * 16;
    p.k_chunk = chunk;
    p.splits = std::max(1, cdiv(std::max(K, 1), chunk));
}

GemmPlan gemm_plan(const GemmCall& c, const GemmWorkspace* w) {
    GemmPlan p{};
    int cfg;
    if (c.variant == D4J_CUDA_GEMM_SIMPLE) cfg = 3;
    else if (c.variant == D4J_CUDA_GEMM_TILE_L) cfg = 0;
    else if (c.variant == D4J_CUDA_GEMM_TILE_M) cfg = 1;
    else if (c.variant == D4J_CUDA_GEMM_TILE_S) cfg = 2;
    else if (gemm_skinny_fits(c)) {
        // Few rows: latency-bound in tiles; the skinny kernel splits K inside each block instead (no workspace).
        p.cfg = 4; p.splits = 1; p.k_chunk = std::max(c.K, 1); p.tiles_m = 1; p.tiles_n = 1;
        return p;
    } else {
        // The biggest tile that, with at most 4-way split-K, still gives about one wave of blocks.
        const int sms = sm_count();
        const int max_split = std::max(1, std::min(split_cap(), c.K / 64));
        cfg = 2;
        for (int t = 0; t < 2; ++t) {
            long tiles = (long)cdiv(c.M, kBM[t]) * cdiv(c.N, kBM[t]);
            if (tiles * std::min(max_split, 4) >= sms) { cfg = t; break; }
        }
    }
    p.cfg = cfg;
    p.tiles_m = cdiv(c.M, kBM[cfg]);
    p.tiles_n = cdiv(c.N, kBM[cfg]);
    int splits = 1;
    if (cfg != 3) {
        const int sms = sm_count();
        long tiles = (long)p.tiles_m * p.tiles_n;
        const int max_split = std::max(1, std::min(split_cap(), c.K / 64));
        if (tiles < sms) splits = (int)std::min<long>(max_split, (sms + tiles - 1) / tiles);
        // Fit the workspace (or give up splitting).
        if (splits > 1) {
            size_t plane = (size_t)c.M * c.N;
            if (!w || !w->ws || !w->counters || tiles > w->n_counters) splits = 1;
            else splits = (int)std::min<size_t>(splits, w->ws_floats / std::max<size_t>(plane, 1));
        }
    }
    set_splits(p, c.K, cfg == 3 ? 1 : splits);
    if (cfg == 3) { p.splits = 1; p.k_chunk = std::max(c.K, 1); }
    return p;
}

size_t gemm_workspace_floats(int M, int N, int K) {
    // At most 16 splits; a fixed bound keeps the plan independent of the settings.
    int splits = std::max(1, std::min(16, K / 64));
    return (size_t)splits * M * N;
}

cudaError_t gemm(const GemmCall& c, const GemmWorkspace& w, cudaStream_t s) {
    if (c.M <= 0 || c.N <= 0) return cudaSuccess;
    GemmPlan p = gemm_plan(c, &w);
    if (p.cfg == 4) return gemm_skinny(c, s);
    if (!c.ta && !c.tb) return gemm_nn(c, p, w, s);
    if (!c.ta && c.tb) return gemm_nt(c, p, w, s);
    if (c.ta && !c.tb) return gemm_tn(c, p, w, s);
    return cudaErrorInvalidValue;
}

}  // namespace d4j
