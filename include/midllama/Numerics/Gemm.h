//===- Gemm.h - fp32 matrix products for the calibration numerics -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The calibration methods spend their time in a few dense products: the Hessian XᵀX of
// every linear layer's inputs, GPTQ/SparseGPT's lazy-batch error updates, the output error
// tr(D H Dᵀ). Written as scalar loops they made GPTQ on a 135M model take 16-24 minutes on
// 2 cores (issue 15); they run here on the runtime's own CPU matrix kernel (threads, the
// AVX-512/AVX2 register-blocked panels, picked at run time), so one tuned kernel serves
// both inference and compression.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_NUMERICS_GEMM_H
#define MIDLLAMA_NUMERICS_GEMM_H

#include <cstdint>

namespace midllama::numerics {

/// C[m, n] = A[m, k] · B[k, n], all fp32 and row-major (leading dimensions k, n, n). Each
/// output is one fp32 sum over k in order, so C is exactly symmetric when A = Bᵀ.
void gemm(const float *a, const float *b, float *c, int64_t m, int64_t k, int64_t n);

} // namespace midllama::numerics

#endif // MIDLLAMA_NUMERICS_GEMM_H
