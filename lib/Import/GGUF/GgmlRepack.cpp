//===- GgmlRepack.cpp - ggml blocks as midllama weight tensors ------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Block layouts (ggml-common.h): block_q8_0 {fp16 d; int8 qs[32]}, block_q4_0 {fp16 d;
// uint8 qs[16]}, block_q4_1 {fp16 d; fp16 m; uint8 qs[16]}; in a 4-bit block, byte j holds
// value j in its low nibble and value j + 16 in its high nibble. midllama's 4-bit codes
// are packed in column order, two per byte, low nibble first (docs/weights.md).
//
//===----------------------------------------------------------------------===//

#include "midllama/Import/GGUF/GgmlRepack.h"

#include "midllama/Import/GGUF/GgmlDequantize.h"

#include <cstring>

using namespace midllama;
using namespace midllama::gguf;

namespace {

/// Bytes of one block of 32 values, and where its fp16 fields and codes start.
struct Block {
  int64_t bytes;
  int64_t codesAt; // after d (and m)
};

Block blockOf(TensorType type) {
  switch (type) {
  case TensorType::Q8_0: return {34, 2};
  case TensorType::Q4_0: return {18, 2};
  default: return {20, 4}; // Q4_1
  }
}

/// The 32 codes of a block in midllama's order: Q8_0's int8 shifted to [0, 256) around the
/// zero 128, packed 4-bit nibbles put in column order.
void blockCodes(TensorType type, const uint8_t *block, uint8_t *dst) {
  const uint8_t *qs = block + blockOf(type).codesAt;
  if (type == TensorType::Q8_0) {
    for (int j = 0; j < 32; ++j)
      dst[j] = uint8_t(int(int8_t(qs[j])) + 128);
    return;
  }
  uint8_t values[32];
  for (int j = 0; j < 16; ++j) {
    values[j] = qs[j] & 0xF;
    values[j + 16] = qs[j] >> 4;
  }
  for (int j = 0; j < 16; ++j)
    dst[j] = uint8_t(values[2 * j] | values[2 * j + 1] << 4);
}

} // namespace

std::vector<KeptTensor> midllama::gguf::keptTensors(TensorType type, int64_t cols) {
  int64_t groups = cols / 32;
  switch (type) {
  case TensorType::F32: return {{"", rt::DType::F32, cols}};
  case TensorType::F16: return {{"", rt::DType::F16, cols}};
  case TensorType::BF16: return {{"", rt::DType::BF16, cols}};
  case TensorType::Q8_0:
    return {{".qweight", rt::DType::U8, cols}, {".scales", rt::DType::F16, groups}};
  case TensorType::Q4_0:
    return {{".qweight", rt::DType::U8, cols / 2}, {".scales", rt::DType::F16, groups}};
  case TensorType::Q4_1:
    return {{".qweight", rt::DType::U8, cols / 2},
            {".scales", rt::DType::F16, groups},
            {".mins", rt::DType::F16, groups}};
  case TensorType::Q5_0:
    return {{".qweight", rt::DType::U8, cols * 5 / 8}, {".scales", rt::DType::F16, groups}};
  case TensorType::Q5_1:
    return {{".qweight", rt::DType::U8, cols * 5 / 8},
            {".scales", rt::DType::F16, groups},
            {".mins", rt::DType::F16, groups}};
  case TensorType::Q4_K: // 6-bit sub-block scale and minimum codes (a byte each), fp16 d, -dmin
  case TensorType::Q5_K:
    return {{".qweight", rt::DType::U8, cols * (type == TensorType::Q4_K ? 4 : 5) / 8},
            {".scales", rt::DType::U8, groups},
            {".scale_scales", rt::DType::F16, cols / 256},
            {".mins", rt::DType::U8, groups},
            {".min_scales", rt::DType::F16, cols / 256}};
  case TensorType::Q6_K: // int8 sub-block scales, fp16 d
    return {{".qweight", rt::DType::U8, cols * 6 / 8},
            {".scales", rt::DType::I8, cols / 16},
            {".scale_scales", rt::DType::F16, cols / 256}};
  default:
    return {};
  }
}

namespace {

/// `count` codes `bits` wide into the zeroed row `dst` from code `first` on, little-endian
/// (midllama's affine layout: code i at bits [i·bits, (i + 1)·bits) of the row).
void putCodes(const uint8_t *codes, int count, int bits, int64_t first, uint8_t *dst) {
  for (int i = 0; i < count; ++i) {
    const int64_t bit = (first + i) * bits;
    const uint32_t code = uint32_t(codes[i]) << (bit & 7);
    dst[bit >> 3] |= uint8_t(code);
    if ((bit & 7) + bits > 8)
      dst[(bit >> 3) + 1] |= uint8_t(code >> 8);
  }
}

/// One row of K-quant super-blocks as tensor `which` of keptTensors: its codes packed
/// `bits` wide from the row's first bit, little-endian (midllama's affine layout); the
/// sub-block scale codes and their fp16 d per super-block; Q4_K/Q5_K the minimum codes
/// and -dmin.
void repackKQuantRow(TensorType type, size_t which, const uint8_t *src, int64_t cols,
                     uint8_t *dst) {
  const int bits = type == TensorType::Q4_K ? 4 : type == TensorType::Q5_K ? 5 : 6;
  const int64_t blockBytes = type == TensorType::Q4_K ? 144 : type == TensorType::Q5_K ? 176 : 210;
  const int perBlock = type == TensorType::Q6_K ? 16 : 8; // sub-blocks of 256 values
  if (which == 0)
    std::memset(dst, 0, size_t(cols * bits / 8));
  uint8_t codes[256], scaleCodes[16], minCodes[8];
  float scales[16], mins[8];
  uint16_t supers[2];
  for (int64_t b = 0; b < cols / 256; ++b, src += blockBytes) {
    if (which == 0) {
      kQuantBlock(type, src, codes, scales, mins);
      putCodes(codes, 256, bits, 256 * b, dst);
      continue;
    }
    kQuantScaleCodes(type, src, scaleCodes, minCodes, supers);
    if (which == 1 || which == 3) // scale (minimum) codes
      std::memcpy(dst + perBlock * b, which == 1 ? scaleCodes : minCodes, size_t(perBlock));
    else // d (-dmin)
      std::memcpy(dst + 2 * b, &supers[which == 2 ? 0 : 1], 2);
  }
}

/// One row of Q5_0/Q5_1 blocks: the 5-bit codes packed from the row's first bit, or the
/// blocks' fp16 d (which 1) or m (which 2) as stored.
void repackQ5Row(TensorType type, size_t which, const uint8_t *src, int64_t cols, uint8_t *dst) {
  const int64_t blockBytes = type == TensorType::Q5_1 ? 24 : 22;
  if (which == 0)
    std::memset(dst, 0, size_t(cols * 5 / 8));
  uint8_t codes[32];
  for (int64_t b = 0; b < cols / 32; ++b, src += blockBytes) {
    if (which != 0) {
      std::memcpy(dst + 2 * b, src + 2 * (which - 1), 2);
      continue;
    }
    q5BlockCodes(type, src, codes);
    putCodes(codes, 32, 5, 32 * b, dst);
  }
}

} // namespace

void midllama::gguf::repackRow(TensorType type, size_t which, const uint8_t *src,
                               int64_t cols, uint8_t *dst) {
  if (type == TensorType::F32 || type == TensorType::F16 || type == TensorType::BF16) {
    std::memcpy(dst, src, size_t(cols * (type == TensorType::F32 ? 4 : 2))); // stored as is
    return;
  }
  if (type == TensorType::Q4_K || type == TensorType::Q5_K || type == TensorType::Q6_K)
    return repackKQuantRow(type, which, src, cols, dst);
  if (type == TensorType::Q5_0 || type == TensorType::Q5_1)
    return repackQ5Row(type, which, src, cols, dst);
  Block block = blockOf(type);
  int64_t codesPerBlock = type == TensorType::Q8_0 ? 32 : 16;
  for (int64_t b = 0; b < cols / 32; ++b, src += block.bytes) {
    if (which == 0)
      blockCodes(type, src, dst + b * codesPerBlock);
    else // the fp16 scale d (1) or minimum m (2), as stored
      std::memcpy(dst + 2 * b, src + 2 * (which - 1), 2);
  }
}
