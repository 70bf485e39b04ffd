// The narrow weight gradient (cpu/weight_grad_narrow.inc, tn_any) against the tile form it replaces (tn_block,
// gemm_tiles.inc) on the same product, batch 32 (not a ctest): checks that both give the same bits, then times each
// (best of 200 rounds of 20 calls, the two alternating). One ISA unit per executable: this file includes the unit's
// source (D4J_BENCH_UNIT and D4J_BENCH_NAME, set by CMakeLists.txt: bench_tn_narrow_avx2, bench_tn_narrow_avx512),
// so it can call the unit's internal kernels; run only the variants this CPU has.
// Usage: bench_tn_narrow_avx512 (or _avx2)
#include D4J_BENCH_UNIT
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

int main() {
    std::mt19937 g(1);
    std::uniform_real_distribution<float> u(-1, 1);
    constexpr int NMAX = d4j::V::W - 1;
    int bad = 0;
    for (int k : {128, 784})
        for (int n : {1, 2, 5, 7, 10, 15}) {
            if (n > NMAX) continue;
            const int m = 32;
            std::vector<float> x(m * k), dz(m * n), tile(k * n), narrow(k * n);
            for (auto& v : x) v = u(g) < 0 ? 0.0f : u(g);  // half zeros, as image rows
            for (auto& v : dz) v = u(g);
            d4j::TNArgs a{x.data(), dz.data(), tile.data(), k, n, n, m, k, n};
            d4j::TNArgs b = a;
            b.dw = narrow.data();
            double best[2] = {1e9, 1e9};
            for (int rep = 0; rep < 200; rep++)
                for (int w = 0; w < 2; w++) {
                    const auto t0 = std::chrono::steady_clock::now();
                    for (int it = 0; it < 20; it++) {
                        if (w) d4j::tn_any(b);
                        else d4j::tn_block(a);
                    }
                    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / 20;
                    if (s < best[w]) best[w] = s;
                }
            const bool same = std::memcmp(tile.data(), narrow.data(), tile.size() * sizeof(float)) == 0;
            bad += !same;
            std::printf("%s 32 x %d x %d: tile form %.3f us, narrow %.3f us (%.2fx)%s\n", D4J_BENCH_NAME, k,
                        n, best[0] * 1e6, best[1] * 1e6, best[0] / best[1], same ? "" : "  DIFFERENT BITS");
        }
    return bad ? 1 : 0;
}
