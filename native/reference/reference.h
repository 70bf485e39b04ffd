// The float64 reference of every Dense4J op: ONE implementation per op, shared by the CPU tests (tests/), the
// CUDA tests (cuda/tests/, on the GPU and in the CPU execution harness cuda/emu/) and checked on its own by
// tests/reference_test.cpp (finite differences, values worked out by hand). Written with plain loops from the
// definitions in include/dense4j.h and the PyTorch documentation, sharing no code with either engine.
// One header per op (README.md lists which kernel, test and benchmark go with each):
#pragma once
#include "gemm.h"        // C = op(A) op(B)
#include "activation.h"  // act(z), act'(z) . dy
#include "dense.h"       // dense forward / backward
#include "loss.h"        // fused losses with gradient, probabilities, correct count
#include "clip.h"        // gradient clipping by value and global norm
#include "optimizer.h"   // SGD, Adam, AdamW, RMSprop updates
#include "dropout.h"     // the dropout mask (one hash, both engines)
#include "net.h"         // a whole network: forward, backward, training step
#include "byte_rows.h"   // uint8 rows as floats: b / divisor
