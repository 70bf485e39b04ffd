// The weight gradient of a narrow layer (cpu/weight_grad_narrow.inc: dw = x^T dz with fewer outputs than a vector
// holds, vectors along the inputs), every variant this CPU runs (the kernel sources are compiled into this program,
// as in sparse_input_test, since the library keeps them internal), against
// - the float64 reference ref::gemm (error bound (m + 1) u sum|terms| per element);
// - the tile form (tn_block, gemm_tiles.inc), bit for bit: the same product with extra columns of dz (17 outputs,
//   more than any variant's narrow form takes) runs the tile form, and its first n columns must be the same bits;
// on awkward shapes: batch rows 1..200 (1, 31, 32, 33, 64, 200), inputs around the vector width (1, 7, 8, 15, 16,
// 17, 31, 33, 128, 784, 1000), outputs 1..15 and 16 (the tile form), leading dimensions wider than the block and
// operands 1 float off a line; every output poisoned with NaN first (an unwritten element fails) and the padding
// between dw's rows checked untouched.
#include <cstring>
#include <string>
#include "../cpu/gemm_kernels.h"
#include "reference.h"
#include "test_util.h"

namespace {

constexpr int WIDE = 17;  // outputs of the tile form's copy of the product

struct Case {
    int m, k, n, pad;  // pad: extra floats per row of every operand, and 1 float of misalignment when > 0
};

void check(const d4j::GemmKernels& K, const Case& c, t::Rng& rng) {
    const int64_t ldx = c.k + c.pad, lddz = WIDE + c.pad, lddw = c.n + 2 * c.pad;
    const int mis = c.pad ? 1 : 0;
    std::vector<float> xs(c.m * ldx + mis, NAN), dzs(c.m * lddz + mis, NAN);
    float* x = xs.data() + mis;
    float* dz = dzs.data() + mis;
    for (int i = 0; i < c.m; i++) {
        for (int k = 0; k < c.k; k++) x[i * ldx + k] = rng.uniform(0, 1) < 0.3 ? 0.0f : rng.nonzero(-1, 1);
        for (int j = 0; j < WIDE; j++) dz[i * lddz + j] = rng.nonzero(-1, 1);
    }
    const ref::V r = ref::gemm(true, false, c.k, c.n, c.m, x, (int)ldx, dz, (int)lddz);
    const ref::V absr = ref::gemm_abs(true, false, c.k, c.n, c.m, x, (int)ldx, dz, (int)lddz);
    const std::string name = std::string(K.name) + " " + std::to_string(c.m) + "x" + std::to_string(c.k) + "x" +
                             std::to_string(c.n) + (c.pad ? " (padded, misaligned)" : "");

    std::vector<float> out(c.k * lddw + mis, NAN), wide(c.k * (int64_t)WIDE, NAN);
    d4j::TNArgs a{x, dz, out.data() + mis, ldx, lddz, lddw, c.m, c.k, c.n};
    K.tn(a);
    d4j::TNArgs w{x, dz, wide.data(), ldx, lddz, WIDE, c.m, c.k, WIDE};
    K.tn(w);

    const float* dw = out.data() + mis;
    t::checks()++;
    double worst = 0;
    bool finite = true, same = true, pad_intact = true;
    for (int k = 0; k < c.k; k++) {
        for (int j = 0; j < c.n; j++) {
            const float g = dw[k * lddw + j], tile = wide[k * WIDE + j];
            if (!std::isfinite(g)) finite = false;
            same &= std::memcmp(&g, &tile, 4) == 0;
            const size_t e = (size_t)k * c.n + j;
            worst = std::max(worst, std::fabs((double)g - r[e]) / ((c.m + 1) * 0x1p-24 * absr[e] + 1e-300));
        }
        for (int j = c.n; j < lddw; j++) pad_intact &= std::isnan(dw[k * lddw + j]);
    }
    const bool ok = finite && worst <= 1.0;
    if (!ok || t::verbose())
        std::printf("%s: %s worst error / bound = %.3g%s\n", ok ? "ok" : "FAIL", name.c_str(), worst,
                    finite ? "" : " NON-FINITE/UNWRITTEN");
    if (!ok) t::failures()++;
    t::expect(same, name + ": not the bits of the tile form");
    t::expect(pad_intact, name + ": wrote outside its rows");
}

}  // namespace

int main() {
    const d4j::GemmKernels* variants[3] = {&d4j::gemm_kernels_portable(), &d4j::gemm_kernels_avx2(),
                                           &d4j::gemm_kernels_avx512()};
    t::Rng rng(23);
    for (int isa = 0; isa < 3; isa++) {
        if (!d4j_isa_supported(isa)) {
            std::printf("tn_narrow_test: variant %s not supported by this CPU: not tested here\n", variants[isa]->name);
            continue;
        }
        for (int m : {1, 31, 32, 33, 64, 200})
            for (int k : {1, 7, 8, 15, 16, 17, 31, 33, 128, 784, 1000})
                for (int n : {1, 2, 7, 8, 10, 15, 16})
                    for (int pad : {0, 3}) {
                        if (m * (int64_t)k > 64 * 1000 && pad) continue;  // (the big ones once)
                        check(*variants[isa], Case{m, k, n, pad}, rng);
                    }
    }
    return t::finish("tn_narrow_test");
}
