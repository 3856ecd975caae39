//===- NF4.cpp - NormalFloat4 quantization (QLoRA) ------------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Quantize/NF4.h"
#include "midllama/Numerics/TorchSum.h"
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

/// bitsandbytes' CPU blockwise 8-bit code search (csrc/cpu_ops.cpp, as in 0.50.2): a
/// table over 65536 evenly spaced points of [-1, 1], each holding the code whose midpoints
/// lie below it, read at round((x + 1) / 2 · 65535). Not always the nearest code: a point
/// stands for 2/65535 of the range, wider than the dynamic code's gaps near 0 (measured:
/// 0.15% of normal values, more near 0); reproduced as is, so that codes compare equal.
class Code8Search {
public:
  explicit Code8Search(const std::array<float, 256> &code) {
    float mid[255];
    for (int i = 0; i < 255; ++i)
      mid[i] = 0.5f * (code[i] + code[i + 1]);
    int c = 0;
    for (int i = 0; i < kPoints; ++i) {
      float x = -1.0f + (2.0f * float(i)) / float(kPoints - 1);
      while (c < 255 && mid[c] < x)
        ++c;
      table_[size_t(i)] = uint8_t(c);
    }
  }
  uint8_t operator()(float x) const {
    x = std::isnan(x) ? 0.0f : std::clamp(x, -1.0f, 1.0f); // no NaN into the integer cast
    float scaled = (x + 1.0f) * 0.5f; // each step rounded in float32, as compiled there
    scaled = scaled * float(kPoints - 1);
    scaled = scaled + 0.5f;
    return table_[size_t(uint16_t(scaled))];
  }

private:
  static constexpr int kPoints = 65536;
  std::array<uint8_t, kPoints> table_{};
};

const Code8Search &code8Search() {
  static const Code8Search search(dynamicCode8());
  return search;
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
  // bitsandbytes: offset = absmax.mean() (torch's float32 sum, in its order, divided in
  // float32), absmax - offset in float32, then 8-bit blocks of 256 (an all-zero block
  // keeps scale 0 and code 0).
  t.absmaxOffset = numerics::torchMeanF32(absmax.data(), blocks);
  const Code8Search &search = code8Search();
  int64_t blocks2 = (blocks + 255) / 256;
  t.qabsmax.resize(size_t(blocks));
  t.absmaxScale.resize(size_t(blocks2));
  std::vector<float> centered(static_cast<size_t>(blocks));
  for (int64_t i = 0; i < blocks; ++i)
    centered[size_t(i)] = absmax[size_t(i)] - t.absmaxOffset;
  for (int64_t b2 = 0; b2 < blocks2; ++b2) {
    int64_t begin = b2 * 256, end = std::min(blocks, begin + 256);
    float m = 0.0f;
    for (int64_t i = begin; i < end; ++i)
      m = std::max(m, std::fabs(centered[size_t(i)]));
    t.absmaxScale[b2] = m;
    float inv = m == 0.0f ? 0.0f : 1.0f / m;
    for (int64_t i = begin; i < end; ++i)
      t.qabsmax[i] = m == 0.0f ? 0 : search(centered[size_t(i)] * inv);
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
