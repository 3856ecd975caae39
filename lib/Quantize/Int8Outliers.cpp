//===- Int8Outliers.cpp - LLM.int8() weight numerics ----------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Quantize/Int8Outliers.h"

#include "runtime/params/Half.h"

#include <algorithm>
#include <cmath>

using namespace midllama::quant;

namespace {
/// LLM.int8()'s vector-wise quantization of one row (a weight row or an input row): scale
/// = absmax of the non-outlier columns / 127, codes round(v / scale) clamped to ±127, 0 in
/// the outlier columns (and everywhere for an all-zero row). Returns the scale.
template <typename Code>
float quantizeRowInt8(const float *row, int64_t k, const std::vector<bool> &outlier, Code *q) {
  float absmax = 0;
  for (int64_t j = 0; j < k; ++j)
    if (!outlier[size_t(j)])
      absmax = std::max(absmax, std::fabs(row[j]));
  float scale = absmax / 127.0f;
  for (int64_t j = 0; j < k; ++j)
    q[j] = outlier[size_t(j)] || scale == 0
               ? Code(0)
               : Code(std::lround(std::clamp(row[j] / scale, -127.0f, 127.0f)));
  return scale;
}
} // namespace

std::vector<int64_t> midllama::quant::outlierColumns(const std::vector<float> &maxAbs,
                                                     float threshold) {
  std::vector<int64_t> columns;
  for (size_t j = 0; j < maxAbs.size(); ++j)
    if (maxAbs[j] >= threshold)
      columns.push_back(int64_t(j));
  return columns;
}

Int8OutlierMatrix midllama::quant::quantizeInt8Outliers(const float *w, int64_t n, int64_t k,
                                                        const std::vector<int64_t> &columns) {
  Int8OutlierMatrix m;
  m.columns = columns;
  std::vector<bool> outlier(static_cast<size_t>(k), false);
  for (int64_t c : columns)
    outlier[size_t(c)] = true;
  int64_t numOut = int64_t(columns.size());
  m.q.assign(static_cast<size_t>(n * k), 0);
  m.rowScale.assign(static_cast<size_t>(n), 0.0f);
  m.outliers.resize(static_cast<size_t>(n * numOut));
  for (int64_t r = 0; r < n; ++r) {
    const float *row = w + r * k;
    m.rowScale[size_t(r)] = quantizeRowInt8(row, k, outlier, &m.q[size_t(r * k)]);
    for (int64_t o = 0; o < numOut; ++o)
      m.outliers[size_t(r * numOut + o)] = rt::floatToHalf(row[columns[size_t(o)]]);
  }
  return m;
}

std::vector<float> midllama::quant::dequantizeInt8Outliers(const Int8OutlierMatrix &m, int64_t n,
                                                           int64_t k) {
  std::vector<float> w(static_cast<size_t>(n * k));
  int64_t numOut = int64_t(m.columns.size());
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t j = 0; j < k; ++j)
      w[size_t(r * k + j)] = float(m.q[size_t(r * k + j)]) * m.rowScale[size_t(r)];
    for (int64_t o = 0; o < numOut; ++o)
      w[size_t(r * k + m.columns[size_t(o)])] = rt::halfToFloat(m.outliers[size_t(r * numOut + o)]);
  }
  return w;
}

void midllama::quant::int8OutlierMatmulReference(const float *x, int64_t rows,
                                                 const Int8OutlierMatrix &m, int64_t n,
                                                 int64_t k, float *y) {
  std::vector<bool> outlier(static_cast<size_t>(k), false);
  for (int64_t c : m.columns)
    outlier[size_t(c)] = true;
  int64_t numOut = int64_t(m.columns.size());
  std::vector<int32_t> xq(static_cast<size_t>(k));
  for (int64_t r = 0; r < rows; ++r) {
    const float *xr = x + r * k;
    float sx = quantizeRowInt8(xr, k, outlier, xq.data());
    for (int64_t o = 0; o < n; ++o) {
      int64_t acc = 0;
      for (int64_t j = 0; j < k; ++j)
        acc += int64_t(xq[size_t(j)]) * m.q[size_t(o * k + j)];
      double out = double(acc) * double(sx) * double(m.rowScale[size_t(o)]);
      for (int64_t c = 0; c < numOut; ++c)
        out += double(rt::halfToFloat(rt::floatToHalf(xr[m.columns[size_t(c)]]))) *
               double(rt::halfToFloat(m.outliers[size_t(o * numOut + c)]));
      y[r * n + o] = float(out);
    }
  }
}
