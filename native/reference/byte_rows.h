// Float64 reference of byte rows (d4j_gather_u8, and the rows d4j_net_train_data / d4j_net_forward_data gather from a
// uint8 data set): out[r, c] = data[order[r], c] / divisor, computed in double and rounded once to float. Rounding the
// double quotient again to float gives the correctly rounded float quotient (53 >= 2 * 24 + 2 bits: double rounding is
// innocuous for a division), so the engine must match it bit for bit.
#pragma once
#include <cstdint>
#include <vector>

namespace ref {

inline std::vector<float> byte_rows(const uint8_t* data, double divisor, int width, const int32_t* order, int rows) {
    std::vector<float> out((size_t)rows * width);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < width; c++)
            out[(size_t)r * width + c] = (float)((double)data[(size_t)(order ? order[r] : r) * width + c] / divisor);
    return out;
}

}  // namespace ref
