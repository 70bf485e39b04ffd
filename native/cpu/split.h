// How one product of a dense layer is cut into chunks for the thread pool. Outputs are split, never the
// reduction, so every element is computed by exactly one chunk with the same arithmetic whatever the split:
// results do not depend on the thread count.
#pragma once
#include <algorithm>
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
    // whatever the number of row blocks: a layer's forward (rows = batch rows) and weight gradient (rows = rows
    // of W) then hand each thread about the same columns of W (forward_owner makes it exact).
    Block block(int i) const {
        const int c = i / rows, r = i % rows;
        return {r * rh, std::min(m, (r + 1) * rh), c * cw, std::min(n, (c + 1) * cw)};
    }
};

// Cache affinity between a layer's forward and its weight gradient: the thread that started, in the forward
// region (grid `fwd`, split by count over `threads`: home_chunks), on the block holding the first column of
// chunk i of the weight-gradient grid `wg`, at the same fraction of the rows. That thread has just read those
// columns of W (and, last step, updated them and their optimizer state): giving it chunk i first keeps that part
// of W in one core's cache instead of moving it between cores every step.
inline int forward_owner(const Grid& fwd, int threads, const Grid& wg, int i) {
    const int c = i / wg.rows, r = i % wg.rows;
    const int fc = std::min(fwd.cols - 1, c * wg.cw / fwd.cw);
    const int fr = (int)((int64_t)r * fwd.rows / wg.rows);
    return home_thread(fwd.count(), std::max(1, std::min(threads, fwd.count())), fc * fwd.rows + fr);
}

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

}  // namespace d4j
