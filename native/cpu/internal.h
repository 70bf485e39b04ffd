// Internal entry points of the CPU kernels, without argument checks: the public C functions validate and
// forward here, and the network engine (net.cpp) calls these directly on its preallocated workspace.
#pragma once
#include <cstdint>

#pragma GCC visibility push(hidden)  // internal: not exported from libdense4j_cpu
namespace d4j {

void dense_forward(const float* x, const float* w, const float* b, float* z, float* y,
                   int n, int in, int out, int act);
void activation_backward(const float* z, const float* y, const float* mask, const float* dy, float* dz,
                         int n, int k, int act);
void dense_backward(const float* x, const float* w, const float* dz, float* dw, float* db, float* dx,
                    int n, int in, int out);
double loss(int kind, const float* out, const int32_t* labels, const float* targets, float* grad,
            float* probs, int n, int k, float grad_scale, int64_t* correct);
void clip_values(float* g, int64_t n, float clip_value);
double sum_squares(const float* g, int64_t n);
void scale(float* g, int64_t n, float s);
// One update of a segment [0,n) of the parameter buffer; s0, s1, s2 are the three state slices of that
// segment (state + off, state + N + off, state + 2N + off for a buffer of N parameters).
void optimizer_segment(int kind, const float* hp, float lr, int64_t step, float* p, const float* g,
                       float* s0, float* s1, float* s2, int64_t n);
bool valid_hp(int kind, const float* hp);

}  // namespace d4j
#pragma GCC visibility pop
