//===- TorchSum.cpp - float32 sums in PyTorch's CPU order -----------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Numerics/TorchSum.h"

#include <algorithm>
#include <array>

using namespace midllama;

namespace {

constexpr int kLanes = 8;  // torch's Vectorized<float> in its sum kernel
constexpr int kIlp = 4;    // accumulators (rows) summed side by side
constexpr int kLevels = 4; // cascade levels

/// A value of the sum: `Width` float32 lanes added lane by lane (one lane for scalars).
template <int Width> using Lanes = std::array<float, Width>;

template <int Width> void addInto(Lanes<Width> &acc, const Lanes<Width> &v) {
  for (int l = 0; l < Width; ++l)
    acc[l] += v[l];
}

int64_t ceilLog2(int64_t x) {
  if (x <= 2)
    return 1;
  int64_t bits = 0;
  for (uint64_t v = uint64_t(x - 1); v; v >>= 1)
    ++bits;
  return bits;
}

/// The cascade over `size` rows of kIlp values each (`load(i, k)`: row i, accumulator k):
/// sums of 2^power rows fold into the next level whenever the row count crosses a
/// multiple of 2^(power·level).
template <int Width, typename Load>
std::array<Lanes<Width>, kIlp> multiRowSum(int64_t size, Load load) {
  const int64_t power = std::max<int64_t>(4, ceilLog2(size) / kLevels);
  const int64_t step = int64_t(1) << power, mask = step - 1;
  std::array<std::array<Lanes<Width>, kIlp>, kLevels> acc{};
  int64_t i = 0;
  for (; i + step <= size;) {
    for (int64_t j = 0; j < step; ++j, ++i)
      for (int k = 0; k < kIlp; ++k)
        addInto<Width>(acc[0][k], load(i, k));
    for (int j = 1; j < kLevels; ++j) {
      for (int k = 0; k < kIlp; ++k) {
        addInto<Width>(acc[j][k], acc[j - 1][k]);
        acc[j - 1][k] = Lanes<Width>{};
      }
      if ((i & (mask << (j * power))) != 0)
        break;
    }
  }
  for (; i < size; ++i)
    for (int k = 0; k < kIlp; ++k)
      addInto<Width>(acc[0][k], load(i, k));
  for (int j = 1; j < kLevels; ++j)
    for (int k = 0; k < kIlp; ++k)
      addInto<Width>(acc[0][k], acc[j][k]);
  return acc[0];
}

/// torch's row_sum: the `size` items (`item(i)`) as rows of kIlp, the leftover items into
/// the first accumulator, then the accumulators added in order.
template <int Width, typename Item> Lanes<Width> rowSum(int64_t size, Item item) {
  int64_t rows = size / kIlp;
  std::array<Lanes<Width>, kIlp> partial =
      multiRowSum<Width>(rows, [&](int64_t i, int k) { return item(i * kIlp + k); });
  for (int64_t i = rows * kIlp; i < size; ++i)
    addInto<Width>(partial[0], item(i));
  for (int k = 1; k < kIlp; ++k)
    addInto<Width>(partial[0], partial[k]);
  return partial[0];
}

} // namespace

float numerics::torchSumF32(const float *x, int64_t n) {
  if (n <= 0)
    return 0.0f;
  if (n < kLanes) // too short for a vector: the scalar cascade
    return rowSum<1>(n, [&](int64_t i) { return Lanes<1>{x[i]}; })[0];
  int64_t vectors = n / kLanes;
  Lanes<kLanes> lanes = rowSum<kLanes>(vectors, [&](int64_t i) {
    Lanes<kLanes> v;
    std::copy(x + i * kLanes, x + (i + 1) * kLanes, v.begin());
    return v;
  });
  float sum = 0.0f;
  for (int64_t i = vectors * kLanes; i < n; ++i)
    sum += x[i];
  for (float l : lanes)
    sum += l;
  return sum;
}

float numerics::torchMeanF32(const float *x, int64_t n) {
  return n > 0 ? torchSumF32(x, n) / float(n) : 0.0f;
}
