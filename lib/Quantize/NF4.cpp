//===- NF4.cpp - NormalFloat4 quantization (QLoRA) ------------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Quantize/NF4.h"
#include "runtime/format/Codebooks.h"

#include <algorithm>
#include <cmath>

using namespace midllama::quant;

const std::array<float, 16> midllama::quant::kNF4Values = [] {
  std::array<float, 16> v{};
  for (int i = 0; i < 16; ++i)
    v[i] = rt::kNF4Values[i]; // one table, the runtime format's
  return v;
}();

const std::array<float, 256> &midllama::quant::dynamicCode8() {
  return rt::dynamicCode8(); // runtime/format's table: the runtime decodes with it
}

namespace {

/// The NF4 code of a normalized value: the number of midpoints strictly below it (so a
/// value on a midpoint takes the lower code), as torch.bucketize does.
uint8_t nf4Code(float scaled) {
  uint8_t q = 0;
  for (int i = 0; i < 15; ++i) {
    float mid = (kNF4Values[i] + kNF4Values[i + 1]) / 2.0f;
    q += mid < scaled;
  }
  return q;
}

/// bitsandbytes' CPU blockwise 8-bit quantization: the left neighbor by binary search
/// (with the code's first value taken as -1), then the right one if strictly closer.
uint8_t code8(const std::array<float, 256> &code, float x) {
  auto at = [&](int i) { return i == 0 ? -1.0f : code[i]; };
  int lo = 0, hi = 255;
  if (x < at(0))
    return 0;
  while (lo < hi) { // largest i with at(i) <= x
    int mid = (lo + hi + 1) / 2;
    if (at(mid) <= x)
      lo = mid;
    else
      hi = mid - 1;
  }
  int idx = lo;
  if (idx < 255 && std::fabs(x - at(idx + 1)) < std::fabs(x - at(idx)))
    ++idx;
  return uint8_t(idx);
}

} // namespace

NF4Tensor midllama::quant::quantizeNF4(const float *values, int64_t n, int64_t blockSize,
                                       bool doubleQuant) {
  NF4Tensor t;
  t.doubleQuant = doubleQuant;
  int64_t full = n - n % blockSize, blocks = (n + blockSize - 1) / blockSize;
  std::vector<float> absmax(static_cast<size_t>(blocks));
  std::vector<uint8_t> q(size_t(n + (n % 2)));
  for (int64_t b = 0; b < blocks; ++b) {
    int64_t begin = b * blockSize, end = std::min(n, begin + blockSize);
    float m = 0.0f;
    for (int64_t i = begin; i < end; ++i)
      m = std::max(m, std::fabs(values[i]));
    if (begin < full) { // a whole block: scaled by the reciprocal, absmax kept as is
      float inv = 1.0f / std::max(m, 1e-38f);
      absmax[b] = m;
      for (int64_t i = begin; i < end; ++i)
        q[i] = nf4Code(std::clamp(values[i] * inv, -1.0f, 1.0f));
    } else { // the short tail: divided, and its absmax stored clamped
      float am = std::max(m, 1e-38f);
      absmax[b] = am;
      for (int64_t i = begin; i < end; ++i)
        q[i] = nf4Code(std::clamp(values[i] / am, -1.0f, 1.0f));
    }
  }
  if (n % 2)
    q[n] = nf4Code(0.0f);
  t.codes.resize(q.size() / 2);
  for (size_t i = 0; i < t.codes.size(); ++i)
    t.codes[i] = uint8_t(q[2 * i] << 4 | q[2 * i + 1]);
  if (!doubleQuant) {
    t.absmax = std::move(absmax);
    return t;
  }
  // The mean, accumulated in double and rounded once (torch's reduction is exact enough
  // to agree on these sizes), subtracted in float32, then 8-bit blocks of 256.
  double sum = 0;
  for (float a : absmax)
    sum += a;
  t.absmaxOffset = float(sum / double(blocks));
  const std::array<float, 256> &code = dynamicCode8();
  int64_t blocks2 = (blocks + 255) / 256;
  t.qabsmax.resize(size_t(blocks));
  t.absmaxScale.resize(size_t(blocks2));
  for (int64_t b2 = 0; b2 < blocks2; ++b2) {
    int64_t begin = b2 * 256, end = std::min(blocks, begin + 256);
    float m = 0.0f;
    for (int64_t i = begin; i < end; ++i)
      m = std::max(m, std::fabs(absmax[i] - t.absmaxOffset));
    t.absmaxScale[b2] = m;
    for (int64_t i = begin; i < end; ++i)
      t.qabsmax[i] = code8(code, (absmax[i] - t.absmaxOffset) / m);
  }
  return t;
}

std::vector<float> midllama::quant::nf4Absmax(const NF4Tensor &t) {
  if (!t.doubleQuant)
    return t.absmax;
  const std::array<float, 256> &code = dynamicCode8();
  std::vector<float> out(t.qabsmax.size());
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = code[t.qabsmax[i]] * t.absmaxScale[i / 256] + t.absmaxOffset;
  return out;
}

float midllama::quant::nf4Value(const NF4Tensor &t, const std::vector<float> &absmax, int64_t i,
                                int64_t blockSize) {
  uint8_t byte = t.codes[size_t(i / 2)];
  int q = i % 2 ? byte & 0xf : byte >> 4;
  return kNF4Values[size_t(q)] * absmax[size_t(i / blockSize)];
}
