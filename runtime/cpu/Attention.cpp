//===- Attention.cpp - Rotary embedding and causal attention --------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// RoPE applied in place, k and v written into the layer's cache, then each query attends
// over the cache; the scores' loops are compiled portable and for AVX2/FMA.
//
//===----------------------------------------------------------------------===//

#include "runtime/cpu/KernelsInternal.h"
#include "runtime/params/Half.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace midllama::rt::cpu {

/// Rotates the first `rotaryDim` features of each `headDim`-wide head of `x` (`heads`
/// heads) by position `pos`, in fp32 as llama2.c and transformers compute it.
static void rotate(float *x, int64_t heads, const AttentionParams &p, int64_t pos) {
  int64_t half = p.rotaryDim / 2;
  for (int64_t i = 0; i < half; ++i) {
    float freq = 1.0f / std::pow(p.theta, float(2 * i) / float(p.rotaryDim));
    float angle = float(pos) * freq;
    float c = std::cos(angle), s = std::sin(angle);
    for (int64_t h = 0; h < heads; ++h) {
      float *head = x + h * p.headDim;
      float &a = p.interleaved ? head[2 * i] : head[i];
      float &b = p.interleaved ? head[2 * i + 1] : head[i + half];
      float a0 = a, b0 = b;
      a = a0 * c - b0 * s;
      b = a0 * s + b0 * c;
    }
  }
}

namespace {

struct AttentionScratch {
  std::vector<float> scores, maxScore, total;
};

/// The query heads of KV head `kvh` at token row `r` attend over cache positions
/// [0, length). Written once; compiled twice (portable, and for AVX2/FMA, where the
/// compiler vectorizes the head-dimension loops 8 wide).
__attribute__((always_inline)) inline void attendBody(const float *q, float *out,
                                                      int64_t length, int64_t r, int64_t kvh,
                                                      const float *kCache, const float *vCache,
                                                      const AttentionParams &p,
                                                      AttentionScratch &s) {
  const int64_t group = p.heads / p.kvHeads, d = p.headDim;
  const int64_t kvWidth = p.kvHeads * d, qWidth = p.heads * d;
  const float *q0 = q + r * qWidth + kvh * group * d;
  s.scores.resize(size_t(length * group));
  s.maxScore.assign(size_t(group), -INFINITY);
  s.total.assign(size_t(group), 0.0f);
  float *scores = s.scores.data();
  for (int64_t t = 0; t < length; ++t) {
    const float *kt = kCache + t * kvWidth + kvh * d;
    for (int64_t g = 0; g < group; ++g) {
      const float *qg = q0 + g * d;
      float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      int64_t i = 0;
      for (; i + 8 <= d; i += 8)
        for (int j = 0; j < 8; ++j)
          acc[j] += qg[i + j] * kt[i + j];
      float sc = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
      for (; i < d; ++i)
        sc += qg[i] * kt[i];
      sc *= p.scale;
      scores[t * group + g] = sc;
      s.maxScore[g] = std::max(s.maxScore[g], sc);
    }
  }
  for (int64_t t = 0; t < length; ++t)
    for (int64_t g = 0; g < group; ++g)
      scores[t * group + g] -= s.maxScore[g];
  expInPlace(scores, length * group);
  for (int64_t t = 0; t < length; ++t)
    for (int64_t g = 0; g < group; ++g)
      s.total[g] += scores[t * group + g];
  for (int64_t g = 0; g < group; ++g)
    s.total[g] = 1.0f / s.total[g];
  float *o0 = out + r * qWidth + kvh * group * d;
  std::fill(o0, o0 + group * d, 0.0f);
  for (int64_t t = 0; t < length; ++t) {
    const float *vt = vCache + t * kvWidth + kvh * d;
    for (int64_t g = 0; g < group; ++g) {
      float weight = scores[t * group + g] * s.total[g];
      float *o = o0 + g * d;
      for (int64_t i = 0; i < d; ++i)
        o[i] += weight * vt[i];
    }
  }
}

void attendGeneric(const float *q, float *out, int64_t length, int64_t r, int64_t kvh,
                   const float *kCache, const float *vCache, const AttentionParams &p,
                   AttentionScratch &s) {
  attendBody(q, out, length, r, kvh, kCache, vCache, p, s);
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2,fma"))) void attendAVX2(const float *q, float *out, int64_t length,
                                                    int64_t r, int64_t kvh,
                                                    const float *kCache, const float *vCache,
                                                    const AttentionParams &p,
                                                    AttentionScratch &s) {
  attendBody(q, out, length, r, kvh, kCache, vCache, p, s);
}
#else
void attendAVX2(const float *q, float *out, int64_t length, int64_t r, int64_t kvh,
                const float *kCache, const float *vCache, const AttentionParams &p,
                AttentionScratch &s) {
  attendBody(q, out, length, r, kvh, kCache, vCache, p, s);
}
#endif

} // namespace

void attention(float *q, float *k, const float *v, float *out, const int64_t *positions,
               int64_t rows, float *kCache, float *vCache, const AttentionParams &p) {
  int64_t kvWidth = p.kvHeads * p.headDim, qWidth = p.heads * p.headDim;
  int64_t group = p.heads / p.kvHeads;
  parallelFor(rows, 4 * (qWidth + kvWidth), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      rotate(q + r * qWidth, p.heads, p, positions[r]);
      rotate(k + r * kvWidth, p.kvHeads, p, positions[r]);
      std::memcpy(kCache + positions[r] * kvWidth, k + r * kvWidth, kvWidth * sizeof(float));
      std::memcpy(vCache + positions[r] * kvWidth, v + r * kvWidth, kvWidth * sizeof(float));
    }
  });
  // One task per (token, KV head): the query heads that share a KV head read each cached
  // key and value once for all of them (GQA's saving, in cache traffic too).
  parallelFor(rows * p.kvHeads, 2 * group * (positions[rows - 1] + 1) * p.headDim,
              [&](int64_t begin, int64_t end) {
    AttentionScratch scratch;
    for (int64_t task = begin; task < end; ++task) {
      int64_t r = task / p.kvHeads, kvh = task % p.kvHeads;
      if (haveAVX2())
        attendAVX2(q, out, positions[r] + 1, r, kvh, kCache, vCache, p, scratch);
      else
        attendGeneric(q, out, positions[r] + 1, r, kvh, kCache, vCache, p, scratch);
    }
  });
}

} // namespace midllama::rt::cpu
