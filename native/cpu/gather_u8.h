// Byte rows to float32 rows while gathering (gather_u8.cpp): the engine's training and inference on uint8 data sets.
#pragma once
#include <cstdint>

#pragma GCC visibility push(hidden)
namespace d4j {

// The conversion of one call: value of byte b = levels[b] = b / divisor (IEEE float32 division); `vector` when the
// vector form (a multiply by 1 / divisor and one exact-remainder correction) gives those 256 values bit for bit.
struct ByteScale {
    float levels[256];
    float divisor, recip;
    bool vector;
};
// false when divisor is not finite and > 0, or 255 / divisor is not finite
bool make_byte_scale(float divisor, ByteScale* s);
// out[r * ldo + c] = levels[x[row(r) * width + c]] for r < n, c < width; row(r) = rows[r], or r when rows is null
void byte_rows(const ByteScale& s, const uint8_t* x, int64_t width, const int32_t* rows, int n, float* out,
               int64_t ldo);

}  // namespace d4j
#pragma GCC visibility pop
