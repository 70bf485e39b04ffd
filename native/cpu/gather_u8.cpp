// Training rows kept as BYTES (uint8 images) and turned into float32 while they are gathered:
//   out[r, c] = data[rows[r], c] / divisor        (IEEE float32 division, correctly rounded)
// exactly the floats a reader that converts the whole set up front produces (Dense4J's IDX reader: i / 255f), so a
// network trained on the byte set ends with the same bits as one trained on the float set.
// Why: a step reads its batch rows at random from the training set, which does not fit any cache; as bytes it is a
// quarter of the size (Fashion-MNIST: 47 MB instead of 188 MB), so each row is 13 cache lines from DRAM instead of 49.
// Why it is fast: the division is not done per element (the divider is Adam's bottleneck in the same step). For
// the 256 byte values, q = b * (1 / divisor) corrected once with the exact remainder, fma(fma(-q, divisor, b),
// 1 / divisor, q), is the correctly rounded quotient for every usual divisor; ByteScale checks it against the
// 256 true quotients once per call and otherwise takes a 256-entry table (same values, slower): the vector form is
// used only where it is proven to give the table's bits. 16 (AVX-512) or 8 (AVX2) bytes per step: widen, convert,
// multiply, two FMAs.
// The float64 reference: (float)((double)b / divisor) (double rounding is innocuous for a division of floats:
// 53 >= 2 * 24 + 2), checked in tests/gather_u8_test.cpp.
// GCC 12's AVX-512 headers trip -Wuninitialized on their own placeholder vectors (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#include <cmath>
#include <cstring>
#include "dense4j.h"
#include "gather_u8.h"
#include "gemm_kernels.h"

namespace d4j {

// The vector form is taken only where every value it computes is a normal float (or zero), so that the engine's
// flush-to-zero mode (FTZ/DAZ during training) cannot change a bit of it: 1 / divisor and every non-zero level
// normal (the remainder, a multiple of b * 2^-46, then is too). A divisor with an infinite level is refused.
bool make_byte_scale(float divisor, ByteScale* s) {
    if (!(std::isfinite(divisor) && divisor > 0.0f) || !std::isfinite(255.0f / divisor)) return false;
    s->divisor = divisor;
    s->recip = 1.0f / divisor;
    s->vector = std::isnormal(s->recip);
    for (int i = 0; i < 256; i++) {
        const float b = (float)i;
        s->levels[i] = b / divisor;
        if (i > 0 && !std::isnormal(s->levels[i])) s->vector = false;
        const float q = b * s->recip;
        const float fixed = std::fma(std::fma(-q, divisor, b), s->recip, q);
        if (std::memcmp(&fixed, &s->levels[i], sizeof(float)) != 0) s->vector = false;
    }
    return true;
}

namespace {

__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))) void row_avx512(const ByteScale& s, const uint8_t* x,
                                                                              int width, float* out) {
    const __m512 r = _mm512_set1_ps(s.recip), d = _mm512_set1_ps(s.divisor);
    int c = 0;
    for (; c + 16 <= width; c += 16) {
        const __m512 b = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + c))));
        const __m512 q = _mm512_mul_ps(b, r);
        _mm512_storeu_ps(out + c, _mm512_fmadd_ps(_mm512_fnmadd_ps(q, d, b), r, q));
    }
    if (c < width) {
        const __mmask16 m = (__mmask16)((1u << (width - c)) - 1u);
        const __m512 b = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, x + c)));
        const __m512 q = _mm512_mul_ps(b, r);
        _mm512_mask_storeu_ps(out + c, m, _mm512_fmadd_ps(_mm512_fnmadd_ps(q, d, b), r, q));
    }
}

// (the library's baseline is x86-64-v3: AVX2 and FMA everywhere)
void row_avx2(const ByteScale& s, const uint8_t* x, int width, float* out) {
    const __m256 r = _mm256_set1_ps(s.recip), d = _mm256_set1_ps(s.divisor);
    int c = 0;
    for (; c + 8 <= width; c += 8) {
        const __m256 b = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(x + c))));
        const __m256 q = _mm256_mul_ps(b, r);
        _mm256_storeu_ps(out + c, _mm256_fmadd_ps(_mm256_fnmadd_ps(q, d, b), r, q));
    }
    for (; c < width; c++) out[c] = s.levels[x[c]];
}

void row_table(const ByteScale& s, const uint8_t* x, int width, float* out) {
    for (int c = 0; c < width; c++) out[c] = s.levels[x[c]];
}

}  // namespace

void byte_rows(const ByteScale& s, const uint8_t* x, int64_t width, const int32_t* rows, int n, float* out,
               int64_t ldo) {
    const int isa = gemm_kernels().isa;
    auto row = !s.vector ? row_table : isa == ISA_AVX512 ? row_avx512 : isa == ISA_AVX2 ? row_avx2 : row_table;
    for (int r = 0; r < n; r++) row(s, x + (rows ? (int64_t)rows[r] : r) * width, (int)width, out + r * ldo);
}

}  // namespace d4j

extern "C" int d4j_gather_u8(const uint8_t* data, float divisor, int width, const int32_t* order, int rows,
                             float* out) {
    d4j::ByteScale s;
    if (!data || !out || width <= 0 || rows < 0 || !d4j::make_byte_scale(divisor, &s)) return D4J_ERR_ARGUMENT;
    if (order)
        for (int r = 0; r < rows; r++) if (order[r] < 0) return D4J_ERR_ARGUMENT;
    d4j::byte_rows(s, data, width, order, rows, out, width);
    return D4J_OK;
}
