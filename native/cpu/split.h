// How one product of a dense layer is cut into chunks for the thread pool. Outputs are split, never the
// reduction, so every element is computed by exactly one chunk with the same arithmetic whatever the split:
// results do not depend on the thread count.
#pragma once
#include <algorithm>
#include <cstdint>
#include "thread_pool.h"

namespace d4j {

struct Block {
    int r0, r1, c0, c1;  // rows [r0, r1) x columns [c0, c1) of the output
};

struct Grid {
    int m = 1, n = 1;        // output extent
    int rows = 1, cols = 1;  // chunks along each
    int rh = 1, cw = 1;      // chunk height and width
    int count() const { return rows * cols; }
    // Chunks are numbered column block by column block (every row block of a column block, then the next), so
    // that a split of the chunks by count gives thread t of T the same share of the columns, [t/T, (t+1)/T),
    // whatever the number of row blocks.
    Block block(int i) const {
        const int c = i / rows, r = i % rows;
        return {r * rh, std::min(m, (r + 1) * rh), c * cw, std::min(n, (c + 1) * cw)};
    }
};

// A parallel region costs about a microsecond of hand-offs: below PAR_MIN_FLOPS a product runs on one
// thread, and no chunk is made smaller than CHUNK_MIN_FLOPS. Up to 4 chunks per thread when there are that many
// column blocks, so that a thread that is late leaves work that the others take over.
constexpr double PAR_MIN_FLOPS = 4e5;
constexpr double CHUNK_MIN_FLOPS = 2e5;
constexpr int ROW_MIN = 24;  // rows per chunk when rows are split (4 row tiles of the kernels)

// Cuts an m x n output (flops of work in all) for `team` threads: column blocks that are multiples of
// col_unit first (a chunk then reads only its own block of the weights, which stays in its core's cache from
// step to step), rows only when there are too few column blocks. whole_rows: never split columns (softmax).
inline Grid plan(int m, int n, double flops, int col_unit, bool whole_rows, int team) {
    Grid g;
    g.m = m;
    g.n = n;
    g.rh = m;
    g.cw = n;
    if (team <= 1 || flops < PAR_MIN_FLOPS) return g;
    const int want = (int)std::min<double>(4.0 * team, std::max(2.0, flops / CHUNK_MIN_FLOPS));
    if (!whole_rows) {
        const int units = (n + col_unit - 1) / col_unit;
        const int cols = std::min(units, want);
        g.cw = (units + cols - 1) / cols * col_unit;
        g.cols = (n + g.cw - 1) / g.cw;
    }
    // Rows only when there are fewer column blocks than threads: a layer's forward and weight gradient then
    // split the same columns the same way, and each thread keeps its block of W (and of its optimizer state) in
    // its own core's cache from step to step (weight_grad_step assigns the blocks to the same threads).
    if (g.cols < team && m >= 2 * ROW_MIN) {
        const int rows = std::min(want / g.cols, m / ROW_MIN);
        g.rh = (m + rows - 1) / rows;
        g.rows = (m + g.rh - 1) / g.rh;
    }
    return g;
}

// Cuts an m x n output into bands of whole rows (multiples of row_unit rows) for `team` threads: each band is
// ONE contiguous piece of a row-major buffer, so two threads share at most the cache line at a band's edge. Why
// (the weight gradient and the optimizer update fused with it, which write dW, W and the optimizer state): a
// split by columns makes the threads write the two halves of every row, and whenever a row does not start on a
// 64-byte line (a buffer that is not 64-byte aligned, a row length that is not a multiple of 16 floats, or the
// state slices m, v, vmax, which start N floats apart) every row's edge line bounces between the cores: measured
// on the 2-core VM, the reference network's weight-gradient phase took 55-170 us per step at 2 threads with
// columns (50 us on one thread), 270-400 us with the buffers 16 bytes off a line. Even with every row's column
// boundary on a line, two cores updating interleaved column halves of a layer interfere: session 10 measured Adam on
// the two 64-column halves of the 784 x 128 layer at 19-24 us each (near vCPUs) and 78-101 us (far), against 10-16 us
// for the two row halves (column_step.h, the opt-in column-parallel step, which does split by columns: only layer
// 1's partial logits cross there, ~1.3 KB per 64-column block, but the update pays this).
inline Grid plan_bands(int m, int n, double flops, int row_unit, int max_bands);
inline Grid plan_rows(int m, int n, double flops, int row_unit, int team) {
    return plan_bands(m, n, flops, row_unit, team <= 1 ? 1 : 4 * team);
}

// The bands of plan_rows, at most max_bands of them (plan_rows: 4 per thread): also used for a part of the rows
// that a given subset of the threads owns (net.cpp, a layer whose training forward is split in input slices).
inline Grid plan_bands(int m, int n, double flops, int row_unit, int max_bands) {
    Grid g;
    g.m = m;
    g.n = n;
    g.rh = m;
    g.cw = n;
    if (max_bands <= 1 || flops < PAR_MIN_FLOPS || m < 2 * row_unit) return g;
    const int want = (int)std::min<double>(max_bands, std::max(2.0, flops / CHUNK_MIN_FLOPS));
    const int units = (m + row_unit - 1) / row_unit;
    g.rh = (units + want - 1) / want * row_unit;
    g.rows = (m + g.rh - 1) / g.rh;
    return g;
}

// A layer's weight-gradient bands when its training forward runs in two slices of its inputs (rows [0, mid) of W
// and rows [mid, in), net.cpp ForwardSplitK) on a team of T >= 2: the bands of each slice apart (plan_bands, up to
// 4 per thread), slice 0 owned by threads [0, T/2) and slice 1 by [T/2, T), as the forward's chunks fall. Then
// the threads that computed a slice's partial product also compute its rows' weight gradient and update, and
// those rows of W and of the optimizer state stay in their cores' caches. With mid = 0, the bands of plan_rows.
struct SliceBands {
    Grid lo, hi;  // hi: the rows from mid on, when mid > 0
    int mid = 0;
    int count() const { return lo.count() + (mid > 0 ? hi.count() : 0); }
    Block block(int i) const {
        if (i < lo.count()) return lo.block(i);
        Block b = hi.block(i - lo.count());
        b.r0 += mid;
        b.r1 += mid;
        return b;
    }
    // the thread that starts with band i on a team of T (the T of plan_slice_bands, or fewer when mid = 0)
    int home(int i, int T) const {
        if (mid <= 0) return home_thread(lo.count(), std::min(T, lo.count()), i);
        const int t0 = T / 2;
        if (i < lo.count()) return home_thread(lo.count(), std::min(t0, lo.count()), i);
        return t0 + home_thread(hi.count(), std::min(T - t0, hi.count()), i - lo.count());
    }
};

// rows: the batch rows (the work of a band is 2 * rows * its rows * n); mid outside (0, m) or team < 2: plan_rows.
inline SliceBands plan_slice_bands(int m, int n, int rows, int mid, int row_unit, int team) {
    SliceBands b;
    if (team < 2 || mid <= 0 || mid >= m) {
        b.lo = plan_rows(m, n, 2.0 * rows * m * n, row_unit, team);
        return b;
    }
    const int t0 = team / 2, t1 = team - t0;
    b.mid = mid;
    b.lo = plan_bands(mid, n, 2.0 * rows * mid * n, row_unit, 4 * t0);
    b.hi = plan_bands(m - mid, n, 2.0 * rows * (m - mid) * n, row_unit, 4 * t1);
    return b;
}

// Piece c of `parts` of a batch gather (rows x cols, plus one label or target row per batch row): with mid = 0 a
// share of the rows, whole; with mid in (0, cols) and 2+ parts, the first parts / 2 pieces share the columns
// [0, mid) of the rows and their labels, the others the columns [mid, cols) (then each half of the team gathers
// the columns its own slice of a split-K first layer reads).
struct GatherPiece {
    int r0, r1, c0, c1;
    bool labels;
};
inline GatherPiece gather_piece(int rows, int cols, int c, int parts, int mid) {
    GatherPiece p{0, 0, 0, cols, true};
    if (mid > 0 && mid < cols && parts >= 2) {
        const int first = parts / 2;
        if (c >= first) {
            c -= first;
            parts -= first;
            p.c0 = mid;
            p.labels = false;
        } else {
            parts = first;
            p.c1 = mid;
        }
    }
    p.r0 = (int)((int64_t)rows * c / parts);
    p.r1 = (int)((int64_t)rows * (c + 1) / parts);
    return p;
}

}  // namespace d4j
