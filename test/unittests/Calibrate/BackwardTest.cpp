//===- BackwardTest.cpp - Reverse-mode kernels against finite differences -===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// For each op: L = Σ c ⊙ forward(inputs) with random c, so ∂L/∂output = c; the backward
// kernel's gradients must match central differences of L computed with the forward kernels
// of the runtime (Kernels.h) in every coordinate.
//
//===----------------------------------------------------------------------===//

#include "midllama/Calibrate/Backward.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <vector>

using namespace midllama::rt;
using namespace midllama::rt::cpu;
namespace backward = midllama::calib::backward;

namespace {

std::vector<float> randomValues(size_t n, unsigned seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(n);
  for (float &x : v)
    x = normal(rng);
  return v;
}

double weightedSum(const std::vector<float> &c, const std::vector<float> &y) {
  double s = 0;
  for (size_t i = 0; i < y.size(); ++i)
    s += double(c[i]) * y[i];
  return s;
}

/// Checks `analytic` against central differences of `loss` in each coordinate of `x`.
void expectGradient(std::vector<float> &x, const std::function<double()> &loss,
                    const std::vector<float> &analytic, const char *what) {
  const float h = 1e-2f;
  for (size_t i = 0; i < x.size(); ++i) {
    float saved = x[i];
    x[i] = saved + h;
    double plus = loss();
    x[i] = saved - h;
    double minus = loss();
    x[i] = saved;
    double numeric = (plus - minus) / (2 * h);
    EXPECT_NEAR(analytic[i], numeric, 2e-2 * (1 + std::fabs(numeric))) << what << " [" << i << "]";
  }
}

TEST(Backward, Linear) {
  const int64_t rows = 3, n = 5, k = 7;
  std::vector<float> x = randomValues(rows * k, 1), w = randomValues(n * k, 2),
                     c = randomValues(rows * n, 3);
  auto loss = [&] {
    std::vector<float> y(static_cast<size_t>(rows * n));
    matmul(x.data(), y.data(), rows, WeightRef{w.data(), DType::F32, n, k});
    return weightedSum(c, y);
  };
  std::vector<float> dx(x.size(), 0.0f), dw(w.size(), 0.0f);
  backward::linear(x.data(), w.data(), c.data(), rows, n, k, dx.data(), dw.data());
  expectGradient(x, loss, dx, "dx");
  expectGradient(w, loss, dw, "dW");
}

TEST(Backward, RMSNorm) {
  const int64_t rows = 3, width = 8;
  std::vector<float> x = randomValues(rows * width, 4), g = randomValues(width, 5),
                     c = randomValues(rows * width, 6);
  auto loss = [&] {
    std::vector<float> y(x.size());
    rmsNorm(x.data(), y.data(), rows, width, WeightRef{g.data(), DType::F32, 1, width}, 1e-5f);
    return weightedSum(c, y);
  };
  std::vector<float> dx(x.size(), 0.0f);
  backward::rmsNorm(x.data(), g.data(), c.data(), rows, width, 1e-5f, dx.data());
  expectGradient(x, loss, dx, "dx");
}

TEST(Backward, SwiGLU) {
  const int64_t count = 20;
  std::vector<float> gate = randomValues(count, 7, 2.0f), up = randomValues(count, 8),
                     c = randomValues(count, 9);
  auto loss = [&] {
    std::vector<float> y(static_cast<size_t>(count));
    swiglu(gate.data(), up.data(), y.data(), count);
    return weightedSum(c, y);
  };
  std::vector<float> dg(static_cast<size_t>(count), 0.0f), du(static_cast<size_t>(count), 0.0f);
  backward::swiglu(gate.data(), up.data(), c.data(), count, dg.data(), du.data());
  expectGradient(gate, loss, dg, "dgate");
  expectGradient(up, loss, du, "dup");
}

TEST(Backward, RotaryIsOrthogonalBothPairings) {
  for (bool interleaved : {false, true}) {
    const int64_t rows = 4, heads = 2;
    AttentionParams p{heads, heads, 8, 6, 1.0f, 10000.0f, interleaved};
    std::vector<float> x = randomValues(rows * heads * 8, 10), c = randomValues(x.size(), 11);
    auto loss = [&] {
      std::vector<float> y = x;
      backward::rotary(y.data(), rows, heads, p, /*inverse=*/false);
      return weightedSum(c, y);
    };
    std::vector<float> dx = c;
    backward::rotary(dx.data(), rows, heads, p, /*inverse=*/true);
    expectGradient(x, loss, dx, interleaved ? "interleaved" : "half-split");
    // The rotation is the one the forward attention kernel applies to q (in place).
    std::vector<float> q = x, k(static_cast<size_t>(rows * heads * 8), 0.0f), v = k, out = x,
                       kc(size_t(keyCacheStride(rows) * heads * 8)), vc = k, expected = x;
    std::vector<int64_t> pos = {0, 1, 2, 3};
    attention(q.data(), k.data(), v.data(), out.data(), pos.data(), rows, kc.data(), vc.data(),
              rows, p);
    backward::rotary(expected.data(), rows, heads, p, /*inverse=*/false);
    for (size_t i = 0; i < q.size(); ++i)
      EXPECT_NEAR(q[i], expected[i], 1e-5f) << i;
    std::vector<float> round = x; // inverse undoes forward
    backward::rotary(round.data(), rows, heads, p, false);
    backward::rotary(round.data(), rows, heads, p, true);
    for (size_t i = 0; i < x.size(); ++i)
      EXPECT_NEAR(round[i], x[i], 1e-5f);
  }
}

TEST(Backward, CausalGroupedQueryAttention) {
  const int64_t rows = 5, heads = 4, kvHeads = 2, d = 4;
  AttentionParams p{heads, kvHeads, d, 0, 0.5f, 10000.0f, false}; // no rotation here
  std::vector<float> q = randomValues(rows * heads * d, 12), k = randomValues(rows * kvHeads * d, 13),
                     v = randomValues(rows * kvHeads * d, 14), c = randomValues(q.size(), 15);
  auto loss = [&] {
    std::vector<float> qq = q, kk = k, out(q.size()),
                       kc(size_t(keyCacheStride(rows) * kvHeads * d)), vc(v.size());
    std::vector<int64_t> pos(static_cast<size_t>(rows));
    for (int64_t t = 0; t < rows; ++t)
      pos[size_t(t)] = t;
    attention(qq.data(), kk.data(), v.data(), out.data(), pos.data(), rows, kc.data(), vc.data(),
              rows, p);
    return weightedSum(c, out);
  };
  std::vector<float> dq(q.size(), 0.0f), dk(k.size(), 0.0f), dv(v.size(), 0.0f);
  backward::attention(q.data(), k.data(), v.data(), c.data(), rows, p, dq.data(), dk.data(),
                      dv.data());
  expectGradient(q, loss, dq, "dq");
  expectGradient(k, loss, dk, "dk");
  expectGradient(v, loss, dv, "dv");
}

TEST(Backward, CrossEntropy) {
  const int64_t rows = 3, vocab = 6;
  std::vector<float> z = randomValues(rows * vocab, 16, 2.0f), dz(z.size());
  std::vector<int32_t> labels = {2, -1, 5}; // the middle row is not predicted
  double loss = backward::crossEntropy(z.data(), labels.data(), rows, vocab, dz.data());
  EXPECT_GT(loss, 0.0);
  std::vector<float> scratch(z.size());
  expectGradient(
      z, [&] { return backward::crossEntropy(z.data(), labels.data(), rows, vocab, scratch.data()); },
      dz, "dlogits");
  for (int64_t i = 0; i < vocab; ++i)
    EXPECT_EQ(dz[size_t(vocab + i)], 0.0f);
}

} // namespace
