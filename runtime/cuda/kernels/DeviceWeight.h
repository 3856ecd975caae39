//===- DeviceWeight.h - A weight as the CUDA kernels read it ---*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The device-side mirror of runtime/cpu/Kernels.h's WeightRef: the same encodings (dense
// f32/f16/bf16, affine integer groups, NF4, int8 + fp16 outlier columns, N:M or bitmask
// sparse storage of any of them), with pointers into device memory. A plain struct passed
// by value as a kernel argument. The element decoders are __host__ __device__ so the CPU
// tests check them against the CPU kernels' dequantizeRow (test/unittests/runtime/
// CudaDecodeTest.cpp) on machines without a GPU; the CUDA kernels call the same code.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_CUDA_KERNELS_DEVICEWEIGHT_H
#define MIDLLAMA_RUNTIME_CUDA_KERNELS_DEVICEWEIGHT_H

#include "runtime/params/Half.h"

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define MIDLLAMA_HD __host__ __device__ __forceinline__
#else
#define MIDLLAMA_HD inline
#endif

namespace midllama::rt::cuda {

enum DeviceDType : int32_t { kF32 = 0, kF16 = 1, kBF16 = 2 };
enum DeviceSparse : int32_t { kDense = 0, kNM = 1, kBitmask = 2 };

struct DeviceWeight {
  const void *data = nullptr; // dense values (or a sparse weight's kept values)
  int32_t dtype = kF32;       // of `data`, and of `scales` for affine weights
  int64_t rows = 0, cols = 0;
  int32_t bits = 0;            // affine 2-8; 4 for NF4; 8 for int8
  int32_t nf4 = 0, int8 = 0;
  int64_t groupSize = 0, groups = 0, codeRowBytes = 0;
  const uint8_t *codes = nullptr, *zeros = nullptr;
  const void *scales = nullptr; // affine: `dtype`; NF4 absmax and int8 row scales: f32
  int32_t sparse = kDense;
  int64_t nmN = 0, nmM = 0, indexRowBytes = 0;
  const uint8_t *index = nullptr;
  const int32_t *rowPtr = nullptr;
  int64_t numOutliers = 0;
  const int32_t *outlierColumns = nullptr;
  const uint16_t *outliers = nullptr;
};

/// fp16 bits to float: runtime/params/Half.h's conversion, shared with the CPU backend.
MIDLLAMA_HD float halfBitsToFloat(uint16_t h) { return halfToFloat(h); }

/// bfloat16 bits to float.
MIDLLAMA_HD float bf16BitsToFloat(uint16_t h) {
  uint32_t bits = uint32_t(h) << 16;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

/// Element `i` of an array of `dtype`.
MIDLLAMA_HD float loadAs(const void *p, int32_t dtype, int64_t i) {
  if (dtype == kF16)
    return halfBitsToFloat(static_cast<const uint16_t *>(p)[i]);
  if (dtype == kBF16)
    return bf16BitsToFloat(static_cast<const uint16_t *>(p)[i]);
  return static_cast<const float *>(p)[i];
}

/// The NF4 code book (QLoRA), as runtime/artifact/Program.h's kNF4Values. A switch, not
/// an indexed array: on the GPU an array indexed by data lives in local memory (a stack
/// frame and spills in every kernel that decodes NF4), a switch stays in registers.
MIDLLAMA_HD float nf4Code(int q) {
  switch (q & 15) {
  case 0: return -1.0f;
  case 1: return -0.6961928009986877f;
  case 2: return -0.5250730514526367f;
  case 3: return -0.39491748809814453f;
  case 4: return -0.28444138169288635f;
  case 5: return -0.18477343022823334f;
  case 6: return -0.09105003625154495f;
  case 7: return 0.0f;
  case 8: return 0.07958029955625534f;
  case 9: return 0.16093020141124725f;
  case 10: return 0.24611230194568634f;
  case 11: return 0.33791524171829224f;
  case 12: return 0.44070982933044434f;
  case 13: return 0.5626170039176941f;
  case 14: return 0.7229568362236023f;
  default: return 1.0f;
  }
}

/// Code `i` of `bits` bits, packed little-endian from `codes`.
MIDLLAMA_HD uint32_t unpackBits(const uint8_t *codes, int64_t i, int32_t bits) {
  int64_t bit = i * bits;
  uint32_t word = codes[bit >> 3];
  if ((bit & 7) + bits > 8)
    word |= uint32_t(codes[(bit >> 3) + 1]) << 8;
  return (word >> (bit & 7)) & ((1u << bits) - 1);
}

/// The value of stored entry `stream` (its index in all stored values; `rowCode` its
/// index within row n's stored values), sitting at logical column `col` of row `n`: how
/// every format decodes one value. Int8 outlier columns are handled by the callers.
MIDLLAMA_HD float storedValue(const DeviceWeight &w, int64_t n, int64_t stream, int64_t rowCode,
                              int64_t col) {
  if (w.nf4) { // one stream, high nibble first, blocks of groupSize
    uint8_t byte = w.codes[stream >> 1];
    return nf4Code((stream & 1) ? byte & 0xf : byte >> 4) *
           static_cast<const float *>(w.scales)[stream / w.groupSize];
  }
  if (w.int8)
    return float(reinterpret_cast<const int8_t *>(w.codes)[stream]) *
           static_cast<const float *>(w.scales)[n];
  if (w.bits) { // affine: (q - zero) * scale of the column's group
    uint32_t q = w.sparse == kNM     ? unpackBits(w.codes + n * w.codeRowBytes, rowCode, w.bits)
                 : w.sparse == kDense ? unpackBits(w.codes + n * w.codeRowBytes, col, w.bits)
                                      : unpackBits(w.codes, stream, w.bits);
    int64_t g = n * w.groups + col / w.groupSize;
    float zero = w.zeros ? float(w.zeros[g]) : float(1 << (w.bits - 1));
    return (float(q) - zero) * loadAs(w.scales, w.dtype, g);
  }
  return loadAs(w.data, w.dtype, stream);
}

/// Logical column of kept value `i` of row `n` of an N:M weight.
MIDLLAMA_HD int64_t nmColumn(const DeviceWeight &w, int64_t n, int64_t i) {
  int32_t bits = 0;
  while ((int64_t(1) << bits) < w.nmM)
    ++bits;
  return (i / w.nmN) * w.nmM + unpackBits(w.index + n * w.indexRowBytes, i, bits);
}

/// Value (n, col) of a weight stored without sparsity (dense or quantized), outliers
/// included.
MIDLLAMA_HD float denseValue(const DeviceWeight &w, int64_t n, int64_t col) {
  if (w.int8)
    for (int64_t o = 0; o < w.numOutliers; ++o)
      if (w.outlierColumns[o] == col)
        return halfBitsToFloat(w.outliers[n * w.numOutliers + o]);
  return storedValue(w, n, n * w.cols + col, col, col);
}

} // namespace midllama::rt::cuda

#endif // MIDLLAMA_RUNTIME_CUDA_KERNELS_DEVICEWEIGHT_H
