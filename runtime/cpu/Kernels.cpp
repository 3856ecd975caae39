//===- Kernels.cpp - CPU kernels of the runtime ---------------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/cpu/Kernels.h"
#include "runtime/params/Half.h"

#include "runtime/format/Codebooks.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <cstdio>
#include <system_error>
#include <thread>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

namespace midllama::rt::cpu {

//===----------------------------------------------------------------------===//
// Threads: a persistent pool, so a kernel call costs a wake-up, not a thread start.
//===----------------------------------------------------------------------===//

namespace {

class Pool {
public:
  explicit Pool(int threads) : size(threads) {
    try {
      for (int i = 1; i < threads; ++i)
        workers.emplace_back([this, i] { loop(i); });
    } catch (const std::system_error &e) {
      // The system refused a thread (a process or memory limit): run with those started
      // rather than abort; the caller asked for more than this machine gives it.
      size = int(workers.size()) + 1;
      std::fprintf(stderr, "midllama: could start only %d of %d threads (%s); running with %d\n",
                   size, threads, e.what(), size);
    }
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(m);
      stop = true;
      generation.fetch_add(1, std::memory_order_release);
    }
    cv.notify_all();
    for (std::thread &t : workers)
      t.join();
  }
  int threads() const { return size; }

  void run(int64_t n, const std::function<void(int64_t, int64_t)> &body) {
    task = &body;
    total = n;
    // Threads take chunks of about 1/8 of an even share as they come free: work whose
    // items differ in cost (causal attention: row r attends over r + 1 positions) or a
    // thread that starts late still balances, at a few atomic increments per call.
    grain = std::max<int64_t>(1, n / (int64_t(size) * 8));
    next.store(0, std::memory_order_relaxed);
    pending.store(size - 1, std::memory_order_relaxed);
    {
      // Under the lock, so a worker about to sleep cannot miss the new generation.
      std::lock_guard<std::mutex> lock(m);
      generation.fetch_add(1, std::memory_order_release);
    }
    cv.notify_all();
    work(0);
    // The others finish about now (they took the last chunks): spin, then yield.
    for (int spins = 0; pending.load(std::memory_order_acquire) != 0; ++spins)
      if (spins > 4096)
        std::this_thread::yield();
  }

private:
  void work(int) {
    for (;;) {
      int64_t begin = next.fetch_add(grain, std::memory_order_relaxed);
      if (begin >= total)
        return;
      (*task)(begin, std::min(total, begin + grain));
    }
  }
  void loop(int index) {
    uint64_t seen = 0;
    while (true) {
      // Decode calls kernels back to back: a short spin catches the next call without the
      // cost of a sleep and a wake-up; a longer pause sleeps.
      uint64_t now = generation.load(std::memory_order_acquire);
      for (int spins = 0; now == seen && spins < 20000; ++spins) {
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
        now = generation.load(std::memory_order_acquire);
      }
      if (now == seen) {
        std::unique_lock<std::mutex> lock(m);
        cv.wait(lock, [&] { return generation.load(std::memory_order_acquire) != seen; });
        now = generation.load(std::memory_order_acquire);
      }
      seen = now;
      if (stop)
        return;
      work(index);
      pending.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  std::vector<std::thread> workers;
  std::mutex m;
  std::condition_variable cv;
  const std::function<void(int64_t, int64_t)> *task = nullptr;
  int64_t total = 0, grain = 1;
  std::atomic<int64_t> next{0};
  std::atomic<int> pending{0};
  int size = 1;
  std::atomic<uint64_t> generation{0};
  bool stop = false;
};

int requestedThreads = 0;
std::unique_ptr<Pool> pool;

Pool &getPool() {
  // hardware_concurrency() reads /sys on every call (glibc): once is enough.
  static const int available = int(std::max(1u, std::thread::hardware_concurrency()));
  int want = requestedThreads > 0 ? requestedThreads : available;
  if (!pool || pool->threads() != want)
    pool = std::make_unique<Pool>(want);
  return *pool;
}


/// Element `i` of a weight as fp32.
inline float at(const WeightRef &w, int64_t i) {
  switch (w.dtype) {
  case DType::F32:
    return static_cast<const float *>(w.data)[i];
  case DType::F16:
    return halfToFloat(static_cast<const uint16_t *>(w.data)[i]);
  case DType::BF16: {
    uint32_t bits = uint32_t(static_cast<const uint16_t *>(w.data)[i]) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  default:
    return 0.0f;
  }
}

/// Scale `i` of an affine weight as fp32.
inline float scaleAt(const WeightRef &w, int64_t i) {
  WeightRef s;
  s.data = w.scales;
  s.dtype = w.dtype;
  return at(s, i);
}

/// Row `n` of a [N, K] weight converted into `dst` (fp32 rows are used in place).
inline const float *weightRow(const WeightRef &w, int64_t n, float *dst) {
  if (decodesRows(w)) {
    dequantizeRow(w, n, dst);
    return dst;
  }
  if (w.dtype == DType::F32)
    return static_cast<const float *>(w.data) + n * w.cols;
  for (int64_t k = 0; k < w.cols; ++k)
    dst[k] = at(w, n * w.cols + k);
  return dst;
}

/// Dot product with 8 independent partial sums, which the compiler vectorizes.
inline float dot(const float *a, const float *b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t k = 0;
  for (; k + 8 <= n; k += 8)
    for (int j = 0; j < 8; ++j)
      acc[j] += a[k + j] * b[k + j];
  float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; k < n; ++k)
    s += a[k] * b[k];
  return s;
}

inline float siluOf(float x) { return x / (1.0f + std::exp(-x)); }

#if defined(__x86_64__) && defined(__GNUC__)
/// e^x on 16 lanes: x = n·ln2 + r with |r| ≤ ln2/2 (ln2 split in two so n·ln2 is exact),
/// e^r by its Taylor polynomial to r⁶ (truncation ≤ r⁷/7! ≈ 1.2e-7, about 1 ulp), times 2^n.
/// Inputs are clamped to [-87.3, 88.7], where e^x is a normal float.
__attribute__((target("avx512f"))) inline __m512 exp512(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.3f)), _mm512_set1_ps(88.7f));
  __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.0f / 720.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

/// out = silu(g) ⊙ u (u null: silu(g)), 16 at a time.
__attribute__((target("avx512f"))) void siluTimes512(const float *g, const float *u, float *out,
                                                     int64_t n) {
  int64_t i = 0;
  const __m512 one = _mm512_set1_ps(1.0f);
  for (; i + 16 <= n; i += 16) {
    __m512 x = _mm512_loadu_ps(g + i);
    __m512 s = _mm512_div_ps(x, _mm512_add_ps(one, exp512(_mm512_sub_ps(_mm512_setzero_ps(), x))));
    _mm512_storeu_ps(out + i, u ? _mm512_mul_ps(s, _mm512_loadu_ps(u + i)) : s);
  }
  for (; i < n; ++i)
    out[i] = u ? siluOf(g[i]) * u[i] : siluOf(g[i]);
}

/// x[i] = e^(x[i]) in place, 16 at a time.
__attribute__((target("avx512f"))) void expInPlace512(float *x, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(x + i, exp512(_mm512_loadu_ps(x + i)));
  for (; i < n; ++i)
    x[i] = std::exp(x[i]);
}
bool haveAVX512();
#endif

/// out = silu(g) ⊙ u, or silu(g) when u is null: the MLP's activation, vectorized where
/// the CPU has AVX-512 (its e^x within about 1 ulp of std::exp's).
void siluTimes(const float *g, const float *u, float *out, int64_t n) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (haveAVX512())
    return siluTimes512(g, u, out, n);
#endif
  for (int64_t i = 0; i < n; ++i)
    out[i] = u ? siluOf(g[i]) * u[i] : siluOf(g[i]);
}

/// x[i] = e^(x[i]) (attention's softmax), vectorized likewise.
void expInPlace(float *x, int64_t n) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (haveAVX512())
    return expInPlace512(x, n);
#endif
  for (int64_t i = 0; i < n; ++i)
    x[i] = std::exp(x[i]);
}

//===----------------------------------------------------------------------===//
// Matrix products. The portable path is dot products; on x86 CPUs with AVX2 and FMA
// (checked at run time, so one binary runs everywhere) a register-blocked kernel computes
// R x 4 outputs at once: 4 weight rows stay in L1 while blocks of 32 input rows stream
// past them, each 8-wide step doing R * 4 fused multiply-adds for R + 4 loads.
//===----------------------------------------------------------------------===//

/// Columns [begin, end) of in[rows, k] · w[n, k]ᵀ into out[r * ld + (j - begin)], portable.
void matmulColumnsGeneric(const float *in, float *out, int64_t ld, int64_t rows,
                          const WeightRef &w, int64_t begin, int64_t end) {
  int64_t k = w.cols;
  std::vector<float> buffer(w.dtype == DType::F32 && !decodesRows(w) ? 0 : k);
  for (int64_t j = begin; j < end; ++j) {
    const float *row = weightRow(w, j, buffer.data());
    for (int64_t r = 0; r < rows; ++r)
      out[r * ld + (j - begin)] = dot(in + r * k, row, k);
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2,fma,f16c"))) inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

/// Output columns per register block: R x kCols accumulators + kCols weight vectors + one
/// input vector must fit the 16 ymm registers (4 x 3 + 3 + 1).
constexpr int kCols = 3;

/// out[r, j..j+kCols-1] for R rows starting at `x` (row stride k), weight rows `wr`.
template <int R>
__attribute__((target("avx2,fma,f16c"))) void micro(const float *x, int64_t k,
                                                    const float *const *wr, float *out,
                                                    int64_t n, int64_t cols) {
  __m256 acc[R][kCols];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < kCols; ++c)
      acc[r][c] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= k; i += 8) {
    __m256 wv[kCols];
    for (int c = 0; c < kCols; ++c)
      wv[c] = _mm256_loadu_ps(wr[c] + i);
    for (int r = 0; r < R; ++r) {
      __m256 xv = _mm256_loadu_ps(x + r * k + i);
      for (int c = 0; c < kCols; ++c)
        acc[r][c] = _mm256_fmadd_ps(xv, wv[c], acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < cols; ++c) {
      float s = hsum(acc[r][c]);
      for (int64_t t = i; t < k; ++t)
        s += x[r * k + t] * wr[c][t];
      out[r * n + c] = s;
    }
}

__attribute__((target("avx2,fma,f16c"))) void convertRow(const WeightRef &w, int64_t row,
                                                          float *dst) {
  if (decodesRows(w)) {
    dequantizeRow(w, row, dst);
    return;
  }
  int64_t k = w.cols, i = 0;
  if (w.dtype == DType::F16) {
    const uint16_t *src = static_cast<const uint16_t *>(w.data) + row * k;
    for (; i + 8 <= k; i += 8)
      _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(
                                    reinterpret_cast<const __m128i *>(src + i))));
  }
  for (; i < k; ++i)
    dst[i] = at(w, row * k + i);
}

/// One output per weight row, read once, front to back (decode: one token, memory-bound).
__attribute__((target("avx2,fma,f16c"))) float dotAVX2(const float *a, const float *b,
                                                       int64_t k) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 32 <= k; i += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
  }
  for (; i + 8 <= k; i += 8)
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  float s = hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (; i < k; ++i)
    s += a[i] * b[i];
  return s;
}

__attribute__((target("avx2,fma,f16c"))) void matmulColumnsAVX2(const float *in, float *out,
                                                                 int64_t ld, int64_t rows,
                                                                 const WeightRef &w,
                                                                 int64_t begin, int64_t end) {
  int64_t k = w.cols;
  bool direct = w.dtype == DType::F32 && !decodesRows(w); // rows usable in place
  std::vector<float> buffer(direct ? 0 : kCols * k);
  if (rows < 4) { // too few rows to reuse a weight block: stream each row once
    for (int64_t j = begin; j < end; ++j) {
      const float *row = static_cast<const float *>(w.data) + j * k;
      if (!direct) {
        convertRow(w, j, buffer.data());
        row = buffer.data();
      }
      for (int64_t r = 0; r < rows; ++r)
        out[r * ld + (j - begin)] = dotAVX2(in + r * k, row, k);
    }
    return;
  }
  const float *wr[kCols];
  constexpr int64_t kRowBlock = 32;
  for (int64_t j = begin; j < end; j += kCols) {
    int64_t cols = std::min<int64_t>(kCols, end - j);
    for (int c = 0; c < kCols; ++c) {
      int64_t row = j + std::min<int64_t>(c, cols - 1); // tail columns repeat the last row
      if (direct) {
        wr[c] = static_cast<const float *>(w.data) + row * k;
      } else {
        convertRow(w, row, buffer.data() + c * k);
        wr[c] = buffer.data() + c * k;
      }
    }
    for (int64_t r0 = 0; r0 < rows; r0 += kRowBlock) {
      int64_t r1 = std::min(rows, r0 + kRowBlock), r = r0;
      for (; r + 4 <= r1; r += 4)
        micro<4>(in + r * k, k, wr, out + r * ld + (j - begin), ld, int(cols));
      for (; r < r1; ++r)
        micro<1>(in + r * k, k, wr, out + r * ld + (j - begin), ld, int(cols));
    }
  }
}

bool haveAVX2() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                          __builtin_cpu_supports("f16c") && !std::getenv("MIDLLAMA_NO_AVX2");
  return yes;
}
#else
bool haveAVX2() { return false; }
void matmulColumnsAVX2(const float *, float *, int64_t, int64_t, const WeightRef &, int64_t,
                       int64_t) {}
#endif

//===----------------------------------------------------------------------===//
// Panel16 weights: 16 outputs per vector of weights, the input broadcast.
//===----------------------------------------------------------------------===//

/// Portable: columns [begin, end) (begin a multiple of 16) from panels.
void panelColumnsGeneric(const float *in, float *out, int64_t ld, int64_t rows,
                         const WeightRef &w, int64_t begin, int64_t end) {
  int64_t k = w.cols;
  for (int64_t p = begin / 16; p * 16 < end; ++p) {
    int64_t lanes = std::min<int64_t>(16, end - p * 16);
    for (int64_t r = 0; r < rows; ++r) {
      float acc[16] = {};
      for (int64_t i = 0; i < k; ++i) {
        float x = in[r * k + i];
        int64_t base = (p * k + i) * 16;
        for (int l = 0; l < 16; ++l)
          acc[l] += x * at(w, base + l);
      }
      for (int64_t l = 0; l < lanes; ++l)
        out[r * ld + (p * 16 + l - begin)] = acc[l];
    }
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
bool haveAVX512() {
  static const bool yes = __builtin_cpu_supports("avx512f") && !std::getenv("MIDLLAMA_NO_AVX512");
  return yes;
}

template <int R>
__attribute__((target("avx512f"))) void panelMicro512(const float *x, int64_t k,
                                                      const WeightRef &w, int64_t p,
                                                      int panels, float *out, int64_t ld,
                                                      int64_t col0, int64_t end) {
  __m512 acc[R][2];
  for (int r = 0; r < R; ++r)
    acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  const bool f16 = w.dtype == DType::F16;
  __m512 b[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()}; // b[1] unused for one panel
  for (int64_t i = 0; i < k; ++i) {
    for (int c = 0; c < panels; ++c) {
      int64_t base = ((p + c) * k + i) * 16;
      b[c] = f16 ? _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(
                       static_cast<const uint16_t *>(w.data) + base)))
                 : _mm512_loadu_ps(static_cast<const float *>(w.data) + base);
    }
    for (int r = 0; r < R; ++r) {
      __m512 a = _mm512_set1_ps(x[r * k + i]);
      acc[r][0] = _mm512_fmadd_ps(a, b[0], acc[r][0]);
      if (panels == 2)
        acc[r][1] = _mm512_fmadd_ps(a, b[1], acc[r][1]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < panels; ++c) {
      int64_t first = (p + c) * 16, lanes = std::min<int64_t>(16, end - first);
      if (lanes <= 0)
        continue;
      float tmp[16];
      _mm512_storeu_ps(tmp, acc[r][c]);
      std::memcpy(out + r * ld + (first - col0), tmp, size_t(lanes) * sizeof(float));
    }
}

/// 16 weights of a panel as fp32.
__attribute__((target("avx512f"))) inline __m512 loadPanel512(const WeightRef &w, bool f16,
                                                              int64_t base) {
  return f16 ? _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(
                   static_cast<const uint16_t *>(w.data) + base)))
             : _mm512_loadu_ps(static_cast<const float *>(w.data) + base);
}

/// One input row (decode): the panel's K steps split over 4 independent accumulator
/// chains per panel, so loads, not FMA latency, set the pace.
__attribute__((target("avx512f"))) void panelGemv512(const float *x, int64_t k,
                                                     const WeightRef &w, int64_t p, int panels,
                                                     float *out, int64_t col0, int64_t end) {
  const bool f16 = w.dtype == DType::F16;
  for (int c = 0; c < panels; ++c) {
    int64_t panelBase = (p + c) * k * 16;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 4 <= k; i += 4) {
      a0 = _mm512_fmadd_ps(_mm512_set1_ps(x[i]), loadPanel512(w, f16, panelBase + i * 16), a0);
      a1 = _mm512_fmadd_ps(_mm512_set1_ps(x[i + 1]), loadPanel512(w, f16, panelBase + (i + 1) * 16), a1);
      a2 = _mm512_fmadd_ps(_mm512_set1_ps(x[i + 2]), loadPanel512(w, f16, panelBase + (i + 2) * 16), a2);
      a3 = _mm512_fmadd_ps(_mm512_set1_ps(x[i + 3]), loadPanel512(w, f16, panelBase + (i + 3) * 16), a3);
    }
    for (; i < k; ++i)
      a0 = _mm512_fmadd_ps(_mm512_set1_ps(x[i]), loadPanel512(w, f16, panelBase + i * 16), a0);
    __m512 acc = _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
    int64_t first = (p + c) * 16, lanes = std::min<int64_t>(16, end - first);
    if (lanes <= 0)
      continue;
    float tmp[16];
    _mm512_storeu_ps(tmp, acc);
    std::memcpy(out + (first - col0), tmp, size_t(lanes) * sizeof(float));
  }
}

__attribute__((target("avx512f"))) void panelColumnsAVX512(const float *in, float *out,
                                                           int64_t ld, int64_t rows,
                                                           const WeightRef &w, int64_t begin,
                                                           int64_t end) {
  int64_t k = w.cols, lastPanel = (end + 15) / 16;
  for (int64_t p = begin / 16; p < lastPanel; p += 2) {
    int panels = int(std::min<int64_t>(2, lastPanel - p));
    if (rows == 1) {
      panelGemv512(in, k, w, p, panels, out, begin, end);
      continue;
    }
    // Blocks of 6 rows, the remainder in as few blocks as possible: a lone row streams the
    // whole panel for 2 FMAs per step where a block of 6 does 12.
    int64_t r = 0;
    for (; r + 6 <= rows; r += 6)
      panelMicro512<6>(in + r * k, k, w, p, panels, out + r * ld, ld, begin, end);
    if (rows - r >= 4) {
      panelMicro512<4>(in + r * k, k, w, p, panels, out + r * ld, ld, begin, end);
      r += 4;
    }
    if (rows - r >= 2) {
      panelMicro512<2>(in + r * k, k, w, p, panels, out + r * ld, ld, begin, end);
      r += 2;
    }
    for (; r < rows; ++r)
      panelMicro512<1>(in + r * k, k, w, p, panels, out + r * ld, ld, begin, end);
  }
}

template <int R>
__attribute__((target("avx2,fma,f16c"))) void panelMicroAVX2(const float *x, int64_t k,
                                                             const WeightRef &w, int64_t p,
                                                             float *out, int64_t ld,
                                                             int64_t col0, int64_t end) {
  __m256 acc[R][2];
  for (int r = 0; r < R; ++r)
    acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  const bool f16 = w.dtype == DType::F16;
  for (int64_t i = 0; i < k; ++i) {
    int64_t base = (p * k + i) * 16;
    __m256 b0, b1;
    if (f16) {
      const uint16_t *h = static_cast<const uint16_t *>(w.data) + base;
      b0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(h)));
      b1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(h + 8)));
    } else {
      const float *f = static_cast<const float *>(w.data) + base;
      b0 = _mm256_loadu_ps(f);
      b1 = _mm256_loadu_ps(f + 8);
    }
    for (int r = 0; r < R; ++r) {
      __m256 a = _mm256_set1_ps(x[r * k + i]);
      acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
    }
  }
  int64_t first = p * 16, lanes = std::min<int64_t>(16, end - first);
  for (int r = 0; r < R; ++r) {
    float tmp[16];
    _mm256_storeu_ps(tmp, acc[r][0]);
    _mm256_storeu_ps(tmp + 8, acc[r][1]);
    std::memcpy(out + r * ld + (first - col0), tmp, size_t(lanes) * sizeof(float));
  }
}

__attribute__((target("avx2,fma,f16c"))) void panelColumnsAVX2(const float *in, float *out,
                                                                int64_t ld, int64_t rows,
                                                                const WeightRef &w,
                                                                int64_t begin, int64_t end) {
  int64_t k = w.cols;
  for (int64_t p = begin / 16; p * 16 < end; ++p) {
    int64_t r = 0;
    for (; r + 4 <= rows; r += 4)
      panelMicroAVX2<4>(in + r * k, k, w, p, out + r * ld, ld, begin, end);
    for (; r < rows; ++r)
      panelMicroAVX2<1>(in + r * k, k, w, p, out + r * ld, ld, begin, end);
  }
}
/// Decode (1-3 input rows) of a dense 4-bit affine weight whose groups are whole runs of
/// 32 columns: the codes are never expanded into a row. Per 32 columns, one 16-byte load
/// widened to 16 low and 16 high nibbles (columns 2i and 2i + 1) as floats, multiplied by the
/// input's even and odd columns, scaled by the group's scale; the zero points enter once per
/// group, as (q - z)·s·x summed = s·Σq·x - s·z·Σx with Σx per group computed once per input.
__attribute__((target("avx512f"))) void int4RowsAVX512(const float *in, float *out, int64_t ld,
                                                       int64_t rows, const WeightRef &w,
                                                       int64_t begin, int64_t end) {
  const int64_t k = w.cols, half = k / 2, chunksPerGroup = w.groupSize / 32;
  // Per thread, reused: decode calls this once per weight and token.
  thread_local std::vector<float> xe, xo, groupSum;
  xe.resize(size_t(rows * half));
  xo.resize(xe.size());
  groupSum.assign(size_t(rows * w.groups), 0.0f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < half; ++i) {
      xe[size_t(r * half + i)] = in[r * k + 2 * i];
      xo[size_t(r * half + i)] = in[r * k + 2 * i + 1];
      groupSum[size_t(r * w.groups + 2 * i / w.groupSize)] += in[r * k + 2 * i] + in[r * k + 2 * i + 1];
    }
  const __m512i nibble = _mm512_set1_epi32(0xf);
  const float implicitZero = 8.0f;
  for (int64_t j = begin; j < end; ++j) {
    const uint8_t *codes = w.codes + j * w.codeRowBytes;
    __m512 acc[3] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    float zeroTerm[3] = {0, 0, 0};
    for (int64_t g = 0; g < w.groups; ++g) {
      float scale = scaleAt(w, j * w.groups + g);
      float zero = w.zeros ? float(w.zeros[j * w.groups + g]) : implicitZero;
      __m512 sv = _mm512_set1_ps(scale);
      for (int64_t c = g * chunksPerGroup; c < (g + 1) * chunksPerGroup; ++c) {
        __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(codes + 16 * c)));
        __m512 lo = _mm512_cvtepi32_ps(_mm512_and_si512(v, nibble));
        __m512 hi = _mm512_cvtepi32_ps(_mm512_srli_epi32(v, 4));
        for (int64_t r = 0; r < rows; ++r) {
          __m512 t = _mm512_mul_ps(lo, _mm512_loadu_ps(&xe[size_t(r * half + 16 * c)]));
          t = _mm512_fmadd_ps(hi, _mm512_loadu_ps(&xo[size_t(r * half + 16 * c)]), t);
          acc[r] = _mm512_fmadd_ps(sv, t, acc[r]);
        }
      }
      for (int64_t r = 0; r < rows; ++r)
        zeroTerm[r] += scale * zero * groupSum[size_t(r * w.groups + g)];
    }
    for (int64_t r = 0; r < rows; ++r)
      out[r * ld + (j - begin)] = _mm512_reduce_add_ps(acc[r]) - zeroTerm[r];
  }
}

/// The same for NF4 rows whose blocks fall on row boundaries (K a multiple of the block
/// size, itself a multiple of 32): the 16 NF4 values live in one register and the codes
/// index it (vpermps), high nibble first; each 32 values get their block's absmax.
__attribute__((target("avx512f"))) void nf4RowsAVX512(const float *in, float *out, int64_t ld,
                                                      int64_t rows, const WeightRef &w,
                                                      int64_t begin, int64_t end) {
  const int64_t k = w.cols, half = k / 2;
  thread_local std::vector<float> xe, xo; // per thread, reused across calls
  xe.resize(size_t(rows * half));
  xo.resize(xe.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < half; ++i) {
      xe[size_t(r * half + i)] = in[r * k + 2 * i];
      xo[size_t(r * half + i)] = in[r * k + 2 * i + 1];
    }
  const __m512 table = _mm512_loadu_ps(kNF4Values);
  const __m512i nibble = _mm512_set1_epi32(0xf);
  const float *absmax = static_cast<const float *>(w.scales);
  for (int64_t j = begin; j < end; ++j) {
    const uint8_t *codes = w.codes + j * half; // row j's values start at value j·K
    const float *rowAbsmax = absmax + j * k / w.groupSize;
    __m512 acc[3] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    for (int64_t c = 0; c < k / 32; ++c) {
      __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(codes + 16 * c)));
      __m512 even = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), table);
      __m512 odd = _mm512_permutexvar_ps(_mm512_and_si512(v, nibble), table);
      __m512 scale = _mm512_set1_ps(rowAbsmax[32 * c / w.groupSize]);
      for (int64_t r = 0; r < rows; ++r) {
        __m512 t = _mm512_mul_ps(even, _mm512_loadu_ps(&xe[size_t(r * half + 16 * c)]));
        t = _mm512_fmadd_ps(odd, _mm512_loadu_ps(&xo[size_t(r * half + 16 * c)]), t);
        acc[r] = _mm512_fmadd_ps(scale, t, acc[r]);
      }
    }
    for (int64_t r = 0; r < rows; ++r)
      out[r * ld + (j - begin)] = _mm512_reduce_add_ps(acc[r]);
  }
}

/// Whether int4RowsAVX512 reads `w` with `rows` input rows.
bool int4FastPath(const WeightRef &w, int64_t rows) {
  return rows < 4 && w.bits == 4 && !w.nf4 && !w.int8 && w.sparse == WeightRef::Sparse::None &&
         w.groupSize % 32 == 0 && w.cols % w.groupSize == 0 && haveAVX512();
}

/// Whether nf4RowsAVX512 reads `w` with `rows` input rows.
bool nf4FastPath(const WeightRef &w, int64_t rows) {
  return rows < 4 && w.nf4 && w.sparse == WeightRef::Sparse::None && w.groupSize % 32 == 0 &&
         w.cols % w.groupSize == 0 && haveAVX512();
}
#else
bool haveAVX512() { return false; }
bool int4FastPath(const WeightRef &, int64_t) { return false; }
bool nf4FastPath(const WeightRef &, int64_t) { return false; }
void nf4RowsAVX512(const float *, float *, int64_t, int64_t, const WeightRef &, int64_t,
                   int64_t) {}
void int4RowsAVX512(const float *, float *, int64_t, int64_t, const WeightRef &, int64_t,
                    int64_t) {}
void panelColumnsAVX512(const float *, float *, int64_t, int64_t, const WeightRef &, int64_t,
                        int64_t) {}
void panelColumnsAVX2(const float *, float *, int64_t, int64_t, const WeightRef &, int64_t,
                      int64_t) {}
#endif

/// Columns [begin, end) of the product into out[r * ld + (j - begin)], by the fastest path
/// this CPU has.
void matmulColumns(const float *in, float *out, int64_t ld, int64_t rows, const WeightRef &w,
                   int64_t begin, int64_t end) {
  if (w.panels) {
    if (w.dtype == DType::BF16)
      panelColumnsGeneric(in, out, ld, rows, w, begin, end);
    else if (haveAVX512())
      panelColumnsAVX512(in, out, ld, rows, w, begin, end);
    else if (haveAVX2())
      panelColumnsAVX2(in, out, ld, rows, w, begin, end);
    else
      panelColumnsGeneric(in, out, ld, rows, w, begin, end);
    return;
  }
  if (int4FastPath(w, rows))
    return int4RowsAVX512(in, out, ld, rows, w, begin, end);
  if (nf4FastPath(w, rows))
    return nf4RowsAVX512(in, out, ld, rows, w, begin, end);
  if (haveAVX2() && (w.dtype != DType::BF16 || decodesRows(w)))
    matmulColumnsAVX2(in, out, ld, rows, w, begin, end);
  else
    matmulColumnsGeneric(in, out, ld, rows, w, begin, end);
}

} // namespace

namespace {

/// Calls `f(stream, i, col)` for each kept value of row `n` of a pruned weight, in column
/// order: `stream` its index in all the stored values, `i` its index in the row, `col` its
/// logical column (N:M: from its position in its run; bitmask: from the set bits).
template <typename F> void forEachKept(const WeightRef &w, int64_t n, F f) {
  if (w.sparse == WeightRef::Sparse::Bitmask) {
    // The set bits of the row's mask, 64 columns at a time, lowest first: the work is per
    // kept value, and no branch depends on a random bit.
    const int64_t maskBytes = (w.cols + 7) / 8;
    const uint8_t *mask = w.index + n * maskBytes;
    int64_t v = w.rowPtr[n], i = 0;
    for (int64_t byte = 0; byte < maskBytes; byte += 8) {
      uint64_t bits = 0;
      std::memcpy(&bits, mask + byte, size_t(std::min<int64_t>(8, maskBytes - byte)));
      while (bits) {
        int64_t col = byte * 8 + __builtin_ctzll(bits);
        bits &= bits - 1;
        f(v++, i++, col);
      }
    }
    return;
  }
  int64_t perRow = w.cols / w.nmM * w.nmN, bits = 0;
  while ((int64_t(1) << bits) < w.nmM)
    ++bits;
  const uint32_t posMask = (1u << bits) - 1;
  const uint8_t *idx = w.index + n * w.indexRowBytes;
  int64_t i = 0, stream = n * perRow;
  for (int64_t runStart = 0; runStart < w.cols; runStart += w.nmM) // run by run: no division
    for (int64_t j = 0; j < w.nmN; ++j, ++i) {
      int64_t bit = i * bits;
      uint32_t word = idx[bit >> 3];
      if ((bit & 7) + bits > 8)
        word |= uint32_t(idx[(bit >> 3) + 1]) << 8;
      f(stream + i, i, runStart + int64_t((word >> (bit & 7)) & posMask));
    }
}

/// Row `n` of an int8 weight as int8, a pruned one expanded from its kept codes.
const int8_t *int8Row(const WeightRef &w, int64_t n, int8_t *buffer) {
  const int8_t *q = reinterpret_cast<const int8_t *>(w.codes);
  if (w.sparse == WeightRef::Sparse::None)
    return q + n * w.cols;
  std::fill(buffer, buffer + w.cols, int8_t(0));
  forEachKept(w, n, [&](int64_t stream, int64_t, int64_t col) { buffer[col] = q[stream]; });
  return buffer;
}

} // namespace

void dequantizeRow(const WeightRef &w, int64_t n, float *dst) {
  if (w.int8) { // q · row scale, outlier columns from fp16
    std::vector<int8_t> buffer(static_cast<size_t>(w.sparse == WeightRef::Sparse::None ? 0 : w.cols));
    const int8_t *q = int8Row(w, n, buffer.data());
    float scale = static_cast<const float *>(w.scales)[n];
    for (int64_t c = 0; c < w.cols; ++c)
      dst[c] = float(q[c]) * scale;
    for (int64_t o = 0; o < w.numOutliers; ++o)
      dst[w.outlierColumns[o]] = halfToFloat(w.outliers[n * w.numOutliers + o]);
    return;
  }
  if (w.sparse != WeightRef::Sparse::None) {
    // The kept values of row n, in column order: value v (of the row's stream) sits at
    // column col(v); dense values read as their type, affine codes dequantized with the
    // scale and zero point of that column's group, NF4 codes with their block's absmax.
    WeightRef values; // the stored values, read with `at` whatever their type
    values.data = w.data;
    values.dtype = w.dtype;
    const uint32_t codeMask = w.bits ? (1u << w.bits) - 1 : 0;
    const float implicitZero = w.bits ? float(1 << (w.bits - 1)) : 0.0f;
    auto valueAt = [&](int64_t stream, int64_t rowCode, int64_t col) {
      if (!w.bits)
        return at(values, stream);
      if (w.nf4) { // one stream over the kept values, high nibble first
        uint8_t byte = w.codes[stream >> 1];
        return kNF4Values[(stream & 1) ? byte & 0xf : byte >> 4] *
               static_cast<const float *>(w.scales)[stream / w.groupSize];
      }
      const uint8_t *codes = w.codes;
      int64_t bit = rowCode * w.bits;
      if (w.sparse == WeightRef::Sparse::NM)
        codes += n * w.codeRowBytes;
      else
        bit = stream * w.bits;
      uint32_t word = codes[bit >> 3];
      if ((bit & 7) + w.bits > 8)
        word |= uint32_t(codes[(bit >> 3) + 1]) << 8;
      int64_t g = n * w.groups + col / w.groupSize;
      float zero = w.zeros ? float(w.zeros[g]) : implicitZero;
      return (float((word >> (bit & 7)) & codeMask) - zero) * scaleAt(w, g);
    };
    std::fill(dst, dst + w.cols, 0.0f);
    forEachKept(w, n, [&](int64_t stream, int64_t i, int64_t col) {
      dst[col] = valueAt(stream, i, col);
    });
    return;
  }
  if (w.nf4) { // value i of the stream: code (high nibble first) times its block's absmax
    const float *absmax = static_cast<const float *>(w.scales);
    for (int64_t c = 0; c < w.cols; ++c) {
      int64_t i = n * w.cols + c;
      uint8_t byte = w.codes[i >> 1];
      dst[c] = kNF4Values[(i & 1) ? byte & 0xf : byte >> 4] * absmax[i / w.groupSize];
    }
    return;
  }
  const uint8_t *codes = w.codes + n * w.codeRowBytes;
  const uint32_t mask = (1u << w.bits) - 1;
  const float implicitZero = float(1 << (w.bits - 1));
  for (int64_t g = 0; g < w.groups; ++g) {
    float scale = scaleAt(w, n * w.groups + g);
    float zero = w.zeros ? float(w.zeros[n * w.groups + g]) : implicitZero;
    int64_t end = std::min(w.cols, (g + 1) * w.groupSize);
    if (w.bits == 4) { // the common case: two codes per byte, low nibble first
      for (int64_t k = g * w.groupSize; k < end; ++k)
        dst[k] = (float((codes[k >> 1] >> ((k & 1) * 4)) & 0xf) - zero) * scale;
      continue;
    }
    for (int64_t k = g * w.groupSize; k < end; ++k) {
      int64_t bit = k * w.bits;
      uint32_t word = codes[bit >> 3];
      if ((bit & 7) + w.bits > 8)
        word |= uint32_t(codes[(bit >> 3) + 1]) << 8;
      dst[k] = (float((word >> (bit & 7)) & mask) - zero) * scale;
    }
  }
}

void setThreadCount(int threads) { requestedThreads = threads; }
int availableCPUs() { return int(std::max(1u, std::thread::hardware_concurrency())); }
int maxThreadCount() { return std::max(64, 4 * availableCPUs()); }
int threadCount() { return getPool().threads(); }

void parallelFor(int64_t n, int64_t costPerItem,
                 const std::function<void(int64_t, int64_t)> &body) {
  constexpr int64_t kMinWorkPerThread = 1 << 16;
  if (n < 2 || n * costPerItem < kMinWorkPerThread * 2) // decode's small calls: inline
    return body(0, n);
  Pool &p = getPool();
  if (p.threads() == 1)
    return body(0, n);
  p.run(n, body);
}

void embed(const int64_t *tokens, int64_t rows, const WeightRef &table, float *out) {
  int64_t k = table.cols;
  if (decodesRows(table)) {
    for (int64_t r = 0; r < rows; ++r)
      dequantizeRow(table, tokens[r], out + r * k);
    return;
  }
  for (int64_t r = 0; r < rows; ++r) {
    int64_t t = tokens[r];
    for (int64_t c = 0; c < k; ++c)
      out[r * k + c] = table.panels ? at(table, ((t / 16) * k + c) * 16 + t % 16)
                                    : at(table, t * k + c);
  }
}

void rmsNorm(const float *in, float *out, int64_t rows, int64_t width, const WeightRef &w,
             float eps) {
  // Rows are independent: a prefill's rows split over the threads (each row computed as
  // on one thread, so the result does not depend on the split).
  parallelFor(rows, 3 * width, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float *x = in + r * width;
      float ss = 0.0f;
      for (int64_t c = 0; c < width; ++c)
        ss += x[c] * x[c];
      float inv = 1.0f / std::sqrt(ss / float(width) + eps);
      for (int64_t c = 0; c < width; ++c)
        out[r * width + c] = at(w, c) * (x[c] * inv);
    }
  });
}

void addRMSNorm(const float *in, const float *residual, float *sum, float *out, int64_t rows,
                int64_t width, const WeightRef &w, float eps) {
  for (int64_t i = 0; i < rows * width; ++i)
    sum[i] = in[i] + residual[i];
  rmsNorm(sum, out, rows, width, w, eps);
}

namespace {

/// LLM.int8(): each input row quantized to int8 once per call (absmax of its non-outlier
/// columns), int32 dot products with the int8 weight rows, rescaled by both scales; the
/// outlier columns, rounded to fp16, times their fp16 weights. Matches quant::
/// int8OutlierMatmulReference up to fp32 rounding of the rescale.
void matmulInt8(const float *in, float *out, int64_t rows, const WeightRef &w) {
  int64_t n = w.rows, k = w.cols, c = w.numOutliers;
  std::vector<uint8_t> outlier(static_cast<size_t>(k), 0);
  for (int64_t o = 0; o < c; ++o)
    outlier[size_t(w.outlierColumns[o])] = 1;
  std::vector<int8_t> xq(static_cast<size_t>(rows * k));
  std::vector<float> sx(static_cast<size_t>(rows)), xo(static_cast<size_t>(rows * c));
  for (int64_t r = 0; r < rows; ++r) {
    const float *x = in + r * k;
    float absmax = 0;
    for (int64_t j = 0; j < k; ++j)
      if (!outlier[size_t(j)])
        absmax = std::max(absmax, std::fabs(x[j]));
    float s = absmax / 127.0f;
    sx[size_t(r)] = s;
    for (int64_t j = 0; j < k; ++j)
      xq[size_t(r * k + j)] = outlier[size_t(j)] || s == 0
                                  ? 0
                                  : int8_t(std::lround(std::clamp(x[j] / s, -127.0f, 127.0f)));
    for (int64_t o = 0; o < c; ++o)
      xo[size_t(r * c + o)] = halfToFloat(floatToHalf(x[w.outlierColumns[o]]));
  }
  const float *rowScale = static_cast<const float *>(w.scales);
  parallelFor(n, rows * k, [&](int64_t begin, int64_t end) {
    std::vector<float> wo(static_cast<size_t>(c));
    std::vector<int8_t> buffer(static_cast<size_t>(k));
    for (int64_t j = begin; j < end; ++j) {
      const int8_t *wr = int8Row(w, j, buffer.data());
      for (int64_t o = 0; o < c; ++o)
        wo[size_t(o)] = halfToFloat(w.outliers[j * c + o]);
      for (int64_t r = 0; r < rows; ++r) {
        const int8_t *xr = xq.data() + r * k;
        int32_t acc = 0;
        for (int64_t i = 0; i < k; ++i)
          acc += int32_t(xr[i]) * int32_t(wr[i]);
        float y = float(acc) * (sx[size_t(r)] * rowScale[j]);
        for (int64_t o = 0; o < c; ++o)
          y += xo[size_t(r * c + o)] * wo[size_t(o)];
        out[r * n + j] = y;
      }
    }
  });
}

} // namespace

void matmul(const float *in, float *out, int64_t rows, const WeightRef &w) {
  if (w.int8)
    return matmulInt8(in, out, rows, w);
  int64_t n = w.rows, k = w.cols;
  // Threads split the columns in whole register blocks: 32 columns (two panels) for
  // packed weights, 4 for row-major ones.
  int64_t unit = w.panels ? 32 : 4;
  parallelFor((n + unit - 1) / unit, unit * rows * k, [&](int64_t begin, int64_t end) {
    matmulColumns(in, out + unit * begin, n, rows, w, unit * begin, std::min(n, unit * end));
  });
}

void gateUpSwiGLU(const float *in, float *out, int64_t rows, const WeightRef &gate,
                  const WeightRef &up) {
  int64_t n = gate.rows, k = gate.cols;
  if (gate.int8 || up.int8) { // the int8 kernel quantizes its input once: whole projections
    std::vector<float> g(static_cast<size_t>(rows * n)), u(g.size());
    matmul(in, g.data(), rows, gate);
    matmul(in, u.data(), rows, up);
    swiglu(g.data(), u.data(), out, rows * n);
    return;
  }
  // Column chunks of 64: gate and up of a chunk are computed by the matmul kernel into
  // small buffers and combined; the [rows, n] projections never exist.
  constexpr int64_t kChunk = 64;
  parallelFor((n + kChunk - 1) / kChunk, 2 * kChunk * rows * k, [&](int64_t begin, int64_t end) {
    std::vector<float> g(size_t(rows * kChunk)), u(g.size());
    for (int64_t c = begin; c < end; ++c) {
      int64_t j0 = c * kChunk, j1 = std::min(n, j0 + kChunk);
      matmulColumns(in, g.data(), kChunk, rows, gate, j0, j1);
      matmulColumns(in, u.data(), kChunk, rows, up, j0, j1);
      for (int64_t r = 0; r < rows; ++r)
        siluTimes(g.data() + r * kChunk, u.data() + r * kChunk, out + r * n + j0, j1 - j0);
    }
  });
}

void swiglu(const float *gate, const float *up, float *out, int64_t count) {
  siluTimes(gate, up, out, count);
}

void add(const float *a, const float *b, float *out, int64_t count) {
  for (int64_t i = 0; i < count; ++i)
    out[i] = a[i] + b[i];
}

void mul(const float *a, const float *b, float *out, int64_t count) {
  for (int64_t i = 0; i < count; ++i)
    out[i] = a[i] * b[i];
}

void silu(const float *in, float *out, int64_t count) {
  siluTimes(in, nullptr, out, count);
}

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
