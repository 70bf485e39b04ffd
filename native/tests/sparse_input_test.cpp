// The weight gradient that skips exact zeros of its input (cpu/sparse_input.inc, GemmKernels::sx_weight_grad), every
// variant this CPU runs (portable, AVX2, AVX-512; the kernel sources are compiled into this program, as in
// bench_input_grad, since the library keeps them internal), against the float64 reference ref::gemm:
// - batch rows 1..256 around the 32-row masks (1, 31, 32, 33, 64, 200, 256), inputs around the 64-input blocks
//   (1, 31, 33, 64, 65, 784, 1000), outputs around every variant's panel (1, 10, 31, 33, 128, 129), leading
//   dimensions wider than the block and operands 1 float off alignment;
// - x with 5%, 50%, 90% and 100% non-zero inputs (never all zero), -0.0 among its zeros; every output poisoned with
//   NaN first (an unwritten element fails);
// - the same bits as tn (the dense kernel) whatever max_density chooses per block; the blocks it reports (all at 1,
//   the all-zero ones only at 0);
// - NaN in x reaches its row of dw; +-Inf in dz at a zero x is left out (the documented difference from tn), unless
//   the pair form takes that batch row for the other input of the pair (then NaN, as tn).
#include <cstring>
#include <string>
#include "../cpu/gemm_kernels.h"
#include "reference.h"
#include "test_util.h"

namespace {

// |got - ref| <= (m + 1) u sum|terms| per element, u = 2^-24 (a float sum of m products)
bool bounded(const std::string& what, const float* got, const ref::V& r, const ref::V& absr, size_t n, int m,
             int64_t ld, int cols) {
    t::checks()++;
    double worst = 0;
    bool finite = true;
    for (size_t i = 0; i < n; i++) {
        const float g = got[(i / cols) * ld + i % cols];
        if (!std::isfinite(g)) { finite = false; break; }
        worst = std::max(worst, std::fabs((double)g - r[i]) / ((m + 1) * 0x1p-24 * absr[i] + 1e-300));
    }
    const bool ok = finite && worst <= 1.0;
    if (!ok || t::verbose())
        std::printf("%s: %s worst error / bound = %.3g%s\n", ok ? "ok" : "FAIL", what.c_str(), worst,
                    finite ? "" : " NON-FINITE/UNWRITTEN");
    if (!ok) t::failures()++;
    return ok;
}

// the same bits, or NaN in both
bool same(const float* a, const float* b, int rows, int cols, int64_t ld) {
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            const float x = a[r * ld + c], y = b[r * ld + c];
            if (!(std::memcmp(&x, &y, 4) == 0 || (x != x && y != y))) return false;
        }
    return true;
}

struct Case {
    int m, k, n;
    int pad;  // extra floats per row of every operand (leading dimensions), and the misalignment
};

void check(const d4j::GemmKernels& K, const Case& c, double density, t::Rng& rng) {
    const int64_t ldx = c.k + c.pad, lddz = c.n + c.pad, lddw = c.n + 2 * c.pad;
    const int mis = c.pad ? 1 : 0;
    std::vector<float> xs(c.m * ldx + mis, NAN), dzs(c.m * lddz + mis, NAN);
    float* x = xs.data() + mis;
    float* dz = dzs.data() + mis;
    for (int i = 0; i < c.m; i++) {
        for (int k = 0; k < c.k; k++) {
            const bool keep = rng.uniform(0, 1) < density;
            x[i * ldx + k] = keep ? rng.nonzero(-1, 1) : (rng.uniform(0, 1) < 0.5 ? 0.0f : -0.0f);
        }
        for (int j = 0; j < c.n; j++) dz[i * lddz + j] = rng.nonzero(-1, 1);
    }
    x[rng.integer(0, c.m - 1) * ldx + rng.integer(0, c.k - 1)] = rng.nonzero(-1, 1);  // never all zero
    const ref::V r = ref::gemm(true, false, c.k, c.n, c.m, x, (int)ldx, dz, (int)lddz);
    const ref::V absr = ref::gemm_abs(true, false, c.k, c.n, c.m, x, (int)ldx, dz, (int)lddz);

    const std::string name = std::string(K.name) + " " + std::to_string(c.m) + "x" + std::to_string(c.k) + "x" +
                             std::to_string(c.n) + (c.pad ? " (padded, misaligned)" : "") + " density " +
                             std::to_string(density).substr(0, 4);
    d4j::TNArgs a;
    a.x = x;
    a.ldx = ldx;
    a.dz = dz;
    a.lddz = lddz;
    a.lddw = lddw;
    a.m = c.m;
    a.k = c.k;
    a.n = c.n;
    std::vector<float> dense(c.k * lddw + mis, NAN);
    a.dw = dense.data() + mis;
    K.tn(a);
    const int blocks = (c.k + 63) / 64;
    int zero_blocks = 0;  // blocks of 64 inputs with no non-zero x: skipped even at max_density 0
    for (int b = 0; b < blocks; b++) {
        bool zero = true;
        for (int i = 0; i < c.m; i++)
            for (int k = b * 64; k < std::min(c.k, b * 64 + 64); k++) zero &= x[i * ldx + k] == 0.0f;
        zero_blocks += zero;
    }
    for (float max_density : {1.0f, 0.5f, 0.0f}) {
        std::vector<float> out(c.k * lddw + mis, NAN);
        a.dw = out.data() + mis;
        const int sparse_blocks = K.sx_weight_grad(a, max_density);
        const std::string what = name + " max_density " + std::to_string(max_density).substr(0, 3);
        bounded(what, a.dw, r, absr, (size_t)c.k * c.n, c.m, lddw, c.n);
        t::expect(same(a.dw, dense.data() + mis, c.k, c.n, lddw), what + ": not the bits of tn");
        if (max_density == 1.0f) t::expect(sparse_blocks == blocks, what + ": blocks " + std::to_string(sparse_blocks));
        if (max_density == 0.0f)
            t::expect(sparse_blocks == zero_blocks, what + ": blocks " + std::to_string(sparse_blocks));
        bool pad_intact = true;  // nothing written between rows
        for (int k = 0; k < c.k; k++)
            for (int j = c.n; j < lddw; j++) pad_intact &= std::isnan(a.dw[k * lddw + j]);
        t::expect(pad_intact, what + ": wrote outside its rows");
    }
}

// NaN in x reaches dw's row of that input; Inf in dz at a zero x: left out (tn: NaN), elsewhere Inf as in tn.
void special_values(const d4j::GemmKernels& K) {
    const int m = 33, k = 70, n = 20;
    t::Rng rng(9);
    std::vector<float> x(m * k), dz(m * n);
    for (auto& v : x) v = rng.uniform(0, 1) < 0.5 ? 0.0f : rng.nonzero(-1, 1);
    for (auto& v : dz) v = rng.nonzero(-1, 1);
    x[5 * k + 3] = NAN;
    for (int i = 0; i < m; i++) x[i * k + 40] = i == 7 ? 2.0f : 0.0f;  // input 40: only row 7
    x[9 * k + 41] = 0.0f;                                             // (and not its pair's partner, input 41)
    for (int i = 0; i < m; i++) x[i * k + 42] = i == 7 ? 2.0f : 0.0f;  // input 42: only row 7, but
    x[9 * k + 43] = 1.5f;                                             // its partner is non-zero on row 9
    dz[9 * n + 4] = INFINITY;                                         // row 9: x[9, 40] == x[9, 42] == 0
    d4j::TNArgs a{x.data(), dz.data(), nullptr, k, n, n, m, k, n};
    std::vector<float> sp(k * n, -1.0f), dn(k * n, -1.0f);
    a.dw = dn.data();
    K.tn(a);
    a.dw = sp.data();
    K.sx_weight_grad(a, 1.0f);
    bool nan_row = true;
    for (int j = 0; j < n; j++) nan_row &= std::isnan(sp[3 * n + j]) && std::isnan(dn[3 * n + j]);
    t::expect(nan_row, std::string(K.name) + ": NaN in x reaches its row of dw");
    t::expect(std::isnan(dn[40 * n + 4]) && sp[40 * n + 4] == 2.0f * dz[7 * n + 4],
              std::string(K.name) + ": Inf in dz at a zero x: NaN in tn, left out here");
    // the pair form (AVX-512) takes row 9 for input 42 because input 43 needs it: then tn's term, NaN; else left out
    t::expect(std::isnan(dn[42 * n + 4]) && (std::isnan(sp[42 * n + 4]) || sp[42 * n + 4] == 2.0f * dz[7 * n + 4]),
              std::string(K.name) + ": Inf in dz at a zero x whose pair partner is not zero: NaN as tn, or left out");
    bool rest = true;  // inputs that row 9 touches see the Inf in both
    for (int kk = 0; kk < k; kk++)
        if (kk != 40 && kk != 42 && kk != 3 && x[9 * k + kk] != 0.0f)
            rest &= sp[kk * n + 4] == dn[kk * n + 4] && std::isinf(sp[kk * n + 4]);
    t::expect(rest, std::string(K.name) + ": Inf in dz at a non-zero x as in tn");
}

}  // namespace

int main() {
    const d4j::GemmKernels* variants[3] = {&d4j::gemm_kernels_portable(), &d4j::gemm_kernels_avx2(),
                                           &d4j::gemm_kernels_avx512()};
    const Case cases[] = {{1, 784, 128, 0}, {32, 784, 128, 0}, {31, 33, 129, 3},  {33, 1000, 10, 0},
                          {64, 31, 33, 5},  {1, 1, 1, 0},      {33, 65, 1, 2},    {200, 64, 31, 0},
                          {256, 1000, 129, 1}, {32, 784, 128, 4}};
    t::Rng rng(17);
    for (int isa = 0; isa < 3; isa++) {
        if (!d4j_isa_supported(isa)) {
            std::printf("sparse_input_test: variant %s not supported by this CPU: not tested here\n",
                        variants[isa]->name);
            continue;
        }
        for (const Case& c : cases)
            for (double density : {0.05, 0.5, 0.9, 1.0}) check(*variants[isa], c, density, rng);
        special_values(*variants[isa]);
    }
    return t::finish("sparse_input_test");
}
