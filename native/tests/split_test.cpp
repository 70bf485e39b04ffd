// How products are cut into chunks (cpu/split.h) and which thread starts on which chunk (cpu/thread_pool.h):
// - every grid covers its output exactly once (each element in one block: results cannot depend on the split);
// - home_thread inverts home_chunks (the pool's split by count);
// - weight-gradient grids are bands of whole rows (contiguous pieces of dW, W and the optimizer state), for the
//   shapes of the benchmarks and awkward ones, at team sizes 1..16 and several row units;
// - a split-K layer's bands (SliceBands) stay inside its two input slices, on the threads of each slice;
// - a batch gather's pieces (gather_piece) copy every input and label once, in column slices when asked.
#include <string>
#include <vector>
#include "../cpu/split.h"
#include "test_util.h"

static std::string name(int rows, int in, int out, int team, int unit) {
    return std::to_string(rows) + "x" + std::to_string(in) + "x" + std::to_string(out) + " team " +
           std::to_string(team) + " unit " + std::to_string(unit);
}

static void covers_once(const d4j::Grid& g, const std::string& what) {
    std::vector<int> hits((size_t)g.m * g.n, 0);
    bool in_range = true;
    for (int i = 0; i < g.count(); i++) {
        const d4j::Block b = g.block(i);
        in_range &= b.r0 >= 0 && b.r0 < b.r1 && b.r1 <= g.m && b.c0 >= 0 && b.c0 < b.c1 && b.c1 <= g.n;
        if (!in_range) break;
        for (int r = b.r0; r < b.r1; r++)
            for (int c = b.c0; c < b.c1; c++) hits[(size_t)r * g.n + c]++;
    }
    bool once = in_range;
    for (int h : hits) once &= h == 1;
    t::expect(once, what + ": blocks do not cover the output exactly once");
}

// A split-K layer's weight-gradient bands (SliceBands): every row of W in exactly one band, whole rows, no band
// across the slice boundary, bands on the row unit from each slice's start, at most 4 per thread of the slice's
// half of the team, and each band's home thread in that half; mid = 0 (or a team of one) gives plan_rows exactly.
static void slice_bands() {
    int sliced = 0;
    for (int rows : {1, 31, 32, 33, 256})
        for (int in : {33, 256, 300, 784, 1000, 1024})
            for (int out : {1, 10, 31, 128, 1000})
                for (int team : {1, 2, 3, 4, 5, 16})
                    for (int mid : {0, 1, 12, in / 2, (in / 2 + 6) / 12 * 12, in - 1, in}) {
                        const std::string what = name(rows, in, out, team, 12) + " mid " + std::to_string(mid);
                        const d4j::SliceBands b = d4j::plan_slice_bands(in, out, rows, mid, 12, team);
                        const bool split = team >= 2 && mid > 0 && mid < in;
                        t::expect(split == (b.mid > 0), what + ": split when and only when the team and mid allow");
                        if (!split) {
                            const d4j::Grid g = d4j::plan_rows(in, out, 2.0 * rows * in * out, 12, team);
                            t::expect(b.count() == g.count() && b.block(b.count() - 1).r1 == in,
                                      what + ": not split, the bands of plan_rows");
                            continue;
                        }
                        sliced++;
                        std::vector<int> hits(in, 0);
                        bool whole = true, inside = true, on_unit = true, home_ok = true;
                        int per_thread[16] = {};
                        for (int i = 0; i < b.count(); i++) {
                            const d4j::Block k = b.block(i);
                            whole &= k.c0 == 0 && k.c1 == out && k.r0 >= 0 && k.r0 < k.r1 && k.r1 <= in;
                            if (!whole) break;
                            for (int r = k.r0; r < k.r1; r++) hits[r]++;
                            const bool hi = k.r0 >= mid;
                            inside &= hi || k.r1 <= mid;
                            const int start = hi ? mid : 0, end = hi ? in : mid;
                            on_unit &= (k.r0 - start) % 12 == 0 && (k.r1 == end || (k.r1 - start) % 12 == 0);
                            const int h = b.home(i, team);
                            home_ok &= hi ? h >= team / 2 && h < team : h >= 0 && h < team / 2;
                            if (h >= 0 && h < 16) per_thread[h]++;
                        }
                        bool once = whole;
                        for (int h : hits) once &= h == 1;
                        t::expect(once, what + ": every row of W in exactly one band");
                        t::expect(inside, what + ": a band crosses the slice boundary");
                        t::expect(on_unit, what + ": bands must be multiples of the row unit from their slice's start");
                        t::expect(home_ok, what + ": a band's home thread is not in its slice's half of the team");
                        bool at_most_4 = true;
                        for (int h : per_thread) at_most_4 &= h <= 4;
                        t::expect(at_most_4, what + ": more than 4 bands per thread");
                    }
    t::expect(sliced > 500, "the cases must include split layers (" + std::to_string(sliced) + ")");
}

// A batch gather's pieces (gather_piece): every input column of every batch row in exactly one piece, every row's
// label in exactly one piece; with a split column each piece holds columns of one side of it, the first half of
// the pieces the columns before it (with the labels).
static void gather_pieces() {
    for (int rows : {1, 7, 8, 31, 32, 33, 256})
        for (int cols : {1, 16, 33, 784})
            for (int parts : {1, 2, 3, 4, 8})
                for (int mid : {0, 1, 16, cols / 2 / 16 * 16, cols - 1, cols}) {
                    const std::string what = std::to_string(rows) + "x" + std::to_string(cols) + " in " +
                                             std::to_string(parts) + " pieces, split column " + std::to_string(mid);
                    std::vector<int> hits((size_t)rows * cols, 0), labels(rows, 0);
                    bool sides = true, in_range = true;
                    const bool split = mid > 0 && mid < cols && parts >= 2;
                    for (int c = 0; c < parts; c++) {
                        const d4j::GatherPiece p = d4j::gather_piece(rows, cols, c, parts, mid);
                        in_range &= p.r0 >= 0 && p.r0 <= p.r1 && p.r1 <= rows && p.c0 >= 0 && p.c0 < p.c1 &&
                                    p.c1 <= cols;
                        if (!in_range) break;
                        if (split) sides &= c < parts / 2 ? p.c1 == mid && p.labels : p.c0 == mid && !p.labels;
                        else sides &= p.c0 == 0 && p.c1 == cols && p.labels;
                        for (int r = p.r0; r < p.r1; r++) {
                            for (int k = p.c0; k < p.c1; k++) hits[(size_t)r * cols + k]++;
                            if (p.labels) labels[r]++;
                        }
                    }
                    bool once = in_range;
                    for (int h : hits) once &= h == 1;
                    for (int h : labels) once &= h == 1;
                    t::expect(once, what + ": every input and label in exactly one piece");
                    t::expect(sides, what + ": pieces on the wrong side of the split column");
                }
}

int main() {
    for (int chunks = 1; chunks <= 300; chunks += chunks < 40 ? 1 : 37)
        for (int threads = 1; threads <= 17; threads++) {
            bool ok = true;
            for (int t = 0; t < threads; t++) {
                const d4j::ChunkRange h = d4j::home_chunks(chunks, threads, t);
                for (int c = h.first; c < h.end; c++) ok &= d4j::home_thread(chunks, threads, c) == t;
            }
            t::expect(ok, "home_thread inverts home_chunks, " + std::to_string(chunks) + " chunks on " +
                              std::to_string(threads) + " threads");
        }

    // forward and input-gradient grids (plan) and weight-gradient grids (plan_rows): every element in one block;
    // plan_rows cuts whole rows only, bands of a multiple of the row unit (the last one may be shorter), at most
    // 4 per thread, and does not cut what is too small to pay for a region
    int banded = 0;  // cases where plan_rows cut more than one band
    for (int rows : {1, 31, 32, 33, 64, 256, 1000})
        for (int in : {1, 33, 128, 784, 1024})
            for (int out : {1, 10, 31, 128, 784, 1000, 1024})
                for (int team : {1, 2, 3, 4, 8, 16})
                    for (int unit : {12, 16, 32, 48}) {
                        const double flops = 2.0 * rows * in * out;
                        const std::string what = name(rows, in, out, team, unit);
                        covers_once(d4j::plan(rows, out, flops, unit, false, team), what + " forward");
                        const d4j::Grid wg = d4j::plan_rows(in, out, flops, unit, team);
                        covers_once(wg, what + " weight gradient");
                        bool whole_rows = wg.cols == 1 && wg.cw == out, on_unit = true;
                        for (int i = 0; i < wg.count(); i++) {
                            const d4j::Block b = wg.block(i);
                            whole_rows &= b.c0 == 0 && b.c1 == out;
                            on_unit &= b.r0 % unit == 0 && (b.r1 == in || (b.r1 - b.r0) % unit == 0);
                        }
                        t::expect(whole_rows, what + ": a weight-gradient band must hold whole rows");
                        t::expect(on_unit, what + ": bands must be multiples of the row unit");
                        t::expect(wg.count() <= std::max(1, 4 * team), what + ": more than 4 bands per thread");
                        if (team == 1 || flops < d4j::PAR_MIN_FLOPS)
                            t::expect(wg.count() == 1, what + ": one band expected (one thread or too small)");
                        if (wg.count() > 1) banded++;
                    }
    t::expect(banded > 100, "the shapes must include grids cut in several bands (" + std::to_string(banded) + ")");
    slice_bands();
    gather_pieces();
    return t::finish("split_test");
}
