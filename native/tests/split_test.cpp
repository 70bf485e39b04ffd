// How products are cut into chunks (cpu/split.h) and which thread starts on which chunk (cpu/thread_pool.h):
// - every grid covers its output exactly once (each element in one block: results cannot depend on the split);
// - home_thread inverts home_chunks (the pool's split by count);
// - cache affinity between a layer's forward and its weight gradient: every weight-gradient block goes first to
//   a thread that, in the forward, computed the output columns the block starts at (it read those columns of W),
//   for the shapes of the benchmarks and awkward ones, at team sizes 2..16 and every kernel column width; where
//   neither grid splits rows, that is the same thread as the pool's plain split by count.
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

    int split_rows = 0;  // cases where a grid splits rows (the affinity mapping is more than the identity)
    for (int rows : {1, 31, 32, 33, 64, 256, 1000})
        for (int in : {1, 33, 128, 784, 1024})
            for (int out : {1, 10, 31, 128, 784, 1000, 1024})
                for (int team : {1, 2, 3, 4, 8, 16})
                    for (int unit : {16, 32, 48}) {
                        const double flops = 2.0 * rows * in * out;
                        const d4j::Grid fwd = d4j::plan(rows, out, flops, unit, false, team);
                        const d4j::Grid wg = d4j::plan(in, out, flops, unit, false, team);
                        const std::string what = name(rows, in, out, team, unit);
                        covers_once(fwd, what + " forward");
                        covers_once(wg, what + " weight gradient");
                        const int threads = std::min(team, fwd.count());  // the pool's team for the forward region
                        if (fwd.rows > 1 || wg.rows > 1) split_rows++;
                        bool same_columns = true, same_as_count = true;
                        for (int i = 0; i < wg.count(); i++) {
                            const int t = d4j::forward_owner(fwd, threads, wg, i);
                            const int col = wg.block(i).c0;
                            bool read_it = false;
                            const d4j::ChunkRange h = d4j::home_chunks(fwd.count(), threads, t);
                            for (int f = h.first; f < h.end; f++) {
                                const d4j::Block b = fwd.block(f);
                                read_it |= b.c0 <= col && col < b.c1;
                            }
                            same_columns &= t >= 0 && t < threads && read_it;
                            if (fwd.rows == 1 && wg.rows == 1 && fwd.count() == wg.count())
                                same_as_count &= t == d4j::home_thread(wg.count(), threads, i);
                        }
                        t::expect(same_columns, what + ": a weight-gradient block goes to a thread that did not "
                                                       "compute its columns in the forward");
                        t::expect(same_as_count, what + ": without row splits the owner must be the plain split");
                    }
    t::expect(split_rows > 100, "the shapes must include grids that split rows (" + std::to_string(split_rows) + ")");
    return t::finish("split_test");
}
