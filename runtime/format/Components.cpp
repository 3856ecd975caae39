//===- Components.cpp - The tensors that store a compiled weight ----------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/format/Components.h"

using namespace midllama::rt;

namespace {

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// Bits of one N:M position: ceil(log2 M).
int64_t positionBits(int64_t m) {
  int64_t bits = 0;
  while ((int64_t(1) << bits) < m)
    ++bits;
  return bits;
}

/// `bitsPerValue`-bit codes of the stream in `dtype` elements: one byte-aligned row each
/// when the stream is row-aligned, else one flat array.
Component packed(const char *suffix, const ValueStream &s, int64_t bitsPerValue, DType dtype) {
  int64_t elemBits = dtypeSize(dtype) * 8;
  if (s.rowAligned)
    return {suffix, dtype, {s.rows, ceilDiv(s.perRow * bitsPerValue, elemBits)}};
  return {suffix, dtype, {ceilDiv(s.total * bitsPerValue, elemBits)}};
}

} // namespace

ValueStream midllama::rt::valueStreamOf(const WeightInfo &info, int64_t kept) {
  ValueStream s;
  s.rows = info.shape.size() == 2 ? info.shape[0] : 1;
  int64_t k = info.shape.empty() ? 0 : info.shape.back();
  s.perRow = k;
  if (info.sparsity.kind == SparsityKind::NM && info.sparsity.m > 0)
    s.perRow = k / info.sparsity.m * info.sparsity.n;
  s.total = s.rows * s.perRow;
  if (info.sparsity.kind == SparsityKind::Bitmask) {
    s.total = kept;
    s.rowAligned = false;
  }
  return s;
}

std::vector<Component> midllama::rt::componentsOf(const WeightInfo &info, int64_t kept) {
  ValueStream s = valueStreamOf(info, kept);
  int64_t k = info.shape.empty() ? 0 : info.shape.back();
  bool sparse = info.sparsity.kind != SparsityKind::None;
  std::vector<Component> out;
  const FormatParams &f = info.format;
  switch (f.kind) {
  case FormatKind::Dense:
    if (!sparse)
      out.push_back({"", info.dtype, info.storedShape()});
    else
      out.push_back(packed(".values", s, dtypeSize(info.dtype) * 8, info.dtype));
    break;
  case FormatKind::Affine: {
    int64_t groups = ceilDiv(k, f.affine.groupSize);
    out.push_back(packed(".qweight", s, f.affine.bits, DType::U8));
    if (int64_t block = f.affine.scaleBlock) { // int8 codes times a super-scale per block
      out.push_back({".scales", DType::I8, {s.rows, groups}});
      out.push_back({".scale_scales", info.dtype, {s.rows, ceilDiv(groups, block)}});
    } else {
      out.push_back({".scales", info.dtype, {s.rows, groups}});
    }
    if (!f.affine.symmetric)
      out.push_back({".zeros", DType::U8, {s.rows, groups}});
    break;
  }
  case FormatKind::AffineMin: {
    int64_t groups = ceilDiv(k, f.affineMin.groupSize);
    out.push_back(packed(".qweight", s, f.affineMin.bits, DType::U8));
    if (int64_t block = f.affineMin.scaleBlock) { // uint8 codes times super-values
      out.push_back({".scales", DType::U8, {s.rows, groups}});
      out.push_back({".scale_scales", info.dtype, {s.rows, ceilDiv(groups, block)}});
      out.push_back({".mins", DType::U8, {s.rows, groups}});
      out.push_back({".min_scales", info.dtype, {s.rows, ceilDiv(groups, block)}});
      break;
    }
    out.push_back({".scales", info.dtype, {s.rows, groups}});
    out.push_back({".mins", info.dtype, {s.rows, groups}});
    break;
  }
  case FormatKind::NF4: { // blocks over the flattened value stream, as in bitsandbytes
    int64_t blocks = ceilDiv(s.total, f.nf4.blockSize);
    out.push_back({".qweight", DType::U8, {ceilDiv(s.total, 2)}});
    if (f.nf4.doubleQuant) {
      out.push_back({".absmax", DType::U8, {blocks}});
      out.push_back({".absmax_scale", DType::F32, {ceilDiv(blocks, f.nf4.dqBlockSize)}});
      out.push_back({".absmax_offset", DType::F32, {1}});
    } else {
      out.push_back({".absmax", DType::F32, {blocks}});
    }
    break;
  }
  case FormatKind::Int8Outliers: {
    out.push_back(packed(".qweight", s, 8, DType::I8));
    out.push_back({".row_scale", DType::F32, {s.rows}});
    int64_t c = f.int8.numOutliers;
    if (c > 0) { // the columns live in the IR type; the compiler stores them for the kernel
      out.push_back({".outlier_columns", DType::I32, {c}});
      out.push_back({".outliers", DType::F16, {s.rows, c}});
    }
    break;
  }
  }
  if (info.sparsity.kind == SparsityKind::NM) {
    out.push_back({".indices", DType::U8,
                   {s.rows, ceilDiv(s.perRow * positionBits(info.sparsity.m), 8)}});
  } else if (info.sparsity.kind == SparsityKind::Bitmask) {
    out.push_back({".mask", DType::U8, {s.rows, ceilDiv(k, 8)}});
    out.push_back({".row_ptr", DType::I32, {s.rows + 1}});
  }
  return out;
}
