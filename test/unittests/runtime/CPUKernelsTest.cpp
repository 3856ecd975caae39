//===- CPUKernelsTest.cpp - CPU kernels against straightforward code -------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Each kernel against a plain re-statement of its definition (double precision, no
// threads, no fusion), on odd sizes, for every weight type the kernels read, and with the
// thread pool both off and on.
//
//===----------------------------------------------------------------------===//

#include "runtime/cpu/Kernels.h"
#include "runtime/artifact/Program.h"
#include "runtime/format/Codebooks.h"
#include "runtime/params/Half.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

using namespace midllama::rt;
using namespace midllama::rt::cpu;

namespace {

std::vector<float> randomVector(size_t n, uint64_t seed, float scale = 1.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(rng);
  return v;
}

uint16_t toHalf(float f) { // round to nearest even, normal range only (test values)
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  uint32_t sign = (bits >> 16) & 0x8000;
  int32_t exp = int32_t((bits >> 23) & 0xff) - 127 + 15;
  uint32_t mant = bits & 0x7fffff;
  if (exp <= 0)
    return uint16_t(sign);
  uint32_t h = sign | (uint32_t(exp) << 10) | (mant >> 13);
  uint32_t rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
    ++h;
  return uint16_t(h);
}

float fromHalf(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  uint32_t bits = exp == 0 ? sign : sign | ((exp + 112) << 23) | (mant << 13);
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

/// A weight stored as `dtype`, and the fp32 values it holds.
struct TestWeight {
  std::vector<uint8_t> bytes;
  std::vector<float> values;
  WeightRef ref;
  TestWeight(int64_t rows, int64_t cols, DType dtype, uint64_t seed) {
    std::vector<float> v = randomVector(size_t(rows * cols), seed, 0.3f);
    values.resize(v.size());
    bytes.resize(v.size() * size_t(dtypeSize(dtype)));
    for (size_t i = 0; i < v.size(); ++i) {
      if (dtype == DType::F32) {
        values[i] = v[i];
        std::memcpy(&bytes[4 * i], &v[i], 4);
      } else if (dtype == DType::F16) {
        uint16_t h = toHalf(v[i]);
        values[i] = fromHalf(h);
        std::memcpy(&bytes[2 * i], &h, 2);
      } else {
        uint32_t bits;
        std::memcpy(&bits, &v[i], 4);
        uint16_t b = uint16_t(bits >> 16);
        uint32_t back = uint32_t(b) << 16;
        std::memcpy(&values[i], &back, 4);
        std::memcpy(&bytes[2 * i], &b, 2);
      }
    }
    ref = WeightRef{bytes.data(), dtype, rows, cols};
  }
  /// Repacks the bytes into panels of 16 rows (the artifact's matmul layout).
  void pack() {
    int64_t elem = dtypeSize(ref.dtype), panels = (ref.rows + 15) / 16;
    std::vector<uint8_t> packed(size_t(panels * 16 * ref.cols * elem));
    packPanel16(bytes.data(), ref.rows, ref.cols, elem, packed.data());
    bytes = std::move(packed);
    ref.data = bytes.data();
    ref.panels = true;
  }
};

class CPUKernelsTest : public ::testing::TestWithParam<int> {
protected:
  void SetUp() override { setThreadCount(GetParam()); }
  void TearDown() override { setThreadCount(0); }
};

TEST_P(CPUKernelsTest, MatMulEveryWeightType) {
  const int64_t rows = 3, k = 67, n = 1031; // odd sizes; n large enough to use the threads
  std::vector<float> x = randomVector(size_t(8 * k), 1);
  for (DType dtype : {DType::F32, DType::F16, DType::BF16})
    for (bool panels : {false, true})
      for (int64_t rowCount : {int64_t(1), int64_t(7), rows}) { // decode, 6-row blocks + tail
        TestWeight w(n, k, dtype, 2);
        if (panels)
          w.pack();
        std::vector<float> y(size_t(rowCount * n));
        matmul(x.data(), y.data(), rowCount, w.ref);
        for (int64_t r = 0; r < rowCount; ++r)
          for (int64_t j = 0; j < n; ++j) {
            double expected = 0;
            for (int64_t c = 0; c < k; ++c)
              expected += double(x[r * k + c]) * w.values[j * k + c];
            ASSERT_NEAR(y[r * n + j], expected, 1e-4)
                << dtypeName(dtype) << (panels ? " panels" : "") << " rows " << rowCount
                << " [" << r << ", " << j << "]";
          }
      }
}

TEST_P(CPUKernelsTest, EmbeddingReadsBothLayouts) {
  TestWeight table(37, 24, DType::F16, 12), packed(37, 24, DType::F16, 12);
  packed.pack();
  int64_t tokens[3] = {0, 36, 17};
  std::vector<float> a(3 * 24), b(3 * 24);
  embed(tokens, 3, table.ref, a.data());
  embed(tokens, 3, packed.ref, b.data());
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t c = 0; c < 24; ++c) {
      ASSERT_EQ(a[r * 24 + c], table.values[tokens[r] * 24 + c]);
      ASSERT_EQ(b[r * 24 + c], a[r * 24 + c]);
    }
}

TEST_P(CPUKernelsTest, GateUpSwiGLUIsSiLUOfGateTimesUp) {
  const int64_t rows = 7, k = 33, n = 517;
  std::vector<float> x = randomVector(size_t(rows * k), 3);
  TestWeight g(n, k, DType::F16, 4), u(n, k, DType::F16, 5);
  g.pack();
  u.pack();
  std::vector<float> fused(size_t(rows * n)), gate(fused.size()), up(fused.size()),
      separate(fused.size());
  gateUpSwiGLU(x.data(), fused.data(), rows, g.ref, u.ref);
  matmul(x.data(), gate.data(), rows, g.ref);
  matmul(x.data(), up.data(), rows, u.ref);
  swiglu(gate.data(), up.data(), separate.data(), int64_t(fused.size()));
  for (size_t i = 0; i < fused.size(); ++i) {
    double gv = gate[i];
    ASSERT_NEAR(separate[i], gv / (1 + std::exp(-gv)) * up[i], 1e-5);
    ASSERT_FLOAT_EQ(fused[i], separate[i]);
  }
}

TEST_P(CPUKernelsTest, RMSNormAndFusedAdd) {
  const int64_t rows = 3, width = 19;
  std::vector<float> a = randomVector(size_t(rows * width), 6), b = randomVector(a.size(), 7);
  TestWeight w(1, width, DType::F32, 8);
  std::vector<float> sum(a.size()), out(a.size()), ref(a.size());
  addRMSNorm(a.data(), b.data(), sum.data(), out.data(), rows, width, w.ref, 1e-5f);
  for (int64_t r = 0; r < rows; ++r) {
    double ss = 0;
    for (int64_t c = 0; c < width; ++c) {
      double s = double(a[r * width + c]) + b[r * width + c];
      ASSERT_FLOAT_EQ(sum[r * width + c], float(s));
      ss += s * s;
    }
    double inv = 1 / std::sqrt(ss / width + 1e-5);
    for (int64_t c = 0; c < width; ++c)
      ASSERT_NEAR(out[r * width + c], sum[r * width + c] * inv * w.values[c], 1e-5);
  }
}

/// Attention as defined: rotate (pairs by convention), causal softmax over all cached
/// positions, grouped KV heads; prefill of `rows` tokens then one decode token.
void checkAttention(bool interleaved, int64_t rotaryDim, int64_t headDim = 8, int64_t heads = 4,
                    int64_t kvHeads = 2, int64_t total = 6) {
  AttentionParams p{heads, kvHeads, headDim, rotaryDim, 0.3f, 10000.0f, interleaved};
  const int64_t ctx = total + 10, kvw = p.kvHeads * p.headDim, qw = p.heads * p.headDim;
  std::vector<float> kCache(size_t(keyCacheStride(ctx) * kvw)), vCache(size_t(ctx * kvw));
  std::vector<float> qAll = randomVector(size_t(total * qw), 9),
                     kAll = randomVector(size_t(total * kvw), 10),
                     vAll = randomVector(size_t(total * kvw), 11);
  // Reference: rotate all, then attend.
  auto rotate = [&](std::vector<float> &x, int64_t width, int64_t heads, int64_t row, int64_t pos) {
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < rotaryDim / 2; ++i) {
        double angle = pos * std::pow(10000.0, -2.0 * i / rotaryDim);
        float *head = &x[row * width + h * p.headDim];
        int64_t ia = interleaved ? 2 * i : i, ib = interleaved ? 2 * i + 1 : i + rotaryDim / 2;
        double a = head[ia], b = head[ib];
        head[ia] = float(a * std::cos(angle) - b * std::sin(angle));
        head[ib] = float(a * std::sin(angle) + b * std::cos(angle));
      }
  };
  std::vector<float> qr = qAll, kr = kAll;
  for (int64_t t = 0; t < total; ++t) {
    rotate(qr, qw, p.heads, t, t);
    rotate(kr, kvw, p.kvHeads, t, t);
  }
  auto reference = [&](int64_t t, int64_t h, int64_t d) {
    int64_t kvh = h / (p.heads / p.kvHeads);
    std::vector<double> s(size_t(t + 1));
    double m = -1e300, z = 0, o = 0;
    for (int64_t j = 0; j <= t; ++j) {
      double dot = 0;
      for (int64_t e = 0; e < p.headDim; ++e)
        dot += double(qr[t * qw + h * p.headDim + e]) * kr[j * kvw + kvh * p.headDim + e];
      s[j] = dot * p.scale;
      m = std::max(m, s[j]);
    }
    for (int64_t j = 0; j <= t; ++j)
      z += std::exp(s[j] - m);
    for (int64_t j = 0; j <= t; ++j)
      o += std::exp(s[j] - m) / z * vAll[j * kvw + kvh * p.headDim + d];
    return o;
  };
  // Prefill all tokens but the last, then decode the last against the cache.
  for (auto [begin, count] : {std::pair<int64_t, int64_t>{0, total - 1}, {total - 1, 1}}) {
    std::vector<float> q(qAll.begin() + begin * qw, qAll.begin() + (begin + count) * qw);
    std::vector<float> k(kAll.begin() + begin * kvw, kAll.begin() + (begin + count) * kvw);
    std::vector<float> v(vAll.begin() + begin * kvw, vAll.begin() + (begin + count) * kvw);
    std::vector<int64_t> pos(static_cast<size_t>(count), 0);
    for (int64_t i = 0; i < count; ++i)
      pos[i] = begin + i;
    std::vector<float> out(size_t(count * qw));
    attention(q.data(), k.data(), v.data(), out.data(), pos.data(), count, kCache.data(),
              vCache.data(), ctx, p);
    for (int64_t i = 0; i < count; ++i)
      for (int64_t h = 0; h < p.heads; ++h)
        for (int64_t d = 0; d < p.headDim; ++d)
          ASSERT_NEAR(out[i * qw + h * p.headDim + d], reference(begin + i, h, d), 2e-5)
              << "token " << begin + i << " head " << h << " dim " << d;
  }
}

TEST_P(CPUKernelsTest, AttentionHalfSplitRotary) { checkAttention(false, 8); }
TEST_P(CPUKernelsTest, AttentionInterleavedRotary) { checkAttention(true, 8); }
TEST_P(CPUKernelsTest, AttentionPartialRotary) { checkAttention(false, 4); }
TEST_P(CPUKernelsTest, AttentionWithoutRotary) { checkAttention(false, 0); }
// The attention kernels' shapes: head dims of 4, 5, 8 and 10 chunks of 16 (the last one
// partial or not: the value kernels' register blocks and the wider-head path), GQA groups
// of 3, 2 and 1, and more than 64 positions (two value tiles; in a block of 4 tokens the
// queries attend to different lengths).
TEST_P(CPUKernelsTest, AttentionShapes) {
  checkAttention(false, 8, 64, 9, 3, 70);
  checkAttention(false, 16, 72, 4, 2, 67);
  checkAttention(false, 8, 128, 6, 3, 20);
  checkAttention(false, 8, 152, 2, 1, 66);
}

/// The fp16 KV cache (setHalfKVCache): the kernels widen what they read and compute as with
/// the fp32 cache, so without rotation (the cached keys are the inputs) the outputs equal,
/// bit for bit, the fp32 cache's for keys and values rounded to fp16 beforehand; with
/// rotation (rounded after it) they stay within fp16's rounding of the fp32 cache's.
/// Prefill of all tokens but the last, then the last one's decode.
void checkHalfCacheAttention(int64_t headDim, int64_t heads, int64_t kvHeads, int64_t total,
                             int64_t rotaryDim) {
  AttentionParams p{heads, kvHeads, headDim, rotaryDim, 0.3f, 10000.0f, false};
  const int64_t ctx = total + 5, kvw = kvHeads * headDim, qw = heads * headDim;
  const std::vector<float> qAll = randomVector(size_t(total * qw), 21),
                           kAll = randomVector(size_t(total * kvw), 22),
                           vAll = randomVector(size_t(total * kvw), 23);
  auto rounded = [](std::vector<float> x) {
    for (float &f : x)
      f = halfToFloat(floatToHalf(f));
    return x;
  };
  const std::vector<float> kRounded = rounded(kAll), vRounded = rounded(vAll);
  std::vector<uint16_t> kHalf(size_t(keyCacheStride(ctx, true) * kvw + kHalfKVCachePadding)),
      vHalf(size_t(ctx * kvw + kHalfKVCachePadding));
  std::vector<float> kCache(size_t(keyCacheStride(ctx) * kvw)), vCache(size_t(ctx * kvw)),
      kExact(kCache.size()), vExact(vCache.size());
  // An output moves by about one fp16 step (2^-11, relative) of its values and of its
  // scores, which sum headDim products of rounded keys (about scale·√headDim for these
  // unit normal inputs): 3x that bound (measured: 0.2-0.5 of it).
  const double bound = 3 * std::ldexp(1.0, -11) * (1 + p.scale * std::sqrt(double(headDim)));
  for (auto [begin, count] : {std::pair<int64_t, int64_t>{0, total - 1}, {total - 1, 1}}) {
    auto rows = [&](const std::vector<float> &all, int64_t width) {
      return std::vector<float>(all.begin() + begin * width, all.begin() + (begin + count) * width);
    };
    std::vector<int64_t> pos(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i)
      pos[size_t(i)] = begin + i;
    std::vector<float> q = rows(qAll, qw), k = rows(kAll, kvw), half(size_t(count * qw));
    attention(q.data(), k.data(), rows(vAll, kvw).data(), half.data(), pos.data(), count,
              kHalf.data(), vHalf.data(), ctx, p);
    q = rows(qAll, qw), k = rows(kRounded, kvw);
    std::vector<float> fromRounded(half.size());
    attention(q.data(), k.data(), rows(vRounded, kvw).data(), fromRounded.data(), pos.data(),
              count, kCache.data(), vCache.data(), ctx, p);
    q = rows(qAll, qw), k = rows(kAll, kvw);
    std::vector<float> exact(half.size());
    attention(q.data(), k.data(), rows(vAll, kvw).data(), exact.data(), pos.data(), count,
              kExact.data(), vExact.data(), ctx, p);
    for (size_t i = 0; i < half.size(); ++i) {
      if (rotaryDim == 0)
        ASSERT_EQ(half[i], fromRounded[i]) << "output " << i << " of tokens from " << begin;
      ASSERT_NEAR(half[i], exact[i], bound) << "output " << i << " of tokens from " << begin;
    }
  }
}

TEST_P(CPUKernelsTest, AttentionHalfCache) {
  checkHalfCacheAttention(8, 4, 2, 6, 0);
  checkHalfCacheAttention(64, 9, 3, 70, 0);  // the four-query value path, two value tiles
  checkHalfCacheAttention(72, 4, 2, 67, 0);  // a partial last chunk of 16 features
  checkHalfCacheAttention(128, 6, 3, 20, 0); // wider heads
  checkHalfCacheAttention(64, 9, 3, 70, 64);
  checkHalfCacheAttention(72, 4, 2, 67, 16);
}

/// The ways groups of integer codes are decoded: zero points, the implicit zero, a minimum.
enum class GroupKind { ZeroPoints, Symmetric, Minimum };
const char *groupKindName(GroupKind kind) {
  return kind == GroupKind::ZeroPoints ? " asym" : kind == GroupKind::Symmetric ? " sym" : " min";
}

/// The value of code q of a group, written out: (q - zero) * scale, the implicit zero
/// 2^(bits-1) when symmetric, or q * scale + min.
float groupReference(GroupKind kind, int bits, uint32_t q, float zero, float scale, float min) {
  if (kind == GroupKind::Minimum)
    return float(q) * scale + min;
  return (float(q) - (kind == GroupKind::Symmetric ? float(1 << (bits - 1)) : zero)) * scale;
}

/// A dense [n, k] weight of `bits`-bit codes in groups of `group` columns, its scales (and
/// minima) of `dtype`, zero points only for GroupKind::ZeroPoints.
WeightRef codeGroupWeight(GroupKind kind, DType dtype, int64_t n, int64_t k, int bits,
                          int64_t group, const uint8_t *codes, const void *scales,
                          const uint8_t *zeros, const void *mins) {
  WeightRef w;
  w.dtype = dtype;
  w.rows = n;
  w.cols = k;
  w.format = kind == GroupKind::Minimum ? FormatKind::AffineMin : FormatKind::Affine;
  w.bits = bits;
  w.groupSize = group;
  w.groups = (k + group - 1) / group;
  w.codeRowBytes = (k * bits + 7) / 8;
  w.codes = codes;
  w.scales = scales;
  w.zeros = kind == GroupKind::ZeroPoints ? zeros : nullptr;
  w.mins = kind == GroupKind::Minimum ? mins : nullptr;
  return w;
}

/// Affine weights of every width, with zero points, symmetric or with a minimum (ggml's
/// Q4_1 grid), a short tail group: dequantization against w = (q - zero) * scale (or
/// q * scale + min) written out bit by bit.
void checkAffineDequantization(int64_t k) {
  const int64_t n = 37, group = 16, groups = (k + group - 1) / group;
  std::mt19937_64 rng(13);
  for (int bits = 2; bits <= 8; ++bits)
    for (GroupKind kind : {GroupKind::ZeroPoints, GroupKind::Symmetric, GroupKind::Minimum}) {
      int64_t rowBytes = (k * bits + 7) / 8;
      std::vector<uint8_t> codes(size_t(n * rowBytes), 0), zeros(size_t(n * groups));
      std::vector<float> scales(size_t(n * groups)), mins(size_t(n * groups));
      std::vector<float> dense(size_t(n * k));
      std::vector<uint32_t> q(size_t(n * k));
      for (int64_t i = 0; i < n * k; ++i)
        q[i] = uint32_t(rng() % (1u << bits));
      for (auto &z : zeros)
        z = uint8_t(rng() % (1u << bits));
      for (auto &sc : scales)
        sc = 0.01f * float(1 + rng() % 100);
      for (auto &m : mins)
        m = -0.013f * float(rng() % 100);
      for (int64_t r = 0; r < n; ++r)
        for (int64_t c = 0; c < k; ++c) {
          for (int b = 0; b < bits; ++b) // little-endian bit stream along the row
            if (q[r * k + c] >> b & 1) {
              int64_t bit = c * bits + b;
              codes[r * rowBytes + bit / 8] |= uint8_t(1u << (bit % 8));
            }
          int64_t g = r * groups + c / group;
          dense[r * k + c] =
              groupReference(kind, bits, q[r * k + c], float(zeros[g]), scales[g], mins[g]);
        }
      WeightRef w = codeGroupWeight(kind, DType::F32, n, k, bits, group, codes.data(),
                                    scales.data(), zeros.data(), mins.data());
      std::vector<float> row(static_cast<size_t>(k));
      for (int64_t r = 0; r < n; ++r) {
        dequantizeRow(w, r, row.data());
        for (int64_t c = 0; c < k; ++c)
          ASSERT_EQ(row[c], dense[r * k + c])
              << bits << " bits" << groupKindName(kind) << ", [" << r << ", " << c << "]";
      }
      for (int64_t rows : {1, 3, 5}) { // decode in place (K = 48), prefill
      std::vector<float> x = randomVector(size_t(rows * k), 14), y(size_t(rows * n));
      matmul(x.data(), y.data(), rows, w);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < n; ++j) {
          double expected = 0, magnitude = 0; // fp32 rounding scales with the terms' sizes
          for (int64_t c = 0; c < k; ++c) {
            expected += double(x[r * k + c]) * dense[j * k + c];
            magnitude += std::fabs(double(x[r * k + c]) * dense[j * k + c]);
          }
          ASSERT_NEAR(y[r * n + j], expected, 1e-6 * magnitude + 1e-6)
              << bits << " bits" << groupKindName(kind) << " rows " << rows;
        }
      }
    }
}

TEST_P(CPUKernelsTest, AffineDequantizationAndMatMul) {
  // K = 45: codes across byte boundaries everywhere; K = 48: rows of whole 8-code words.
  for (int64_t k : {45, 48})
    checkAffineDequantization(k);
}


// Pruned weights stored compressed: the kernels expand each row from the kept values and
// their bitmask (unstructured) or 2-bit positions (2:4), and compute what the dense matrix
// with explicit zeros gives.
void checkSparseWeights(int64_t rows, int64_t k) {
  const int64_t n = 37;
  for (DType dtype : {DType::F32, DType::F16}) {
    TestWeight dense(n, k, dtype, 31);
    std::vector<float> x = randomVector(size_t(rows * k), 32), zeroed = dense.values;
    int64_t elem = dtypeSize(dtype);
    // 2:4: keep positions (r + run) % 4 and (r + run + 1) % 4 of each run.
    std::vector<uint8_t> nmValues, nmIdx(size_t(n * (k / 2 * 2 + 7) / 8), 0);
    std::vector<uint8_t> bmValues, mask(size_t(n * ((k + 7) / 8)), 0);
    std::vector<int32_t> rowPtr = {0};
    for (int64_t r = 0; r < n; ++r) {
      int64_t kept = 0;
      for (int64_t c = 0; c < k; ++c) {
        int64_t run = c / 4, pos = c % 4;
        bool keep = pos == (r + run) % 4 || pos == (r + run + 1) % 4;
        const uint8_t *src = dense.bytes.data() + (r * k + c) * elem;
        if (!keep) {
          zeroed[size_t(r * k + c)] = 0.0f;
          continue;
        }
        nmValues.insert(nmValues.end(), src, src + elem);
        bmValues.insert(bmValues.end(), src, src + elem);
        int64_t i = r * (k / 2) + kept++; // value index; 2 bits each, rows byte-aligned
        int64_t bit = (i - r * (k / 2)) * 2, rowByte = r * ((k / 2 * 2 + 7) / 8);
        nmIdx[size_t(rowByte + (bit >> 3))] |= uint8_t(pos << (bit & 7));
        mask[size_t(r * ((k + 7) / 8) + (c >> 3))] |= uint8_t(1u << (c & 7));
      }
      rowPtr.push_back(rowPtr.back() + int32_t(kept));
    }
    std::vector<float> expect(size_t(rows * n)), got(expect.size());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t c = 0; c < k; ++c)
          s += double(x[size_t(r * k + c)]) * zeroed[size_t(j * k + c)];
        expect[size_t(r * n + j)] = float(s);
      }
    WeightRef nm{nmValues.data(), dtype, n, k};
    nm.sparse = SparsityKind::NM;
    nm.nmN = 2;
    nm.nmM = 4;
    nm.index = nmIdx.data();
    nm.indexRowBytes = (k / 2 * 2 + 7) / 8;
    WeightRef bm{bmValues.data(), dtype, n, k};
    bm.sparse = SparsityKind::Bitmask;
    bm.index = mask.data();
    bm.rowPtr = rowPtr.data();
    for (const WeightRef *w : {&nm, &bm}) {
      matmul(x.data(), got.data(), rows, *w);
      for (size_t i = 0; i < got.size(); ++i)
        EXPECT_NEAR(got[i], expect[i], 1e-4f * (1 + std::fabs(expect[i]))) << i;
      std::vector<float> row(static_cast<size_t>(k));
      dequantizeRow(*w, 3, row.data());
      EXPECT_EQ(row, std::vector<float>(zeroed.begin() + 3 * k, zeroed.begin() + 4 * k));
    }
  }
}

TEST_P(CPUKernelsTest, SparseWeightsMatchTheirDenseForm) {
  // 1 and 3 rows: fp32 bitmask weights decode in place (K = 24: a 16-column step and a tail
  // of 8; 96: a 64-column step, then two of 16; 200: three of 64 and a tail of 8), and 2:4
  // ones where K is a multiple of 32 (96: three steps; MatMulNMAVX512.cpp); 5 rows: the
  // prefill path.
  for (int64_t k : {24, 96, 200})
    for (int64_t rows : {1, 2, 3, 5})
      checkSparseWeights(rows, k);
}

// A pruned and quantized weight: the codes of the kept values only (row-aligned for 2:4,
// one stream for a bitmask), each dequantized with the group of its logical column.
TEST_P(CPUKernelsTest, SparseAffineWeightsDecodeByLogicalColumn) {
  const int64_t n = 5, k = 16, gs = 8, groups = 2, perRow = k / 2;
  std::mt19937 rng(7);
  std::vector<float> scales(size_t(n * groups));
  for (float &v : scales)
    v = 0.01f + 0.01f * float(rng() % 10);
  std::vector<float> expect(size_t(n * k), 0.0f);
  std::vector<uint8_t> nmCodes(size_t(n * perRow / 2), 0), nmIdx(size_t(n * perRow * 2 / 8), 0);
  std::vector<uint8_t> bmCodes(size_t(n * perRow / 2), 0), mask(size_t(n * 2), 0);
  std::vector<int32_t> rowPtr = {0};
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t i = 0; i < perRow; ++i) {
      int64_t run = i / 2, pos = (i % 2 == 0) ? (r % 2) : 2 + (r + run) % 2;
      int64_t col = run * 4 + pos;
      int code = int(rng() % 16);
      expect[size_t(r * k + col)] = float(code - 8) * scales[size_t(r * groups + col / gs)];
      // 2:4: codes row-aligned (4 bits, low nibble first), positions 2 bits each.
      nmCodes[size_t(r * perRow / 2 + i / 2)] |= uint8_t(code << ((i % 2) * 4));
      nmIdx[size_t(r * perRow * 2 / 8 + (i * 2) / 8)] |= uint8_t(pos << ((i * 2) % 8));
      // Bitmask: the same values, codes in one stream.
      int64_t v = r * perRow + i;
      bmCodes[size_t(v / 2)] |= uint8_t(code << ((v % 2) * 4));
      mask[size_t(r * 2 + col / 8)] |= uint8_t(1u << (col % 8));
    }
    rowPtr.push_back(int32_t((r + 1) * perRow));
  }
  WeightRef nm{nullptr, DType::F32, n, k};
  nm.format = FormatKind::Affine;
  nm.bits = 4;
  nm.groupSize = gs;
  nm.groups = groups;
  nm.scales = scales.data();
  nm.codes = nmCodes.data();
  nm.codeRowBytes = perRow / 2;
  nm.sparse = SparsityKind::NM;
  nm.nmN = 2;
  nm.nmM = 4;
  nm.index = nmIdx.data();
  nm.indexRowBytes = perRow * 2 / 8;
  WeightRef bm = nm;
  bm.codes = bmCodes.data();
  bm.codeRowBytes = 0;
  bm.sparse = SparsityKind::Bitmask;
  bm.index = mask.data();
  bm.rowPtr = rowPtr.data();
  std::vector<float> x = randomVector(size_t(3 * k), 9), got(size_t(3 * n));
  for (const WeightRef *w : {&nm, &bm}) {
    std::vector<float> row(static_cast<size_t>(k));
    for (int64_t r = 0; r < n; ++r) {
      dequantizeRow(*w, r, row.data());
      EXPECT_EQ(row, std::vector<float>(expect.begin() + r * k, expect.begin() + (r + 1) * k));
    }
    matmul(x.data(), got.data(), 3, *w);
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double d = 0;
        for (int64_t c = 0; c < k; ++c)
          d += double(x[size_t(i * k + c)]) * expect[size_t(j * k + c)];
        EXPECT_NEAR(got[size_t(i * n + j)], d, 1e-5 * (1 + std::fabs(d)));
      }
  }
}

// A pruned NF4 weight: one 4-bit stream over the kept values only (high nibble first),
// blocks of `blockSize` values of that stream with one absmax each, placed by the mask.
TEST_P(CPUKernelsTest, SparseNF4WeightsDecodeTheKeptStream) {
  const int64_t n = 7, k = 12, perRow = k / 2, blockSize = 4; // blocks straddle rows
  std::mt19937 rng(11);
  int64_t total = n * perRow;
  std::vector<float> absmax(size_t((total + blockSize - 1) / blockSize));
  for (float &a : absmax)
    a = 0.05f + 0.01f * float(rng() % 10);
  std::vector<float> expect(size_t(n * k), 0.0f);
  const int64_t idxRowBytes = (perRow * 2 + 7) / 8; // 2-bit positions, rows byte-aligned
  std::vector<uint8_t> codes(size_t((total + 1) / 2), 0), nmIdx(size_t(n * idxRowBytes), 0);
  std::vector<uint8_t> mask(size_t(n * 2), 0);
  std::vector<int32_t> rowPtr = {0};
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t i = 0; i < perRow; ++i) {
      int64_t run = i / 2, pos = (i % 2 == 0) ? (r + run) % 2 : 2 + r % 2;
      int64_t col = run * 4 + pos, v = r * perRow + i;
      int code = int(rng() % 16);
      expect[size_t(r * k + col)] = kNF4Values[code] * absmax[size_t(v / blockSize)];
      codes[size_t(v / 2)] |= uint8_t(v % 2 ? code : code << 4);
      nmIdx[size_t(r * idxRowBytes + (i * 2) / 8)] |= uint8_t(pos << ((i * 2) % 8));
      mask[size_t(r * 2 + col / 8)] |= uint8_t(1u << (col % 8));
    }
    rowPtr.push_back(int32_t((r + 1) * perRow));
  }
  WeightRef nm{nullptr, DType::F32, n, k};
  nm.bits = 4;
  nm.format = FormatKind::NF4;
  nm.groupSize = blockSize;
  nm.scales = absmax.data();
  nm.codes = codes.data();
  nm.sparse = SparsityKind::NM;
  nm.nmN = 2;
  nm.nmM = 4;
  nm.index = nmIdx.data();
  nm.indexRowBytes = idxRowBytes;
  WeightRef bm = nm; // the same stream, placed by a bitmask
  bm.sparse = SparsityKind::Bitmask;
  bm.index = mask.data();
  bm.rowPtr = rowPtr.data();
  std::vector<float> x = randomVector(size_t(3 * k), 12), got(size_t(3 * n));
  for (const WeightRef *w : {&nm, &bm}) {
    std::vector<float> row(static_cast<size_t>(k));
    for (int64_t r = 0; r < n; ++r) {
      dequantizeRow(*w, r, row.data());
      EXPECT_EQ(row, std::vector<float>(expect.begin() + r * k, expect.begin() + (r + 1) * k));
    }
    matmul(x.data(), got.data(), 3, *w);
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double d = 0;
        for (int64_t c = 0; c < k; ++c)
          d += double(x[size_t(i * k + c)]) * expect[size_t(j * k + c)];
        EXPECT_NEAR(got[size_t(i * n + j)], d, 1e-5 * (1 + std::fabs(d)));
      }
  }
}

// Decode of 4- and 8-bit weights in whole groups of 32 columns (1-3 input rows) takes a
// path that never expands a row (AVX-512 where the CPU has it): same products as the dense
// form, for groups of 32, 64 and 128 (a tail group), with zero points, symmetric or with a minimum, fp32 and
// fp16 scales (and minima).
TEST_P(CPUKernelsTest, GroupCodeDecodeMatchesItsDenseForm) {
  const int64_t n = 21, k = 192;
  std::mt19937_64 rng(17);
  for (int bits : {4, 8})
    for (int64_t group : {32, 64, 128}) // 128: a group and a 64-column tail
      for (GroupKind kind : {GroupKind::ZeroPoints, GroupKind::Symmetric, GroupKind::Minimum})
        for (DType scaleType : {DType::F32, DType::F16}) {
          int64_t groups = (k + group - 1) / group, rowBytes = k * bits / 8;
          std::vector<uint8_t> codes(size_t(n * rowBytes)), zeros(size_t(n * groups));
          std::vector<float> scales(size_t(n * groups)), mins(scales.size());
          std::vector<float> dense(size_t(n * k));
          std::vector<uint16_t> halfScales(scales.size()), halfMins(scales.size());
          for (auto &c : codes)
            c = uint8_t(rng());
          for (auto &z : zeros)
            z = uint8_t(rng() % (1u << bits));
          for (size_t i = 0; i < scales.size(); ++i) {
            halfScales[i] = toHalf(0.01f * float(1 + rng() % 100));
            scales[i] = scaleType == DType::F16 ? fromHalf(halfScales[i]) : 0.01f * float(1 + rng() % 100);
            halfMins[i] = toHalf(-0.013f * float(rng() % 100));
            mins[i] = scaleType == DType::F16 ? fromHalf(halfMins[i]) : -0.013f * float(rng() % 100);
          }
          for (int64_t r = 0; r < n; ++r)
            for (int64_t c = 0; c < k; ++c) {
              int q = bits == 8 ? codes[size_t(r * rowBytes + c)]
                                : (codes[size_t(r * rowBytes + c / 2)] >> ((c & 1) * 4)) & 0xf;
              size_t g = size_t(r * groups + c / group);
              dense[size_t(r * k + c)] =
                  groupReference(kind, bits, uint32_t(q), float(zeros[g]), scales[g], mins[g]);
            }
          bool half = scaleType == DType::F16;
          WeightRef w = codeGroupWeight(
              kind, scaleType, n, k, bits, group, codes.data(),
              half ? static_cast<const void *>(halfScales.data()) : scales.data(), zeros.data(),
              half ? static_cast<const void *>(halfMins.data()) : mins.data());
          for (int64_t rows : {1, 2, 3, 5}) {
            std::vector<float> x = randomVector(size_t(rows * k), 18), y(size_t(rows * n));
            matmul(x.data(), y.data(), rows, w);
            for (int64_t r = 0; r < rows; ++r)
              for (int64_t j = 0; j < n; ++j) {
                double expected = 0, magnitude = 0;
                for (int64_t c = 0; c < k; ++c) {
                  expected += double(x[size_t(r * k + c)]) * dense[size_t(j * k + c)];
                  magnitude += std::fabs(double(x[size_t(r * k + c)]) * dense[size_t(j * k + c)]);
                }
                ASSERT_NEAR(y[size_t(r * n + j)], expected, 2e-6 * magnitude + 1e-6)
                    << bits << " bits, group " << group << groupKindName(kind) << " rows " << rows;
              }
          }
        }
}

/// A random affine weight of `bits` in groups (zero points, symmetric or minimum; fp32 or
/// fp16 scales) with its parts kept for the reference, and the same weight tiled as the
/// loader tiles it (CodeTiles.cpp) from a copy of the codes that `overwrite` then spoils
/// for the tiled rows (rows 0-31 of n = 37 at 4 bits; all 48 at 8, tiled whole or not at
/// all), so that a kernel reading the row-major codes instead of the tiles fails.
struct RandomCodeGroups {
  int bits;
  int64_t n, k, group, groups, rowBytes;
  GroupKind kind;
  std::vector<uint8_t> codes, zeros, scribbled, tileStorage;
  std::vector<float> scales, mins;
  std::vector<uint16_t> halfScales, halfMins;
  // Scales that are codes (ggml's K-quants, `scaleBlock` > 0): codes and fp32 supers, the
  // fp32 `scales`/`mins` then their products, as the loader decodes them (BindWeight.cpp).
  std::vector<uint8_t> scaleCodes, minCodes;
  std::vector<float> scaleSupers, minSupers;
  WeightRef w, tiled;

  RandomCodeGroups(int bits, int64_t k, int64_t group, GroupKind kind, DType scaleType,
                   bool overwrite, std::mt19937_64 &rng, int64_t scaleBlock = 0)
      : bits(bits), n(bits == 4 ? 37 : 48), k(k), group(group), // 5, 8 bits: whole tiles
        groups((k + group - 1) / group), rowBytes(k * bits / 8), kind(kind) {
    codes.resize(size_t(n * rowBytes));
    zeros.resize(size_t(n * groups));
    scales.resize(size_t(n * groups));
    mins.resize(scales.size());
    halfScales.resize(scales.size());
    halfMins.resize(scales.size());
    for (auto &c : codes)
      c = uint8_t(rng());
    for (auto &z : zeros)
      z = uint8_t(rng() % (1u << bits));
    for (size_t i = 0; i < scales.size(); ++i) {
      halfScales[i] = toHalf(0.01f * float(1 + rng() % 100));
      halfMins[i] = toHalf(-0.013f * float(rng() % 100));
      scales[i] = fromHalf(halfScales[i]);
      mins[i] = fromHalf(halfMins[i]);
    }
    const bool half = scaleType == DType::F16 && !scaleBlock;
    if (scaleBlock)
      codeScales(scaleBlock, rng);
    w = codeGroupWeight(kind, scaleBlock ? DType::F32 : scaleType, n, k, bits, group,
                        codes.data(),
                        half ? static_cast<const void *>(halfScales.data()) : scales.data(),
                        zeros.data(),
                        half ? static_cast<const void *>(halfMins.data()) : mins.data());
    if (scaleBlock) {
      w.scaleBlock = scaleBlock;
      w.scaleCodes = scaleCodes.data();
      w.scaleSupers = scaleSupers.data();
      w.minCodes = kind == GroupKind::Minimum ? minCodes.data() : nullptr;
      w.minSupers = kind == GroupKind::Minimum ? minSupers.data() : nullptr;
    }
    scribbled = codes;
    tiled = w;
    tiled.codes = scribbled.data();
    EXPECT_TRUE(codeTilesApply(tiled));
    packCodeTiles(tiled, tileStorage);
    if (overwrite)
      std::fill(scribbled.begin(), scribbled.begin() + n / 16 * 16 * rowBytes, uint8_t(0x5a));
  }

  /// Scale codes (int8 without a minimum, as ggml's Q6_K; uint8 with one, as Q4_K) times
  /// fp32 supers per `block` groups of a row, into `scales` (and `mins`).
  void codeScales(int64_t block, std::mt19937_64 &rng) {
    const int64_t supers = (groups + block - 1) / block;
    scaleCodes.resize(scales.size());
    minCodes.resize(scales.size());
    scaleSupers.resize(size_t(n * supers));
    minSupers.resize(scaleSupers.size());
    for (size_t i = 0; i < scaleSupers.size(); ++i) {
      scaleSupers[i] = fromHalf(toHalf(0.0003f * float(1 + rng() % 50)));
      minSupers[i] = -fromHalf(toHalf(0.0005f * float(rng() % 50)));
    }
    for (int64_t r = 0; r < n; ++r)
      for (int64_t g = 0; g < groups; ++g) {
        const size_t i = size_t(r * groups + g), u = size_t(r * supers + g / block);
        scaleCodes[i] = uint8_t(rng() % 64);
        minCodes[i] = uint8_t(rng() % 64);
        const float code =
            kind == GroupKind::Minimum ? float(scaleCodes[i]) : float(int8_t(scaleCodes[i] - 32));
        if (kind != GroupKind::Minimum)
          scaleCodes[i] = uint8_t(int8_t(scaleCodes[i] - 32)); // signed, some negative
        scales[i] = scaleSupers[u] * code;
        mins[i] = minSupers[u] * float(minCodes[i]);
      }
  }

  /// Weight (j, c) in double, from the kept parts.
  double value(int64_t j, int64_t c) const {
    const int64_t bit = c * bits; // codes little-endian from the row's first bit
    uint32_t word = codes[size_t(j * rowBytes + bit / 8)];
    if (bit % 8 + bits > 8)
      word |= uint32_t(codes[size_t(j * rowBytes + bit / 8 + 1)]) << 8;
    int q = int((word >> (bit % 8)) & ((1u << bits) - 1));
    size_t g = size_t(j * groups + c / group);
    return groupReference(kind, bits, uint32_t(q), float(zeros[g]), scales[g], mins[g]);
  }
};

// With int8 activations (setInt8Activations), 4-bit weights in groups of 32 or 64 meet the
// input quantized per 32 columns (scale absmax/127, nearest even): the product equals
// Σ_b sx_b Σ_i w_i·xq_i computed in double from the same codes, for zero points, symmetric
// and minimum groups, fp32 and fp16 scales, 1 to 3 rows (decode: codes read in place,
// MatMulW4A8Decode.cpp; k = 160: an odd number of blocks; k = 2240: 70 groups) and 4 to 9
// (the panel kernel), and a panel tail (n = 37), row-major and tiled (RandomCodeGroups);
// with a scale per weight group of 64 or 96 columns too (ONNX Runtime's convention, the
// last span shorter: k = 160 is 96 + 64);
// 5-, 6- and 8-bit weights too, tiled (6 bits also in ggml's Q6_K groups of 16), and 2-
// and 3-bit ones tiled for decode (their prefill keeps fp32 activations); and it stays
// within the activations' rounding of the fp32 product.
TEST_P(CPUKernelsTest, CodesWithInt8ActivationsMatchTheirQuantizedInputs) {
  std::mt19937_64 rng(23);
  setInt8Activations(true);
  for (int bits : {2, 3, 4, 5, 6, 8})
  for (int64_t k : {160, 2240}) // 2240 in groups of 32: more than 64 groups a row
  for (int64_t group : {16, 32, 64, 96}) // 64, 96: a shorter last group; 16: 6 bits (Q6_K)
    for (GroupKind kind : {GroupKind::ZeroPoints, GroupKind::Symmetric, GroupKind::Minimum})
      for (DType scaleType : {DType::F32, DType::F16}) {
        if (group == 16 && bits != 6)
          continue;
        // Without VNNI the fp32 path runs, from the row-major codes: they must stay.
        RandomCodeGroups m(bits, k, group, kind, scaleType, int8ActivationsAvailable(), rng);
        const int64_t n = m.n;
        // 5, 6 and 8 bits untiled: the fp32 path (not this test's subject).
        for (bool useTiles : {false, true})
        for (bool followGroups : {false, true}) // a scale per 32 columns, or per group
        for (int64_t rows : {1, 2, 3, 4, 5, 9}) {
          if ((bits != 4 && !useTiles) || (followGroups && group <= 32))
            continue;
          setInt8ScalesFollowWeightGroups(followGroups);
          const int64_t span = followGroups ? group : 32;
          std::vector<float> x = randomVector(size_t(rows * k), 19), y(size_t(rows * n));
          matmul(x.data(), y.data(), rows, useTiles ? m.tiled : m.w);
          for (int64_t r = 0; r < rows; ++r) {
            // The input row as the kernel quantizes it: the scale from the span's maximum.
            std::vector<double> xq(static_cast<size_t>(k)), halfStep(xq.size());
            for (int64_t b = 0; b < k / 32; ++b) {
              float absmax = 0;
              const int64_t first = 32 * b / span * span, last = std::min(k, first + span);
              for (int64_t i = first; i < last; ++i)
                absmax = std::max(absmax, std::fabs(x[size_t(r * k + i)]));
              float s = absmax / 127.0f, inv = s > 0 ? 1.0f / s : 0.0f;
              std::fill(halfStep.begin() + 32 * b, halfStep.begin() + 32 * b + 32, s / 2.0);
              for (int i = 0; i < 32; ++i)
                xq[size_t(32 * b + i)] =
                    double(s) * double(std::nearbyint(x[size_t(r * k + 32 * b + i)] * inv));
            }
            for (int64_t j = 0; j < n; ++j) {
              double expected = 0, exact = 0, magnitude = 0, rounding = 0;
              for (int64_t c = 0; c < k; ++c) {
                double wv = m.value(j, c);
                expected += wv * xq[size_t(c)];
                exact += wv * double(x[size_t(r * k + c)]);
                magnitude += std::fabs(wv * double(x[size_t(r * k + c)]));
                rounding += std::fabs(wv) * halfStep[size_t(c)];
              }
              // Without VNNI (or with MIDLLAMA_NO_AVX512) the fp32 path runs instead.
              const bool int8Path = int8ActivationsAvailable() && (bits > 3 || rows < 4);
              ASSERT_NEAR(y[size_t(r * n + j)], int8Path ? expected : exact,
                          2e-6 * magnitude + 1e-6)
                  << bits << " bits, group " << group << groupKindName(kind) << " rows "
                  << rows << " [" << r << ", " << j << "]" << (useTiles ? " tiled" : "")
                  << (followGroups ? " scaled per group" : "");
              // Each input off by at most half a step of its block's scale.
              EXPECT_NEAR(y[size_t(r * n + j)], exact, rounding + 2e-6 * magnitude + 1e-6);
            }
          }
        }
      }
  setInt8ScalesFollowWeightGroups(false);
  setInt8Activations(false);
}

// Where the CPU has AVX-512 the loader tiles 2- to 6- and 8-bit affine weights (CodeTiles.cpp)
// and the fp32-activation kernels read the tiles: decode (1-3 rows, MatMulTilesAVX512.cpp)
// and the prefill's decoded panels (4 or more rows) give the row-major kernels' products up
// to fp32 summation order, for zero points, symmetric and minimum groups, fp32 and fp16
// scales, odd block counts and short last groups, 6-bit groups of 16 columns, with the
// tiled rows' originals overwritten (RandomCodeGroups) and row-major tail rows (n = 37).
TEST_P(CPUKernelsTest, TiledCodesMatchRowMajorWithFP32Activations) {
  std::mt19937_64 rng(29);
  for (int bits : {2, 3, 4, 5, 6, 8})
  for (int64_t k : {160, 2240})
  for (int64_t group : {16, 32, 64, 96}) // 16: 6 bits only (ggml's Q6_K)
    for (GroupKind kind : {GroupKind::Symmetric, GroupKind::Minimum, GroupKind::ZeroPoints})
      for (DType scaleType : {DType::F32, DType::F16}) {
        if (group == 16 && bits != 6)
          continue;
        // Without AVX-512 no kernel reads tiles: the originals must stay.
        RandomCodeGroups m(bits, k, group, kind, scaleType, codeTilesWanted(), rng);
        const int64_t n = m.n;
        for (int64_t rows : {1, 2, 3, 4, 5, 9}) {
          std::vector<float> x = randomVector(size_t(rows * k), 31), y(size_t(rows * n)),
                             yt(y.size());
          matmul(x.data(), y.data(), rows, m.w);
          matmul(x.data(), yt.data(), rows, m.tiled);
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t j = 0; j < n; ++j) {
              double magnitude = 0;
              for (int64_t c = 0; c < k; ++c)
                magnitude += std::fabs(m.value(j, c) * double(x[size_t(r * k + c)]));
              ASSERT_NEAR(yt[size_t(r * n + j)], y[size_t(r * n + j)], 4e-6 * magnitude + 1e-6)
                  << bits << " bits, group " << group << groupKindName(kind) << " k " << k
                  << " rows " << rows << " [" << r << ", " << j << "]";
            }
        }
      }
}

// ggml's K-quants keep their scales as codes times super-scales; tiled, the codes stay
// codes (TileValues.h) and every kernel that reads tiles (fp32 activations: decode and
// prefill panels; int8 activations: decode and prefill) must give the row-major product
// with the loader's decoded fp32 scales: Q4_K/Q5_K-like (minimum, uint8 codes, 8 groups
// of 32 per super), Q6_K-like (symmetric 6 bits, int8 codes, 16 groups of 16), zero points
// with int8 codes, and a super block that does not divide the groups (k = 160); weights
// tiled whole also with their decoded scales dropped, as the loader drops them.
TEST_P(CPUKernelsTest, TiledCodedScalesMatchTheirDecodedScales) {
  std::mt19937_64 rng(41);
  struct Case {
    int bits;
    int64_t group, block;
    GroupKind kind;
  };
  for (const Case &c :
       {Case{4, 32, 8, GroupKind::Minimum}, Case{5, 32, 8, GroupKind::Minimum},
        Case{6, 16, 16, GroupKind::Symmetric}, Case{4, 32, 4, GroupKind::ZeroPoints},
        Case{8, 64, 2, GroupKind::Symmetric}})
    for (int64_t k : {160, 2304})
      for (bool int8 : {false, true}) {
        RandomCodeGroups m(c.bits, k, c.group, c.kind, DType::F32, codeTilesWanted(), rng,
                           c.block);
        // Tiled whole, the loader drops the decoded fp32 scales (Model::dropDecodedScales):
        // the tiles and the row decode (an embedding lookup) then read the codes alone.
        if (codeTilesWanted() && m.n % 16 == 0) {
          m.tiled.scales = m.tiled.mins = nullptr;
          WeightRef lookup = m.tiled; // the codes as the file has them (the tiles' are spoilt)
          lookup.codes = m.codes.data();
          std::vector<float> row(static_cast<size_t>(k));
          for (int64_t j : {int64_t(0), m.n - 1}) {
            dequantizeRow(lookup, j, row.data());
            for (int64_t i = 0; i < k; ++i)
              ASSERT_NEAR(row[size_t(i)], m.value(j, i), 1e-6 * std::fabs(m.value(j, i)))
                  << c.bits << " bits, row " << j << ", column " << i;
          }
        }
        setInt8Activations(int8);
        for (int64_t rows : {1, 2, 3, 4, 9}) {
          std::vector<float> x = randomVector(size_t(rows * k), 43), y(size_t(rows * m.n)),
                             yt(y.size());
          setInt8Activations(false); // the reference: row-major, fp32 activations
          matmul(x.data(), y.data(), rows, m.w);
          setInt8Activations(int8);
          matmul(x.data(), yt.data(), rows, m.tiled);
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t j = 0; j < m.n; ++j) {
              double magnitude = 0, halfStep = 0;
              for (int64_t i = 0; i < k; ++i) {
                magnitude += std::fabs(m.value(j, i) * double(x[size_t(r * k + i)]));
                halfStep += std::fabs(m.value(j, i)) / 254.0; // |x| < 1: int8 steps
              }
              const double tolerance =
                  4e-6 * magnitude + 1e-6 + (int8 && int8ActivationsAvailable() ? halfStep : 0);
              ASSERT_NEAR(yt[size_t(r * m.n + j)], y[size_t(r * m.n + j)], tolerance)
                  << c.bits << " bits, group " << c.group << " block " << c.block
                  << groupKindName(c.kind) << " k " << k << " rows " << rows
                  << (int8 ? " int8" : "") << " [" << r << ", " << j << "]";
            }
        }
      }
  setInt8Activations(false);
}

// NF4 decode with blocks on row boundaries (1-3 input rows) indexes the code book in
// registers (AVX-512 where the CPU has it); blocks of 32 and 64, and a K whose blocks
// straddle rows (the row-expanding path), all equal to the dense form. Blocks within rows
// are tiled too, as the loader tiles them (the code book looked up per lane): the tiled
// decode and prefill panels (4 or more rows) equal the dense form as well, with the tiled
// rows' stream overwritten (a kernel reading it instead fails) and row-major tail rows.
TEST_P(CPUKernelsTest, NF4DecodeMatchesItsDenseForm) {
  std::mt19937_64 rng(19);
  struct Case {
    int64_t k, block;
  } cases[] = {{128, 64}, {192, 32}, {96, 64}, {160, 32}, {2240, 64}};
  const int64_t n = 37;
  for (const Case &cs : cases)
    for (bool tiled : {false, true}) {
      const int64_t total = n * cs.k, blocks = (total + cs.block - 1) / cs.block;
      std::vector<uint8_t> codes(size_t((total + 1) / 2));
      for (auto &c : codes)
        c = uint8_t(rng());
      std::vector<float> absmax(static_cast<size_t>(blocks)), dense(static_cast<size_t>(total));
      for (auto &a : absmax)
        a = 0.05f + 0.01f * float(rng() % 50);
      for (int64_t i = 0; i < total; ++i) {
        uint8_t byte = codes[size_t(i / 2)];
        dense[size_t(i)] =
            kNF4Values[(i & 1) ? byte & 0xf : byte >> 4] * absmax[size_t(i / cs.block)];
      }
      WeightRef w;
      w.rows = n;
      w.cols = cs.k;
      w.bits = 4;
      w.format = FormatKind::NF4;
      w.groupSize = cs.block;
      w.groups = blocks;
      w.codes = codes.data();
      w.scales = absmax.data();
      std::vector<uint8_t> tileStorage;
      if (tiled) {
        if (cs.k % cs.block) // blocks straddle rows: never tiled
          continue;
        ASSERT_TRUE(codeTilesApply(w));
        packCodeTiles(w, tileStorage);
        if (codeTilesWanted())
          std::fill(codes.begin(), codes.begin() + 32 * cs.k / 2, uint8_t(0x3c));
      }
      for (int64_t rows : {1, 2, 3, 4, 5, 9}) {
        std::vector<float> x = randomVector(size_t(rows * cs.k), 20), y(size_t(rows * n));
        matmul(x.data(), y.data(), rows, w);
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t j = 0; j < n; ++j) {
            double expected = 0, magnitude = 0;
            for (int64_t c = 0; c < cs.k; ++c) {
              double product = double(x[size_t(r * cs.k + c)]) * dense[size_t(j * cs.k + c)];
              expected += product;
              magnitude += std::fabs(product);
            }
            ASSERT_NEAR(y[size_t(r * n + j)], expected, (tiled ? 4e-6 : 2e-6) * magnitude + 1e-6)
                << "k " << cs.k << " block " << cs.block << " rows " << rows
                << (tiled ? " tiled" : "");
          }
      }
    }
}

// The log-softmax's normalizer: Σ e^(x - shift) within 2e-7 relative of the fp64 sum of
// std::exp's (lengths with and without a 16-lane tail, shifts near and below the values,
// and above them by 200: every term under the smallest normal float, counted 0); NaN when
// a value is; -inf values count 0.
TEST(CPUSoftmaxTest, SumExpMatchesStdExp) {
  for (int64_t n : {1, 15, 16, 17, 100, 49152}) {
    std::vector<float> x = randomVector(size_t(n), uint64_t(n), 4.0f);
    for (float shift : {x[0], 3.0f, -50.0f, 200.0f}) {
      double expected = 0;
      for (float v : x)
        expected += double(std::exp(v - shift));
      // Terms std::exp makes subnormal count 0 (at most 1.2e-38 each).
      EXPECT_NEAR(sumExp(x.data(), n, shift), expected, 2e-7 * expected + double(n) * 1.2e-38)
          << "n " << n << " shift " << shift;
    }
  }
  std::vector<float> x = {0.0f, -INFINITY, 1.0f};
  EXPECT_NEAR(sumExp(x.data(), 3, 1.0f), std::exp(-1.0) + 1.0, 1e-7);
  x[1] = NAN;
  EXPECT_TRUE(std::isnan(sumExp(x.data(), 3, 1.0f)));
  std::vector<float> tail(37, 0.0f);
  tail[36] = NAN; // in the masked last vector
  EXPECT_TRUE(std::isnan(sumExp(tail.data(), 37, 0.0f)));
}

// argmax picks what std::max_element picks: the first of equal largest values, in the
// tail, everything -inf, and with NaNs anywhere.
TEST(CPUSoftmaxTest, ArgmaxIsStdMaxElement) {
  auto check = [](const std::vector<float> &x) {
    EXPECT_EQ(argmax(x.data(), int64_t(x.size())),
              std::max_element(x.begin(), x.end()) - x.begin());
  };
  for (int64_t n : {1, 16, 17, 49152}) {
    std::vector<float> x = randomVector(size_t(n), uint64_t(n + 7));
    check(x);
    x[size_t(n - 1)] = 100.0f; // the last lane of a tail
    check(x);
    x[size_t(n / 2)] = 100.0f; // an earlier equal one wins
    check(x);
    x[0] = NAN;
    check(x);
    x[0] = 0.0f;
    x[size_t(n / 3)] = NAN;
    check(x);
  }
  check(std::vector<float>(40, -INFINITY));
}

INSTANTIATE_TEST_SUITE_P(Threads, CPUKernelsTest, ::testing::Values(1, 3),
                         [](const auto &info) { return std::to_string(info.param) + "threads"; });

} // namespace
