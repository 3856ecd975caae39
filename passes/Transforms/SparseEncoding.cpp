//===- SparseEncoding.cpp - Store a pruned weight compressed --------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "SparseEncoding.h"

#include "midllama/Dialect/LLM/IR/LLMOps.h"
#include "midllama/Dialect/LLM/IR/WeightLayout.h"
#include "midllama/Quantize/Affine.h"
#include "runtime/params/Half.h"

#include <cstring>

using namespace mlir;
using namespace midllama;
using namespace midllama::llm;

namespace {

/// Appends `v` in the weight's element type (f32 or f16) to `bytes`.
void appendValue(std::vector<uint8_t> &bytes, float v, bool half) {
  size_t at = bytes.size();
  if (half) {
    uint16_t h = rt::floatToHalf(v);
    bytes.resize(at + 2);
    std::memcpy(&bytes[at], &h, 2);
  } else {
    bytes.resize(at + 4);
    std::memcpy(&bytes[at], &v, 4);
  }
}

} // namespace

void midllama::encodeSparse(WeightType type, const std::vector<float> &values,
                            const std::vector<uint8_t> &mask, const sparse::Pattern &p,
                            EncodedWeight &out) {
  MLIRContext *ctx = type.getContext();
  int64_t n = type.getShape()[0], k = type.getShape()[1];
  bool half = type.getElementType().isF16();
  rt::DType dtype = half ? rt::DType::F16 : rt::DType::F32;
  out.components.clear();
  if (p.isNM() && k % p.m == 0) {
    out.type = type.withSparsity(NMSparsityAttr::get(ctx, p.n, p.m));
    int64_t perRow = k / p.m * p.n, bits = 0;
    while ((int64_t(1) << bits) < p.m)
      ++bits;
    int64_t rowBytes = (perRow * bits + 7) / 8;
    std::vector<uint8_t> vals, idx(static_cast<size_t>(n * rowBytes), 0);
    for (int64_t r = 0; r < n; ++r) {
      int64_t i = 0;
      for (int64_t c = 0; c < k; ++c)
        if (mask[size_t(r * k + c)]) {
          appendValue(vals, values[size_t(r * k + c)], half);
          quant::packCode(idx.data() + r * rowBytes, i++, int(bits), int(c % p.m));
        }
    }
    out.components.push_back({".values", dtype, {n, perRow}, std::move(vals)});
    out.components.push_back({".indices", rt::DType::U8, {n, rowBytes}, std::move(idx)});
    return;
  }
  int64_t nnz = 0;
  for (uint8_t m : mask)
    nnz += m;
  out.type = type.withSparsity(UnstructuredSparsityAttr::get(ctx, nnz));
  bool compressed = false;
  for (const WeightComponent &c : getWeightLayout(out.type).components)
    compressed |= c.suffix == ".values";
  std::vector<uint8_t> vals;
  if (!compressed) { // dense with explicit zeros is smaller
    for (float v : values)
      appendValue(vals, v, half);
    out.components.push_back({"", dtype, {n, k}, std::move(vals)});
    return;
  }
  int64_t maskBytes = (k + 7) / 8;
  std::vector<uint8_t> bitmask(static_cast<size_t>(n * maskBytes), 0), rowPtr;
  int32_t offset = 0;
  for (int64_t r = 0; r < n; ++r) {
    rowPtr.resize(rowPtr.size() + 4);
    std::memcpy(&rowPtr[rowPtr.size() - 4], &offset, 4);
    for (int64_t c = 0; c < k; ++c)
      if (mask[size_t(r * k + c)]) {
        bitmask[size_t(r * maskBytes + (c >> 3))] |= uint8_t(1u << (c & 7));
        appendValue(vals, values[size_t(r * k + c)], half);
        ++offset;
      }
  }
  rowPtr.resize(rowPtr.size() + 4);
  std::memcpy(&rowPtr[rowPtr.size() - 4], &offset, 4);
  out.components.push_back({".values", dtype, {nnz}, std::move(vals)});
  out.components.push_back({".mask", rt::DType::U8, {n, maskBytes}, std::move(bitmask)});
  out.components.push_back({".row_ptr", rt::DType::I32, {n + 1}, std::move(rowPtr)});
}

bool midllama::storesOnlyKept(WeightType &type, const std::vector<uint8_t> &keep,
                              std::vector<EncodedWeight::Component> &index) {
  MLIRContext *ctx = type.getContext();
  int64_t n = type.getShape()[0], k = type.getShape()[1];
  int64_t nnz = 0;
  for (uint8_t b : keep)
    nnz += b;
  // The pattern as the mask now is (a kept weight that was exactly 0 in dense storage counts
  // as pruned: it is 0 either way).
  WeightSparsityAttrInterface sparsity = type.getSparsity();
  if (isa<UnstructuredSparsityAttr>(sparsity))
    sparsity = UnstructuredSparsityAttr::get(ctx, nnz);
  type = type.withSparsity(sparsity);
  if (!isStoredCompressed(type))
    return false; // dense storage holds the zeros
  EncodedWeight indexOnly;
  std::vector<float> zeros(static_cast<size_t>(n * k), 0.0f);
  sparse::Pattern pattern;
  if (auto nm = dyn_cast<NMSparsityAttr>(sparsity)) {
    pattern.n = nm.getN();
    pattern.m = nm.getM();
  }
  encodeSparse(type.withFormat(nullptr), zeros, keep, pattern, indexOnly);
  for (EncodedWeight::Component &c : indexOnly.components)
    if (c.suffix == ".indices" || c.suffix == ".mask" || c.suffix == ".row_ptr")
      index.push_back(std::move(c));
  return true;
}

bool midllama::keepOnlyKeptCodes(WeightType &type, const std::vector<uint8_t> &keep,
                                 const std::vector<uint8_t> &codes, int64_t rowBytes,
                                 int elemBits, rt::DType codeType, EncodedWeight &out) {
  int64_t n = type.getShape()[0], k = type.getShape()[1];
  std::vector<EncodedWeight::Component> index;
  if (!storesOnlyKept(type, keep, index))
    return false; // the dense codes hold the zeros
  int64_t nnz = 0;
  for (uint8_t b : keep)
    nnz += b;
  auto nm = dyn_cast<NMSparsityAttr>(type.getSparsity());
  int64_t perRow = nm ? k / nm.getM() * nm.getN() : 0;
  int64_t keptRowBytes = nm ? (perRow * elemBits + 7) / 8 : 0;
  int64_t streamBytes = (nnz * elemBits + 7) / 8;
  std::vector<uint8_t> kept(size_t(nm ? n * keptRowBytes : streamBytes), 0);
  std::vector<int64_t> shape = nm ? std::vector<int64_t>{n, keptRowBytes * 8 / elemBits}
                                  : std::vector<int64_t>{streamBytes * 8 / elemBits};
  if (codeType == rt::DType::U8) // bit-packed codes: the shape counts bytes
    shape = nm ? std::vector<int64_t>{n, keptRowBytes} : std::vector<int64_t>{streamBytes};
  int64_t stream = 0;
  for (int64_t r = 0; r < n; ++r) {
    int64_t i = 0;
    for (int64_t c = 0; c < k; ++c) {
      if (!keep[size_t(r * k + c)])
        continue;
      int q = quant::unpackCode(codes.data() + r * rowBytes, c, elemBits);
      if (nm)
        quant::packCode(kept.data() + r * keptRowBytes, i++, elemBits, q);
      else
        quant::packCode(kept.data(), stream++, elemBits, q);
    }
  }
  for (EncodedWeight::Component &c : out.components)
    if (c.suffix == ".qweight")
      c = {".qweight", codeType, shape, std::move(kept)};
  for (EncodedWeight::Component &c : index)
    out.components.push_back(std::move(c));
  return true;
}

void midllama::encodeAffineSparse(WeightType type, const quant::AffineMatrix &m,
                                  const quant::AffineParams &p, const std::vector<uint8_t> &keep,
                                  EncodedWeight &out) {
  encodeAffine(type, m, p, out); // dense codes, scales, zeros
  WeightType t = out.type;
  keepOnlyKeptCodes(t, keep, m.codes, m.rowBytes, p.bits, rt::DType::U8, out);
  out.type = t;
}
