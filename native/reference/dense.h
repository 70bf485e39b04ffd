// Float64 reference of d4j_dense_forward / d4j_dense_backward (and their CUDA twins): z = x.W + b, y = act(z);
// dW = x^T.dz, db = column sums of dz, dx = dz.W^T. Built on the reference GEMM and activations.
#pragma once
#include <algorithm>
#include "activation.h"
#include "gemm.h"

namespace ref {

// Inputs of any element type (the float operands the kernels get, or double). z may be NULL.
template <typename T>
inline void dense_forward(const T* x, const T* w, const T* b, double* z, double* y, int n, int in, int out, int act) {
    V zz = gemm(false, false, n, out, in, x, in, w, out);
    for (int r = 0; r < n; r++)
        for (int j = 0; j < out; j++) zz[(size_t)r * out + j] += (double)b[j];
    if (z) std::copy(zz.begin(), zz.end(), z);
    act_rows(zz.data(), y, n, out, act);
}

// dx may be NULL (the first layer's input gradient is never needed).
template <typename T>
inline void dense_backward(const T* x, const T* w, const T* dz, double* dw, double* db, double* dx,
                           int n, int in, int out) {
    const V gw = gemm(true, false, in, out, n, x, in, dz, out);
    std::copy(gw.begin(), gw.end(), dw);
    for (int j = 0; j < out; j++) {
        double s = 0;
        for (int r = 0; r < n; r++) s += (double)dz[(size_t)r * out + j];
        db[j] = s;
    }
    if (dx) {
        const V gx = gemm(false, true, n, in, out, dz, out, w, out);
        std::copy(gx.begin(), gx.end(), dx);
    }
}

}  // namespace ref
