//===- Attention.cpp - Rotary embedding and causal attention --------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// RoPE applied in place, k and v written into the layer's cache, then each query attends
// over the cache. The key cache is stored transposed, [kv features][positions]: the
// scores of 16 positions are then one vector FMA per feature with the query's feature
// broadcast, no horizontal sums (a query row at a time against a row-major cache spent
// most of its time reducing 8-lane partial dot products: 21% of SmolLM2's prefill).
// The queries of a block of 16 tokens and of every head sharing a KV head (GQA) are
// scored together, so each key and value tile is read once for all of them; softmax
// exactly as before (max, e^x, sum, normalize), then the values in tiles of 64 positions.
// The cache holds fp32, or fp16 (setHalfKVCache: rounded to nearest even when written,
// widened exactly when read; the kernels are the same, templated on the element type).
//
//===----------------------------------------------------------------------===//

#include "runtime/cpu/KernelsInternal.h"
#include "runtime/cpu/LaneMasks.h"
#include "runtime/params/Half.h"

#include <algorithm>
#include <cmath>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

namespace midllama::rt::cpu {

/// The rotary frequencies θ^(-2i/rotaryDim), i < rotaryDim / 2 (per row and tensor,
/// their powf was 1% of SmolLM2's prefill).
static std::vector<float> rotaryFrequencies(const AttentionParams &p) {
  std::vector<float> freq(size_t(p.rotaryDim / 2));
  for (int64_t i = 0; i < p.rotaryDim / 2; ++i)
    freq[size_t(i)] = 1.0f / std::pow(p.theta, float(2 * i) / float(p.rotaryDim));
  return freq;
}

namespace {

/// cos and sin of every angle of the rows' positions (rotaryDim / 2 a row). Every layer of
/// a forward pass rotates the same positions: the table is made by the first and kept by
/// the calling thread until the positions or the rotary parameters change (computed per
/// layer, the sines and cosines were 1.3% of SmolLM2's prefill).
struct RotaryTable {
  float theta = 0;
  int64_t rotaryDim = 0;
  std::vector<int64_t> positions;
  std::vector<float> cos, sin;
};

const RotaryTable &rotaryTable(const AttentionParams &p, const int64_t *positions,
                               int64_t rows) {
  thread_local RotaryTable table;
  if (table.theta == p.theta && table.rotaryDim == p.rotaryDim &&
      table.positions.size() == size_t(rows) &&
      std::equal(positions, positions + rows, table.positions.begin()))
    return table;
  const std::vector<float> freq = rotaryFrequencies(p);
  const int64_t half = p.rotaryDim / 2;
  table.theta = p.theta;
  table.rotaryDim = p.rotaryDim;
  table.positions.assign(positions, positions + rows);
  table.cos.resize(size_t(rows * half));
  table.sin.resize(table.cos.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < half; ++i) {
      const float angle = float(positions[r]) * freq[size_t(i)];
      table.cos[size_t(r * half + i)] = std::cos(angle);
      table.sin[size_t(r * half + i)] = std::sin(angle);
    }
  return table;
}

} // namespace

/// Rotates the first `rotaryDim` features of each `headDim`-wide head of q (`heads`
/// heads) and k (`kvHeads` heads) by the angles whose cosines and sines are `cos`, `sin`
/// (rotaryDim / 2 each), in fp32 as llama2.c and transformers compute it.
static void rotate(float *q, float *k, const AttentionParams &p, const float *cos,
                   const float *sin) {
  const int64_t half = p.rotaryDim / 2;
  auto apply = [&](float *x, int64_t heads, int64_t i, float c, float s) {
    for (int64_t h = 0; h < heads; ++h) {
      float *head = x + h * p.headDim;
      float &a = p.interleaved ? head[2 * i] : head[i];
      float &b = p.interleaved ? head[2 * i + 1] : head[i + half];
      float a0 = a, b0 = b;
      a = a0 * c - b0 * s;
      b = a0 * s + b0 * c;
    }
  };
  for (int64_t i = 0; i < half; ++i) {
    apply(q, p.heads, i, cos[i], sin[i]);
    apply(k, p.kvHeads, i, cos[i], sin[i]);
  }
}

namespace {

/// The queries one task scores: `count` vectors of `headDim` features, query i at
/// q[i * stride ...] over cache positions [0, length[i]).
constexpr int kMaxQueries = 64;
struct QueryBlock {
  const float *q[kMaxQueries];
  float *out[kMaxQueries];
  int64_t length[kMaxQueries];
  int count = 0;
  int64_t maxLength = 0;
};

/// Tokens per task. Each key and value tile is read once for all of a task's queries, so
/// long prefills want many: SmolLM2 Q4_0, a 4000-token prompt, 1 thread: 648-682 tok/s
/// with 4, 723-749 with 16, 714 with 20 (alternating, 2026-12-05); at 512 tokens the same.
/// A multiple of 4 keeps the four-query value groups (values512) what they were, so the
/// results are bit for bit those of 4.
constexpr int64_t kRowsPerTask = 16;

/// A cached value as fp32.
inline float cached(float x) { return x; }
inline float cached(uint16_t h) { return halfToFloat(h); }

/// scores[i][t] = scale · q_i · k_t for t < maxLength (portable).
template <typename T>
void scoreGeneric(const QueryBlock &b, const T *kT, int64_t kStride, int64_t d, float scale,
                  float *scores, int64_t ld) {
  for (int i = 0; i < b.count; ++i) {
    float *s = scores + i * ld;
    std::fill(s, s + b.maxLength, 0.0f);
    for (int64_t f = 0; f < d; ++f) {
      const float qf = b.q[i][f];
      const T *row = kT + f * kStride;
      for (int64_t t = 0; t < b.maxLength; ++t)
        s[t] += qf * cached(row[t]);
    }
    for (int64_t t = 0; t < b.maxLength; ++t)
      s[t] *= scale;
  }
}

/// out_i = Σ_t w[i][t] · v_t (portable).
template <typename T>
void valuesGeneric(const QueryBlock &b, const T *v, int64_t vStride, int64_t d,
                   const float *weights, int64_t ld) {
  for (int i = 0; i < b.count; ++i) {
    float *o = b.out[i];
    std::fill(o, o + d, 0.0f);
    for (int64_t t = 0; t < b.length[i]; ++t) {
      const float w = weights[i * ld + t];
      const T *vt = v + t * vStride;
      for (int64_t f = 0; f < d; ++f)
        o[f] += w * cached(vt[f]);
    }
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
#define MIDLLAMA_AVX512 __attribute__((target("avx512f")))

/// 16 cached values from `p` as fp32, the lanes outside `mask` zero (fp32) or whatever the
/// cache holds there (fp16: read whole, 32 bytes, which the cache's padding keeps in
/// bounds; every caller discards those lanes).
MIDLLAMA_AVX512 __attribute__((always_inline)) inline __m512 load16(const float *p,
                                                                    __mmask16 mask) {
  return _mm512_maskz_loadu_ps(mask, p);
}
MIDLLAMA_AVX512 __attribute__((always_inline)) inline __m512 load16(const uint16_t *p,
                                                                    __mmask16) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(p)));
}

/// Up to 8 queries (from `first`) against positions [t0, t0 + 16): one key-cache row per
/// feature, broadcast-FMA'd into each query's accumulator.
template <int N, typename T>
MIDLLAMA_AVX512 void scoreTile(const QueryBlock &b, int first, const T *kT, int64_t kStride,
                               int64_t d, int64_t t0, __mmask16 mask, float scale, float *scores,
                               int64_t ld) {
  __m512 acc[N];
#pragma GCC unroll 8
  for (int j = 0; j < N; ++j)
    acc[j] = _mm512_setzero_ps();
  for (int64_t f = 0; f < d; ++f) {
    __m512 k = load16(kT + f * kStride + t0, mask);
#pragma GCC unroll 8
    for (int j = 0; j < N; ++j)
      acc[j] = _mm512_fmadd_ps(_mm512_set1_ps(b.q[first + j][f]), k, acc[j]);
  }
  const __m512 s = _mm512_set1_ps(scale);
#pragma GCC unroll 8
  for (int j = 0; j < N; ++j)
    _mm512_mask_storeu_ps(scores + (first + j) * ld + t0, mask, _mm512_mul_ps(acc[j], s));
}

template <typename T>
MIDLLAMA_AVX512 void score512(const QueryBlock &b, const T *kT, int64_t kStride, int64_t d,
                              float scale, float *scores, int64_t ld) {
  for (int64_t t0 = 0; t0 < b.maxLength; t0 += 16) {
    const __mmask16 mask = lanesBelow(b.maxLength - t0);
    int i = 0;
    for (; i + 8 <= b.count; i += 8)
      scoreTile<8, T>(b, i, kT, kStride, d, t0, mask, scale, scores, ld);
    for (; i + 4 <= b.count; i += 4)
      scoreTile<4, T>(b, i, kT, kStride, d, t0, mask, scale, scores, ld);
    for (; i < b.count; ++i)
      scoreTile<1, T>(b, i, kT, kStride, d, t0, mask, scale, scores, ld);
  }
}

/// out_i[16c ...] += Σ_{t in [t0, t1)} w_i[t] · v_t[16c ...] for the C chunks of 16
/// features: C independent accumulators, twice (even and odd positions), so the FMAs'
/// latency is hidden.
template <int C, typename T>
MIDLLAMA_AVX512 void valueChunks(const float *w, const T *v, int64_t vStride, int64_t t0,
                                 int64_t t1, float *out, __mmask16 lastMask) {
  __m512 even[C], odd[C];
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) {
    even[c] = _mm512_maskz_loadu_ps(c + 1 == C ? lastMask : 0xffff, out + 16 * c);
    odd[c] = _mm512_setzero_ps();
  }
  int64_t t = t0;
  for (; t + 2 <= t1; t += 2) {
    const __m512 w0 = _mm512_set1_ps(w[t]), w1 = _mm512_set1_ps(w[t + 1]);
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) {
      const __mmask16 m = c + 1 == C ? lastMask : 0xffff;
      even[c] = _mm512_fmadd_ps(w0, load16(v + t * vStride + 16 * c, m), even[c]);
      odd[c] = _mm512_fmadd_ps(w1, load16(v + (t + 1) * vStride + 16 * c, m), odd[c]);
    }
  }
  if (t < t1) {
    const __m512 w0 = _mm512_set1_ps(w[t]);
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c)
      even[c] = _mm512_fmadd_ps(
          w0, load16(v + t * vStride + 16 * c, c + 1 == C ? lastMask : 0xffff), even[c]);
  }
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c)
    _mm512_mask_storeu_ps(out + 16 * c, c + 1 == C ? lastMask : 0xffff,
                          _mm512_add_ps(even[c], odd[c]));
}

/// One query's output row of 64 features as four named accumulators: as arrays, GCC 12
/// kept the value kernel's accumulators on the stack (a store per multiply-add).
struct Row64 {
  __m512 c0, c1, c2, c3;
};

template <typename T>
MIDLLAMA_AVX512 __attribute__((always_inline)) inline Row64 loadRow64(const T *o) {
  return {load16(o, 0xffff), load16(o + 16, 0xffff), load16(o + 32, 0xffff),
          load16(o + 48, 0xffff)};
}

MIDLLAMA_AVX512 __attribute__((always_inline)) inline void storeRow64(float *o, const Row64 &a) {
  _mm512_storeu_ps(o, a.c0);
  _mm512_storeu_ps(o + 16, a.c1);
  _mm512_storeu_ps(o + 32, a.c2);
  _mm512_storeu_ps(o + 48, a.c3);
}

/// a += w · v for the position's value row v (its four chunks).
MIDLLAMA_AVX512 __attribute__((always_inline)) inline void addRow64(Row64 &a, float w,
                                                                    const Row64 &v) {
  const __m512 s = _mm512_set1_ps(w);
  a.c0 = _mm512_fmadd_ps(s, v.c0, a.c0);
  a.c1 = _mm512_fmadd_ps(s, v.c1, a.c1);
  a.c2 = _mm512_fmadd_ps(s, v.c2, a.c2);
  a.c3 = _mm512_fmadd_ps(s, v.c3, a.c3);
}

/// Four queries' values over positions [t0, t1) for heads of 64 features: each position's
/// value row is loaded once for the four queries (valueChunks loads it per query: a load
/// per multiply-add).
template <typename T>
MIDLLAMA_AVX512 void valueFour64(const float *const *w, const T *v, int64_t vStride,
                                 int64_t t0, int64_t t1, float *const *out) {
  const float *w0 = w[0], *w1 = w[1], *w2 = w[2], *w3 = w[3];
  Row64 a0 = loadRow64(out[0]), a1 = loadRow64(out[1]), a2 = loadRow64(out[2]),
        a3 = loadRow64(out[3]);
  for (int64_t t = t0; t < t1; ++t) {
    const Row64 vt = loadRow64(v + t * vStride);
    addRow64(a0, w0[t], vt);
    addRow64(a1, w1[t], vt);
    addRow64(a2, w2[t], vt);
    addRow64(a3, w3[t], vt);
  }
  storeRow64(out[0], a0);
  storeRow64(out[1], a1);
  storeRow64(out[2], a2);
  storeRow64(out[3], a3);
}

/// The values in tiles of 64 positions (the tile stays in L1 for every query).
template <typename T>
MIDLLAMA_AVX512 void values512(const QueryBlock &b, const T *v, int64_t vStride, int64_t d,
                               const float *weights, int64_t ld) {
  const int64_t chunks = (d + 15) / 16;
  const __mmask16 lastMask = lanesBelow(d - 16 * (chunks - 1));
  for (int i = 0; i < b.count; ++i)
    std::fill(b.out[i], b.out[i] + d, 0.0f);
  for (int64_t t0 = 0; t0 < b.maxLength; t0 += 64)
    for (int i = 0; i < b.count; ++i) {
      // Heads of 64 features, four queries at a time over the positions all four attend
      // to; the rest (a block's later queries see a few more positions) one by one.
      if (d == 64 && i % 4 == 0 && i + 4 <= b.count) {
        const float *w4[4];
        float *out4[4];
        int64_t common = t0 + 64;
        for (int j = 0; j < 4; ++j) {
          w4[j] = weights + (i + j) * ld;
          out4[j] = b.out[i + j];
          common = std::min(common, b.length[i + j]);
        }
        if (common > t0) {
          valueFour64(w4, v, vStride, t0, common, out4);
          for (int j = 0; j < 4; ++j) {
            const int64_t t1 = std::min(t0 + 64, b.length[i + j]);
            if (t1 > common)
              valueChunks<4, T>(w4[j], v, vStride, common, t1, out4[j], 0xffff);
          }
          i += 3;
          continue;
        }
      }
      const int64_t t1 = std::min(t0 + 64, b.length[i]);
      if (t1 <= t0)
        continue;
      const float *w = weights + i * ld;
      // Up to 8 chunks (head dims to 128) in registers at once, more in groups of 4 (the
      // last, maybe partial, chunk alone).
      using Chunks = void (*)(const float *, const T *, int64_t, int64_t, int64_t, float *,
                              __mmask16);
      static constexpr Chunks kChunks[] = {valueChunks<1, T>, valueChunks<2, T>,
                                           valueChunks<3, T>, valueChunks<4, T>,
                                           valueChunks<5, T>, valueChunks<6, T>,
                                           valueChunks<7, T>, valueChunks<8, T>};
      if (chunks <= 8) {
        kChunks[chunks - 1](w, v, vStride, t0, t1, b.out[i], lastMask);
        continue;
      }
      int64_t c = 0;
      for (; c + 4 < chunks; c += 4)
        valueChunks<4, T>(w, v + 16 * c, vStride, t0, t1, b.out[i] + 16 * c, 0xffff);
      for (; c < chunks; ++c)
        valueChunks<1, T>(w, v + 16 * c, vStride, t0, t1, b.out[i] + 16 * c,
                       c + 1 == chunks ? lastMask : 0xffff);
    }
}

/// Softmax of one query's n scores in place (max, e^x, normalized), 16 at a time.
MIDLLAMA_AVX512 void softmax512(float *s, int64_t n) {
  __m512 m = _mm512_set1_ps(-INFINITY);
  for (int64_t t = 0; t < n; t += 16)
    m = _mm512_max_ps(m, _mm512_mask_loadu_ps(m, lanesBelow(n - t), s + t));
  const __m512 max = _mm512_set1_ps(_mm512_reduce_max_ps(m));
  for (int64_t t = 0; t < n; t += 16) {
    const __mmask16 mask = lanesBelow(n - t);
    _mm512_mask_storeu_ps(s + t, mask, _mm512_sub_ps(_mm512_maskz_loadu_ps(mask, s + t), max));
  }
  expInPlace(s, n);
  __m512 total = _mm512_setzero_ps();
  for (int64_t t = 0; t < n; t += 16)
    total = _mm512_add_ps(total, _mm512_maskz_loadu_ps(lanesBelow(n - t), s + t));
  const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(total));
  for (int64_t t = 0; t < n; t += 16) {
    const __mmask16 mask = lanesBelow(n - t);
    _mm512_mask_storeu_ps(s + t, mask, _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, s + t), inv));
  }
}
#endif

/// Softmax of each query's scores over its own positions, in place: max, e^x, normalized.
void softmaxRows(const QueryBlock &b, float *scores, int64_t ld) {
  for (int i = 0; i < b.count; ++i) {
    float *s = scores + i * ld;
    const int64_t n = b.length[i];
#if defined(__x86_64__) && defined(__GNUC__)
    if (haveAVX512()) {
      softmax512(s, n);
      continue;
    }
#endif
    float m = -INFINITY;
    for (int64_t t = 0; t < n; ++t)
      m = std::max(m, s[t]);
    for (int64_t t = 0; t < n; ++t)
      s[t] -= m;
    expInPlace(s, n);
    float total = 0;
    for (int64_t t = 0; t < n; ++t)
      total += s[t];
    const float inv = 1.0f / total;
    for (int64_t t = 0; t < n; ++t)
      s[t] *= inv;
  }
}

} // namespace

namespace {

/// A value as the cache stores it.
inline void store(float &slot, float x) { slot = x; }
inline void store(uint16_t &slot, float x) { slot = floatToHalf(x); }

template <typename T>
void attentionWith(float *q, float *k, const float *v, float *out, const int64_t *positions,
                   int64_t rows, T *kCache, T *vCache, int64_t cacheLength,
                   const AttentionParams &p) {
  const int64_t kStride = keyCacheStride(cacheLength, sizeof(T) == 2);
  const int64_t d = p.headDim, kvWidth = p.kvHeads * d, qWidth = p.heads * d;
  const int64_t group = p.heads / p.kvHeads;
  const RotaryTable &angles = rotaryTable(p, positions, rows);
  const int64_t half = p.rotaryDim / 2;
  parallelFor(rows, 4 * (qWidth + kvWidth), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      rotate(q + r * qWidth, k + r * kvWidth, p, angles.cos.data() + r * half,
             angles.sin.data() + r * half);
      for (int64_t f = 0; f < kvWidth; ++f)
        store(vCache[positions[r] * kvWidth + f], v[r * kvWidth + f]);
    }
  });
  for (int64_t r = 0; r < rows; ++r) // the keys transposed: feature-major
    for (int64_t f = 0; f < kvWidth; ++f)
      store(kCache[f * kStride + positions[r]], k[r * kvWidth + f]);
  // One task per (block of 16 tokens, KV head): its queries are every head of the group
  // at each of the tokens.
  const int64_t blocks = (rows + kRowsPerTask - 1) / kRowsPerTask;
  const int64_t rowsPerTask = std::min(rows, kRowsPerTask);
  parallelFor(blocks * p.kvHeads, 2 * rowsPerTask * group * (positions[rows - 1] + 1) * d,
              [&](int64_t begin, int64_t end) {
                std::vector<float> scores;
                for (int64_t task = begin; task < end; ++task) {
                  const int64_t block = task / p.kvHeads, kvh = task % p.kvHeads;
                  const int64_t r0 = block * kRowsPerTask, r1 = std::min(rows, r0 + kRowsPerTask);
                  // Every head of the group at each token, in chunks of what a QueryBlock holds.
                  const int64_t queries = (r1 - r0) * group;
                  for (int64_t c0 = 0; c0 < queries; c0 += kMaxQueries) {
                    QueryBlock b;
                    for (int64_t i = c0; i < std::min(queries, c0 + kMaxQueries); ++i, ++b.count) {
                      const int64_t r = r0 + i / group, head = kvh * group + i % group;
                      b.q[b.count] = q + r * qWidth + head * d;
                      b.out[b.count] = out + r * qWidth + head * d;
                      b.length[b.count] = positions[r] + 1;
                      b.maxLength = std::max(b.maxLength, positions[r] + 1);
                    }
                    const int64_t ld = (b.maxLength + 15) / 16 * 16;
                    scores.resize(size_t(b.count * ld));
                    const T *kT = kCache + kvh * d * kStride, *vh = vCache + kvh * d;
#if defined(__x86_64__) && defined(__GNUC__)
                    if (haveAVX512()) {
                      score512<T>(b, kT, kStride, d, p.scale, scores.data(), ld);
                      softmaxRows(b, scores.data(), ld);
                      values512<T>(b, vh, kvWidth, d, scores.data(), ld);
                      continue;
                    }
#endif
                    scoreGeneric<T>(b, kT, kStride, d, p.scale, scores.data(), ld);
                    softmaxRows(b, scores.data(), ld);
                    valuesGeneric<T>(b, vh, kvWidth, d, scores.data(), ld);
                  }
                }
              });
}

bool &halfKVCacheFlag() {
  static bool on = false;
  return on;
}

} // namespace

void setHalfKVCache(bool on) { halfKVCacheFlag() = on; }

int64_t keyCacheStride(int64_t cacheLength, bool half) {
  const int64_t perLine = half ? 32 : 16;
  const int64_t lines = (std::max<int64_t>(1, cacheLength) + perLine - 1) / perLine;
  return (lines % 2 ? lines : lines + 1) * perLine;
}
bool halfKVCache() { return halfKVCacheFlag(); }

void attention(float *q, float *k, const float *v, float *out, const int64_t *positions,
               int64_t rows, float *kCache, float *vCache, int64_t cacheLength,
               const AttentionParams &p) {
  attentionWith(q, k, v, out, positions, rows, kCache, vCache, cacheLength, p);
}

void attention(float *q, float *k, const float *v, float *out, const int64_t *positions,
               int64_t rows, uint16_t *kCache, uint16_t *vCache, int64_t cacheLength,
               const AttentionParams &p) {
  attentionWith(q, k, v, out, positions, rows, kCache, vCache, cacheLength, p);
}

} // namespace midllama::rt::cpu
