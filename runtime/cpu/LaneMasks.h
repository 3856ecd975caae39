//===- LaneMasks.h - Masks of a 16-lane vector's first lanes ----*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The AVX-512 kernels' loops end on a partial vector: its lanes [0, n) as a mask.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_CPU_LANEMASKS_H
#define MIDLLAMA_RUNTIME_CPU_LANEMASKS_H

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include <cstdint>

namespace midllama::rt::cpu {

/// Lanes [0, n) of a 16-lane mask (all 16 from n = 16 on).
inline __mmask16 lanesBelow(int64_t n) {
  return n >= 16 ? __mmask16(0xffff) : __mmask16((1u << n) - 1);
}

} // namespace midllama::rt::cpu
#endif

#endif // MIDLLAMA_RUNTIME_CPU_LANEMASKS_H
