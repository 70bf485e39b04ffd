// How products are cut into chunks (cpu/split.h) and which thread starts on which chunk (cpu/thread_pool.h):
// - every grid covers its output exactly once (each element in one block: results cannot depend on the split);
// - home_thread inverts home_chunks (the pool's split by count);
// - weight-gradient grids are bands of whole rows (contiguous pieces of dW, W and the optimizer state), for the
//   shapes of the benchmarks and awkward ones, at team sizes 1..16 and several row units.
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
    return t::finish("split_test");
}
