//===- TorchSum.h - float32 sums in PyTorch's CPU order ----------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Where a reference tool's output depends on a float32 sum computed by PyTorch on the CPU
// (bitsandbytes' double-quantization offset is `absmax.mean()`), bit-exactness needs the
// sum's order, not just its value: torch's cascade sum (aten/src/ATen/native/cpu/
// SumKernel.cpp) reads a contiguous row as vectors of 8 floats, four vector accumulators
// at a time, folding 16-step chunks into up to four levels, then the scalar tail, then the
// 8 lanes. Reproduced here for one contiguous float32 row on one thread (torch splits rows
// of 32768 elements or more across threads: those are not claimed). Checked against torch
// 2.15 on every length 1-69 and up to 30000 (bitsandbytes NF4 goldens, NumericsTest).
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_NUMERICS_TORCHSUM_H
#define MIDLLAMA_NUMERICS_TORCHSUM_H

#include <cstdint>

namespace midllama::numerics {

/// torch.sum of the float32 row x[0, n), bit for bit (single-threaded: n < 32768).
float torchSumF32(const float *x, int64_t n);

/// torch.mean of the same row: that sum divided by n in float32.
float torchMeanF32(const float *x, int64_t n);

} // namespace midllama::numerics

#endif // MIDLLAMA_NUMERICS_TORCHSUM_H
