//===- Backward.cpp - Reverse-mode kernels for the decoder's ops -----------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Calibrate/Backward.h"

#include "runtime/artifact/Program.h"

#include <algorithm>
#include <cmath>
#include <vector>

using namespace midllama::calib;

namespace {

/// `src` [rows, cols] transposed into `dst` [cols, rows], in 32 x 32 tiles (a plain loop
/// strides through one of the two by a whole row per element).
void transposeInto(const float *src, int64_t rows, int64_t cols, std::vector<float> &dst) {
  dst.resize(static_cast<size_t>(rows * cols));
  for (int64_t r0 = 0; r0 < rows; r0 += 32)
    for (int64_t c0 = 0; c0 < cols; c0 += 32)
      for (int64_t r = r0; r < std::min(rows, r0 + 32); ++r)
        for (int64_t c = c0; c < std::min(cols, c0 + 32); ++c)
          dst[size_t(c * rows + r)] = src[r * cols + c];
}

/// a[rows, inner] · b[cols, inner]ᵀ added into out[rows, cols], by the runtime's GEMM (`b`
/// as a row-major fp32 weight: the runtime puts it into its panels per call). The buffers
/// live as long as the thread: a fresh one per call cost a sixth of the gradient pass in
/// page faults.
void addProduct(const float *a, const std::vector<float> &b, int64_t rows, int64_t cols,
                int64_t inner, float *out) {
  midllama::rt::cpu::WeightRef w{b.data(), midllama::rt::DType::F32, cols, inner};
  thread_local std::vector<float> product;
  product.resize(static_cast<size_t>(rows * cols));
  midllama::rt::cpu::matmul(a, product.data(), rows, w);
  for (int64_t i = 0; i < rows * cols; ++i)
    out[i] += product[size_t(i)];
}

} // namespace

void backward::linear(const float *x, const float *w, const float *dy, int64_t rows, int64_t n,
                      int64_t k, float *dx, float *dw) {
  // Two GEMMs on the forward kernels: dx += dy · W = dy · (Wᵀ)ᵀ, dW += dyᵀ · x = dyᵀ ·
  // (xᵀ)ᵀ. (Rank-one updates row by row streamed W and dW once per token: an hour of
  // GBLM's backward pass on SmolLM2.)
  thread_local std::vector<float> wT, dyT, xT;
  transposeInto(w, n, k, wT);
  addProduct(dy, wT, rows, k, n, dx);
  if (dw) {
    transposeInto(dy, rows, n, dyT);
    transposeInto(x, rows, k, xT);
    addProduct(dyT.data(), xT, n, k, rows, dw);
  }
}

void backward::rmsNorm(const float *x, const float *g, const float *dy, int64_t rows,
                       int64_t width, float eps, float *dx) {
  for (int64_t r = 0; r < rows; ++r) {
    const float *xr = x + r * width, *dyr = dy + r * width;
    double ss = 0, dot = 0;
    for (int64_t j = 0; j < width; ++j) {
      ss += double(xr[j]) * xr[j];
      dot += double(g[j]) * dyr[j] * xr[j];
    }
    double inv = 1.0 / std::sqrt(ss / double(width) + eps);
    // y_j = g_j x_j inv: dx_i = g_i dy_i inv − x_i inv³ Σ_j g_j dy_j x_j / width.
    double coef = inv * inv * inv * dot / double(width);
    for (int64_t j = 0; j < width; ++j)
      dx[r * width + j] += float(double(g[j]) * dyr[j] * inv - double(xr[j]) * coef);
  }
}

void backward::swiglu(const float *gate, const float *up, const float *dy, int64_t count,
                      float *dgate, float *dup) {
  for (int64_t i = 0; i < count; ++i) {
    float s = 1.0f / (1.0f + std::exp(-gate[i]));
    float silu = gate[i] * s;
    dgate[i] += dy[i] * up[i] * s * (1.0f + gate[i] * (1.0f - s));
    dup[i] += dy[i] * silu;
  }
}

void backward::rotary(float *x, int64_t rows, int64_t heads, const AttentionParams &p,
                      bool inverse) {
  int64_t half = p.rotaryDim / 2;
  for (int64_t t = 0; t < rows; ++t)
    for (int64_t i = 0; i < half; ++i) {
      float freq = 1.0f / std::pow(p.theta, float(2 * i) / float(p.rotaryDim));
      float angle = float(t) * freq;
      float c = std::cos(angle), s = inverse ? -std::sin(angle) : std::sin(angle);
      for (int64_t h = 0; h < heads; ++h) {
        float *head = x + (t * heads + h) * p.headDim;
        float &a = p.interleaved ? head[2 * i] : head[i];
        float &b = p.interleaved ? head[2 * i + 1] : head[i + half];
        float a0 = a, b0 = b;
        a = a0 * c - b0 * s;
        b = a0 * s + b0 * c;
      }
    }
}

void backward::attention(const float *q, const float *k, const float *v, const float *dout,
                         int64_t rows, const AttentionParams &p, float *dq, float *dk,
                         float *dv) {
  const int64_t d = p.headDim, group = p.heads / p.kvHeads;
  const int64_t qw = p.heads * d, kw = p.kvHeads * d;
  std::vector<float> prob(static_cast<size_t>(rows)), dprob(static_cast<size_t>(rows));
  for (int64_t h = 0; h < p.heads; ++h) {
    int64_t kvh = h / group;
    for (int64_t t = 0; t < rows; ++t) {
      const float *qt = q + t * qw + h * d, *dot = dout + t * qw + h * d;
      // The forward's softmax over positions 0..t, recomputed.
      float maxScore = -INFINITY;
      for (int64_t s = 0; s <= t; ++s) {
        const float *ks = k + s * kw + kvh * d;
        float score = 0;
        for (int64_t j = 0; j < d; ++j)
          score += qt[j] * ks[j];
        prob[size_t(s)] = score * p.scale;
        maxScore = std::max(maxScore, prob[size_t(s)]);
      }
      float total = 0;
      for (int64_t s = 0; s <= t; ++s)
        total += prob[size_t(s)] = std::exp(prob[size_t(s)] - maxScore);
      for (int64_t s = 0; s <= t; ++s)
        prob[size_t(s)] /= total;
      // dv_s += p_s dout; dp_s = dout · v_s; ds_s = p_s (dp_s − Σ p dp).
      float weighted = 0;
      for (int64_t s = 0; s <= t; ++s) {
        const float *vs = v + s * kw + kvh * d;
        float *dvs = dv + s * kw + kvh * d;
        float dp = 0;
        for (int64_t j = 0; j < d; ++j) {
          dvs[j] += prob[size_t(s)] * dot[j];
          dp += dot[j] * vs[j];
        }
        dprob[size_t(s)] = dp;
        weighted += prob[size_t(s)] * dp;
      }
      float *dqt = dq + t * qw + h * d;
      for (int64_t s = 0; s <= t; ++s) {
        float ds = prob[size_t(s)] * (dprob[size_t(s)] - weighted) * p.scale;
        const float *ks = k + s * kw + kvh * d;
        float *dks = dk + s * kw + kvh * d;
        for (int64_t j = 0; j < d; ++j) {
          dqt[j] += ds * ks[j];
          dks[j] += ds * qt[j];
        }
      }
    }
  }
}

double backward::crossEntropy(const float *logits, const int32_t *labels, int64_t rows,
                              int64_t vocab, float *dlogits) {
  int64_t counted = 0;
  for (int64_t r = 0; r < rows; ++r)
    counted += labels[r] >= 0;
  double loss = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float *z = logits + r * vocab;
    float *dz = dlogits + r * vocab;
    if (labels[r] < 0) {
      std::fill(dz, dz + vocab, 0.0f);
      continue;
    }
    float maxLogit = *std::max_element(z, z + vocab);
    double total = 0;
    for (int64_t i = 0; i < vocab; ++i)
      total += std::exp(double(z[i] - maxLogit));
    loss += std::log(total) - double(z[labels[r]] - maxLogit);
    for (int64_t i = 0; i < vocab; ++i)
      dz[i] = float(std::exp(double(z[i] - maxLogit)) / total / double(counted));
    dz[labels[r]] -= 1.0f / float(counted);
  }
  return counted ? loss / double(counted) : 0.0;
}
