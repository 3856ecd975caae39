//===- WeightFormat.cpp - How a compiled weight's bytes encode it ---------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/format/WeightFormat.h"

using namespace midllama::rt;

std::vector<int64_t> midllama::rt::encodeFormatParams(const FormatParams &f) {
  switch (f.kind) {
  case FormatKind::Dense:
    return {};
  // Quantized scales append their block (absent otherwise: artifacts from before read
  // the same).
  case FormatKind::Affine:
    if (f.affine.scaleBlock)
      return {f.affine.bits, f.affine.groupSize, f.affine.symmetric ? 1 : 0, f.affine.scaleBlock};
    return {f.affine.bits, f.affine.groupSize, f.affine.symmetric ? 1 : 0};
  case FormatKind::AffineMin:
    if (f.affineMin.scaleBlock)
      return {f.affineMin.bits, f.affineMin.groupSize, f.affineMin.scaleBlock};
    return {f.affineMin.bits, f.affineMin.groupSize};
  case FormatKind::NF4:
    return {f.nf4.blockSize, f.nf4.doubleQuant ? 1 : 0, f.nf4.dqBlockSize};
  case FormatKind::Int8Outliers:
    return {f.int8.numOutliers};
  }
  return {};
}

namespace {
// Bounds that keep every size computed from them far from overflow.
constexpr int64_t kMax = int64_t(1) << 32;

/// The affine formats' parameters: bits, group size (and symmetric), then the scale block
/// when the scales are codes (absent in artifacts from before it).
bool decodeAffine(const std::vector<int64_t> &v, FormatParams &f, std::string &why) {
  if (v.size() != 3 && v.size() != 4) {
    why = "has " + std::to_string(v.size()) + " format parameters, not 3";
    return false;
  }
  f.kind = FormatKind::Affine;
  f.affine = {v[0], v[1], v[2] != 0, v.size() == 4 ? v[3] : 0};
  if (v[0] < 2 || v[0] > 8 || v[1] < 1 || v[1] > kMax || v[2] < 0 || v[2] > 1 ||
      (v.size() == 4 && (v[3] < 1 || v[3] > kMax)))
    why = "has a bad affine encoding";
  return why.empty();
}

bool decodeAffineMin(const std::vector<int64_t> &v, FormatParams &f, std::string &why) {
  if (v.size() != 2 && v.size() != 3) {
    why = "has " + std::to_string(v.size()) + " format parameters, not 2";
    return false;
  }
  f.kind = FormatKind::AffineMin;
  f.affineMin = {v[0], v[1], v.size() == 3 ? v[2] : 0};
  if (v[0] < 2 || v[0] > 8 || v[1] < 1 || v[1] > kMax ||
      (v.size() == 3 && (v[2] < 1 || v[2] > kMax)))
    why = "has a bad affine-with-minimum encoding";
  return why.empty();
}
} // namespace

bool midllama::rt::decodeFormatParams(uint32_t kind, const std::vector<int64_t> &v,
                                      FormatParams &f, std::string &why) {
  auto arity = [&](size_t n) {
    if (v.size() == n)
      return true;
    why = "has " + std::to_string(v.size()) + " format parameters, not " + std::to_string(n);
    return false;
  };
  f = FormatParams();
  switch (FormatKind(kind)) {
  case FormatKind::Dense:
    return arity(0);
  case FormatKind::Affine:
    return decodeAffine(v, f, why);
  case FormatKind::AffineMin:
    return decodeAffineMin(v, f, why);
  case FormatKind::NF4:
    if (!arity(3))
      return false;
    f.kind = FormatKind::NF4;
    f.nf4 = {v[0], v[1] != 0, v[2]};
    if (v[0] < 1 || v[0] > kMax || v[1] < 0 || v[1] > 1 ||
        (v[1] ? v[2] < 1 || v[2] > kMax : v[2] != 0))
      why = "has a bad NF4 encoding";
    return why.empty();
  case FormatKind::Int8Outliers:
    if (!arity(1))
      return false;
    f.kind = FormatKind::Int8Outliers;
    f.int8 = {v[0]};
    if (v[0] < 0 || v[0] > kMax)
      why = "has a bad int8 + outliers encoding";
    return why.empty();
  }
  why = "has unknown weight format " + std::to_string(kind);
  return false;
}

bool midllama::rt::checkSparsityParams(const SparsityParams &s, std::string &why) {
  bool ok = s.kind == SparsityKind::None || s.kind == SparsityKind::Bitmask ||
            (s.kind == SparsityKind::NM && s.n >= 1 && s.m >= s.n && s.m <= 256);
  if (!ok)
    why = "has a bad sparse encoding";
  return ok;
}

std::string midllama::rt::formatName(const FormatParams &f, DType dtype,
                                     const SparsityParams &s) {
  std::string name;
  switch (f.kind) {
  case FormatKind::Dense:
    name = std::string(dtypeName(dtype));
    break;
  case FormatKind::Affine:
    name = "int" + std::to_string(f.affine.bits) + " g" + std::to_string(f.affine.groupSize) +
           (f.affine.symmetric ? " sym" : "");
    if (f.affine.scaleBlock)
      name += " qscale/" + std::to_string(f.affine.scaleBlock);
    break;
  case FormatKind::AffineMin:
    name = "int" + std::to_string(f.affineMin.bits) + " g" +
           std::to_string(f.affineMin.groupSize) + " min";
    if (f.affineMin.scaleBlock)
      name += " qscale/" + std::to_string(f.affineMin.scaleBlock);
    break;
  case FormatKind::NF4:
    name = "nf4 b" + std::to_string(f.nf4.blockSize) + (f.nf4.doubleQuant ? " dq" : "");
    break;
  case FormatKind::Int8Outliers:
    name = "int8 + fp16 outliers";
    break;
  }
  if (s.kind == SparsityKind::NM)
    name += " " + std::to_string(s.n) + ":" + std::to_string(s.m);
  else if (s.kind == SparsityKind::Bitmask)
    name += " sparse-bitmask";
  return name;
}
