//===- decode-bench.cpp - CPU decode (GEMV) against the streaming bandwidth -===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// midllama-cpu-decode-bench [--threads T] [--rows N] [--cols K] [--layers L] [--repeat R]
//                           [--prefill-rows M] [--int8-activations] [--bf16-activations]
//                           [--json FILE] [--only NAME-PART]
//
// Issue 18's bandwidth question for the CPU backend: how close each weight format's
// decode product (one input row times an [N, K] weight, the kernel a generated token runs)
// comes to what a plain streaming read of memory achieves on the same machine in the same
// run. The read: AVX-512 (else scalar) sums over a buffer far larger than the caches, one
// pass before each of a format's R passes; the fraction is the median of the R ratios.
// Each format: L distinct weights of N x K (so that their bytes also exceed the caches, as
// a model's layers do), cycled R times through cpu::matmul with one row;
// its bandwidth is the bytes the format stores (codes, scales, zero points or minimums)
// over the time. Weights are random codes: the kernels' speed does not depend on values.
// The 2- to 6- and 8-bit affine weights are tiled first where the CPU has AVX-512, as the
// loader tiles them (runtime/cpu/CodeTiles.cpp).
// Prefill's roofline is compute, not memory: each format's product with M input rows
// (default 256; 0 skips it) in GFLOP/s against the fp32 FMA peak measured in the same run
// (independent FMA chains on registers, no loads), which tells how much a quantized
// prefill can gain at all with fp32 activations (it runs the fp32 panel kernel on decoded
// panels: at best the peak) and what int8 (--int8-activations) and bf16 (--bf16-activations:
// two multiply-adds per lane and instruction) activations add.
// Prints the tables and, with --json, the figures.
//
//===----------------------------------------------------------------------===//

#include "runtime/artifact/Program.h"
#include "runtime/cpu/Kernels.h"
#include "runtime/params/Half.h"
#include "runtime/support/HugePageArena.h"

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

using namespace midllama::rt;

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f"))) float sum512(const float *x, int64_t n) {
  __m512 a = _mm512_setzero_ps(), b = a, c = a, d = a;
  for (int64_t i = 0; i + 64 <= n; i += 64) {
    a = _mm512_add_ps(a, _mm512_loadu_ps(x + i));
    b = _mm512_add_ps(b, _mm512_loadu_ps(x + i + 16));
    c = _mm512_add_ps(c, _mm512_loadu_ps(x + i + 32));
    d = _mm512_add_ps(d, _mm512_loadu_ps(x + i + 48));
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a, b), _mm512_add_ps(c, d)));
}
#endif

/// A plain read of 1 GiB, split over the runtime's threads as the kernels split their
/// work, on 4 KiB pages (a std::vector, as the weights read from the artifact's mapping)
/// or on transparent huge pages (the arena the loader tiles weights into). `pass` times
/// one read: the formats' rounds alternate with it, so that a ratio compares two passes
/// a moment apart (other tenants of this VM's host moved both by +-15% over minutes).
class StreamingRead {
public:
  static constexpr int64_t kBytes = int64_t(1) << 30;
  StreamingRead() : small(size_t(kBytes / 4), 1.0f) {
    huge = reinterpret_cast<float *>(arena.allocate(size_t(kBytes)));
    if (huge)
      std::fill_n(huge, kBytes / 4, 1.0f);
  }
  bool hasHugePages() const { return huge != nullptr; }
  /// Bytes per second of one pass (0 without huge pages where they were asked for).
  double pass(bool hugePages) {
    const float *data = hugePages ? huge : small.data();
    if (!data)
      return 0;
    const int64_t n = kBytes / 4;
    std::vector<float> partial(64, 0.0f);
    const double t0 = now();
    cpu::parallelFor(64, n / 64, [&](int64_t begin, int64_t end) {
      for (int64_t c = begin; c < end; ++c) {
        const float *x = data + c * (n / 64);
#if defined(__x86_64__) && defined(__GNUC__)
        partial[size_t(c)] = sum512(x, n / 64);
#else
        float s = 0;
        for (int64_t i = 0; i < n / 64; ++i)
          s += x[i];
        partial[size_t(c)] = s;
#endif
      }
    });
    const double t = now() - t0;
    for (float p : partial)
      sink = sink + p;
    return double(kBytes) / t;
  }
  /// The best of `repeat` passes.
  double best(bool hugePages, int repeat) {
    double b = 0;
    for (int r = 0; r < repeat; ++r)
      b = std::max(b, pass(hugePages));
    return b;
  }

private:
  std::vector<float> small;
  HugePageArena arena;
  float *huge = nullptr;
  volatile float sink = 0;
};

/// fp32 multiply-adds per second, the threads' sum: 24 independent chains per thread on
/// registers (more than FMA latency x units on any x86 core), no memory operands; the best
/// of `repeat` runs of ~0.1 s. 2 FLOP per multiply-add.
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f"))) float fmaChains512(int64_t steps) {
  __m512 a[24];
  for (int i = 0; i < 24; ++i)
    a[i] = _mm512_set1_ps(0.001f * float(i));
  const __m512 b = _mm512_set1_ps(0.9999f), c = _mm512_set1_ps(1e-4f);
  for (int64_t s = 0; s < steps; ++s) {
#pragma GCC unroll 24
    for (int i = 0; i < 24; ++i)
      a[i] = _mm512_fmadd_ps(a[i], b, c);
  }
  __m512 sum = a[0];
  for (int i = 1; i < 24; ++i)
    sum = _mm512_add_ps(sum, a[i]);
  return _mm512_reduce_add_ps(sum);
}
#endif

double fmaPeakFlops(int threads, int repeat) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (!__builtin_cpu_supports("avx512f"))
    return 0;
  const int64_t steps = 2000000; // 24 · 16 · 2 · 2e6 = 1.5 GFLOP per thread
  double best = 0;
  volatile float sink = 0;
  for (int r = 0; r < repeat; ++r) {
    std::vector<float> out(size_t(threads), 0.0f);
    double t0 = now();
    cpu::parallelFor(threads, threads, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i)
        out[size_t(i)] = fmaChains512(steps);
    });
    double t = now() - t0;
    for (float v : out)
      sink = sink + v;
    best = std::max(best, double(threads) * double(steps) * 24 * 16 * 2 / t);
  }
  return best;
#else
  (void)threads;
  (void)repeat;
  return 0;
#endif
}

/// One format's weights: L of them, their storage, and the bytes each stores.
struct Format {
  std::string name;
  std::vector<std::vector<uint8_t>> store; // per weight: codes or values
  std::vector<std::vector<uint8_t>> side;  // per weight: scales (and zeros/mins)
  std::vector<WeightView> views;
  int64_t bytesPerWeight = 0;
};

std::vector<uint8_t> randomBytes(size_t n, std::mt19937_64 &rng) {
  std::vector<uint8_t> v(n);
  for (auto &b : v)
    b = uint8_t(rng());
  return v;
}

/// A dense weight of `dtype` (F32, F16, BF16), values in [-1, 1); in panels of 16 rows
/// when `panels` (how midllama-compile stores dense matrices for the CPU).
Format dense(const std::string &name, DType dtype, bool panels, int64_t n, int64_t k,
             int layers, std::mt19937_64 &rng) {
  Format f;
  f.name = name;
  const size_t elem = dtype == DType::F32 ? 4 : 2;
  for (int l = 0; l < layers; ++l) {
    std::vector<uint8_t> v(size_t(n * k) * elem);
    std::uniform_real_distribution<float> u(-1, 1);
    for (int64_t i = 0; i < n * k; ++i) {
      float x = u(rng);
      if (dtype == DType::F32)
        std::memcpy(&v[size_t(i) * 4], &x, 4);
      else {
        uint16_t h = dtype == DType::F16 ? floatToHalf(x) : uint16_t([&] {
          uint32_t bits;
          std::memcpy(&bits, &x, 4);
          return bits >> 16;
        }());
        std::memcpy(&v[size_t(i) * 2], &h, 2);
      }
    }
    if (panels) {
      std::vector<uint8_t> packed(size_t((n + 15) / 16 * 16 * k) * elem);
      packPanel16(v.data(), n, k, int64_t(elem), packed.data());
      v = std::move(packed);
    }
    f.store.push_back(std::move(v));
  }
  for (auto &v : f.store) {
    WeightView w;
    w.data = v.data();
    w.dtype = dtype;
    w.rows = n;
    w.cols = k;
    w.panels = panels;
    f.views.push_back(w);
  }
  f.bytesPerWeight = n * k * int64_t(elem);
  return f;
}

/// The fields every quantized view here shares: shape, format, code width and groups.
WeightView codeView(DType scaleType, int64_t n, int64_t k, FormatKind format, int bits,
                    int64_t group, int64_t groups, const uint8_t *codes, const void *scales) {
  WeightView w;
  w.dtype = scaleType;
  w.rows = n;
  w.cols = k;
  w.format = format;
  w.bits = bits;
  w.groupSize = group;
  w.groups = groups;
  w.codes = codes;
  w.scales = scales;
  return w;
}

enum class Offset { Symmetric, Zeros, Minimum };

/// An affine weight of `bits` in groups of `group` columns with fp16 scales.
Format affine(const std::string &name, int bits, int64_t group, Offset offset, int64_t n, int64_t k,
              int layers, std::mt19937_64 &rng) {
  Format f;
  f.name = name;
  const int64_t groups = (k + group - 1) / group, rowBytes = (k * bits + 7) / 8;
  for (int l = 0; l < layers; ++l) {
    f.store.push_back(randomBytes(size_t(n * rowBytes), rng));
    // fp16 scales (then zero points or fp16 minimums), one per group.
    std::vector<uint8_t> side(size_t(n * groups) * (offset == Offset::Minimum ? 4
                                                    : offset == Offset::Zeros ? 3
                                                                              : 2));
    uint16_t s = floatToHalf(0.01f), m = floatToHalf(-0.05f);
    for (int64_t i = 0; i < n * groups; ++i) {
      std::memcpy(&side[size_t(i) * 2], &s, 2);
      if (offset == Offset::Minimum)
        std::memcpy(&side[size_t(n * groups * 2 + i * 2)], &m, 2);
      if (offset == Offset::Zeros)
        side[size_t(n * groups * 2 + i)] = uint8_t(1 << (bits - 1));
    }
    f.side.push_back(std::move(side));
  }
  for (int l = 0; l < layers; ++l) {
    WeightView w = codeView(
        DType::F16, n, k, offset == Offset::Minimum ? FormatKind::AffineMin : FormatKind::Affine,
        bits, group, groups, f.store[size_t(l)].data(), f.side[size_t(l)].data());
    w.codeRowBytes = rowBytes;
    if (offset == Offset::Zeros)
      w.zeros = f.side[size_t(l)].data() + n * groups * 2;
    if (offset == Offset::Minimum)
      w.mins = f.side[size_t(l)].data() + n * groups * 2;
    f.views.push_back(w);
  }
  f.bytesPerWeight = int64_t(f.store[0].size() + f.side[0].size());
  return f;
}

/// ggml's K-quants as the GGUF import keeps them: scales (and minimums) are 8-bit codes
/// times an fp16 super-value per `block` groups, decoded to fp32 at load (the row-major
/// kernels' view) while the tiles keep the codes. The bytes counted are the stored ones
/// (codes, scale codes, fp16 supers), as in the artifact.
Format codedScales(const std::string &name, int bits, int64_t group, int64_t block, bool minimum,
                   int64_t n, int64_t k, int layers, std::mt19937_64 &rng) {
  Format f;
  f.name = name;
  const int64_t groups = k / group, supers = (groups + block - 1) / block,
                rowBytes = k * bits / 8;
  const int kinds = minimum ? 2 : 1;
  for (int l = 0; l < layers; ++l) {
    f.store.push_back(randomBytes(size_t(n * rowBytes), rng));
    // [scale codes][min codes], then fp32 [decoded scales][decoded mins][supers][min supers]
    std::vector<uint8_t> side(size_t(n * groups * kinds) +
                              4 * size_t((n * groups + n * supers) * kinds));
    uint8_t *codes = side.data();
    float *values = reinterpret_cast<float *>(side.data() + n * groups * kinds);
    float *super = values + n * groups * kinds;
    for (int64_t i = 0; i < n * supers * kinds; ++i)
      super[i] = i < n * supers ? 0.0003f : -0.0002f;
    for (int64_t i = 0; i < n * groups * kinds; ++i) {
      codes[i] = uint8_t(rng() % 64);
      const int64_t g = i % (n * groups), r = g / groups;
      values[i] = super[(i >= n * groups ? n * supers : 0) + r * supers + g % groups / block] *
                  float(codes[i]);
    }
    f.side.push_back(std::move(side));
  }
  for (int l = 0; l < layers; ++l) {
    uint8_t *side = f.side[size_t(l)].data();
    float *values = reinterpret_cast<float *>(side + n * groups * kinds);
    WeightView w = codeView(DType::F32, n, k, minimum ? FormatKind::AffineMin : FormatKind::Affine,
                            bits, group, groups, f.store[size_t(l)].data(), values);
    w.codeRowBytes = rowBytes;
    w.scaleBlock = block;
    w.scaleCodes = side;
    w.scaleSupers = values + n * groups * kinds;
    if (minimum) {
      w.mins = values + n * groups;
      w.minCodes = side + n * groups;
      w.minSupers = w.scaleSupers + n * supers;
    }
    f.views.push_back(w);
  }
  f.bytesPerWeight = n * rowBytes + (n * groups + n * supers * 2) * kinds;
  return f;
}

/// NF4 in blocks of `block` values of the row-major stream, fp32 absmax per block.
Format nf4(int64_t block, int64_t n, int64_t k, int layers, std::mt19937_64 &rng) {
  Format f;
  f.name = "nf4-b" + std::to_string(block);
  const int64_t blocks = (n * k + block - 1) / block;
  for (int l = 0; l < layers; ++l) {
    f.store.push_back(randomBytes(size_t((n * k + 1) / 2), rng));
    std::vector<uint8_t> side(size_t(blocks) * 4);
    float one = 0.05f;
    for (int64_t i = 0; i < blocks; ++i)
      std::memcpy(&side[size_t(i) * 4], &one, 4);
    f.side.push_back(std::move(side));
  }
  for (int l = 0; l < layers; ++l) {
    WeightView w = codeView(DType::F32, n, k, FormatKind::NF4, 4, block, blocks,
                            f.store[size_t(l)].data(), f.side[size_t(l)].data());
    f.views.push_back(w);
  }
  f.bytesPerWeight = int64_t(f.store[0].size() + f.side[0].size());
  return f;
}

struct Options {
  int threads = 1, layers = 0, repeat = 5;
  int64_t rows = 4096, cols = 4096, prefillRows = 256;
  bool int8 = false, bf16 = false;
  std::string json, only;
};

Options parse(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "midllama-cpu-decode-bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--threads")
      o.threads = std::atoi(next().c_str());
    else if (a == "--rows")
      o.rows = std::atoll(next().c_str());
    else if (a == "--cols")
      o.cols = std::atoll(next().c_str());
    else if (a == "--layers")
      o.layers = std::atoi(next().c_str());
    else if (a == "--repeat")
      o.repeat = std::atoi(next().c_str());
    else if (a == "--prefill-rows")
      o.prefillRows = std::atoll(next().c_str());
    else if (a == "--int8-activations")
      o.int8 = true;
    else if (a == "--bf16-activations")
      o.bf16 = true;
    else if (a == "--json")
      o.json = next();
    else if (a == "--only")
      o.only = next();
    else {
      std::fprintf(stderr, "usage: midllama-cpu-decode-bench [--threads T] [--rows N] [--cols K] "
                           "[--layers L] [--repeat R] [--prefill-rows M] [--int8-activations] "
                           "[--bf16-activations] [--json FILE] [--only NAME-PART]\n");
      std::exit(a == "--help" ? 0 : 2);
    }
  }
  if (o.threads < 1 || o.rows < 16 || o.cols < 64 || o.cols % 64 || o.repeat < 1 || o.layers < 0 ||
      o.prefillRows < 0) {
    std::fprintf(stderr, "midllama-cpu-decode-bench: bad sizes (cols a multiple of 64)\n");
    std::exit(2);
  }
  return o;
}

/// Each format's product with o.prefillRows input rows (its first weight; compute-bound,
/// so one is enough) in GFLOP/s against the fp32 FMA peak: prints the table and returns
/// its JSON fields.
std::string prefillTable(const std::vector<Format> &formats, const Options &o,
                         std::mt19937_64 &rng) {
  const double peak = fmaPeakFlops(o.threads, o.repeat);
  const int64_t m = o.prefillRows, n = o.rows, k = o.cols;
  std::vector<float> x(size_t(m * k)), y(size_t(m * n));
  std::uniform_real_distribution<float> u(-1, 1);
  for (auto &v : x)
    v = u(rng);
  std::printf("\nfp32 FMA peak: %.1f GFLOP/s (%d thread%s, register chains, best of %d)\n",
              peak / 1e9, o.threads, o.threads > 1 ? "s" : "", o.repeat);
  std::printf("| format | prefill GFLOP/s, %lld rows | fraction of the FMA peak |\n"
              "|---|---:|---:|\n",
              (long long)m);
  std::string json = ", \"fma_peak_flops\": " + std::to_string(peak) +
                     ", \"prefill_rows\": " + std::to_string(m) + ", \"prefill\": [";
  for (size_t fi = 0; fi < formats.size(); ++fi) {
    const WeightView &w = formats[fi].views[0];
    cpu::matmul(x.data(), y.data(), m, w); // warm
    double best = 1e30;
    for (int r = 0; r < o.repeat; ++r) {
      double t0 = now();
      cpu::matmul(x.data(), y.data(), m, w);
      best = std::min(best, now() - t0);
    }
    const double flops = 2.0 * double(m * n * k) / best;
    std::printf("| %s | %.1f | %s |\n", formats[fi].name.c_str(), flops / 1e9,
                peak > 0 ? std::to_string(flops / peak).substr(0, 4).c_str() : "-");
    json += std::string(fi ? ", " : "") + "{\"format\": \"" + formats[fi].name +
            "\", \"seconds\": " + std::to_string(best) +
            ", \"flops_per_s\": " + std::to_string(flops) + "}";
  }
  return json + "]";
}

} // namespace

/// The formats measured, each with enough layers of o.rows x o.cols weights; only those
/// whose name contains --only (the others are not even built).
static std::vector<Format> makeFormats(const Options &o, std::mt19937_64 &rng) {
  // Enough layers that every format's weights exceed 256 MB (far past any L3: this VM's
  // EPYC has 32 MB and more, which held the 4-bit formats' 4 layers of 4096 x 4096).
  auto layersAt = [&](double bitsPerWeight) {
    return o.layers ? o.layers
                    : int(std::max(2.0, std::ceil(double(int64_t(256) << 23) /
                                                  (double(o.rows * o.cols) * bitsPerWeight))));
  };
  const int64_t n = o.rows, k = o.cols;
  std::vector<Format> formats;
  auto add = [&](const std::string &name, const std::function<Format(const std::string &)> &make) {
    if (o.only.empty() || name.find(o.only) != std::string::npos)
      formats.push_back(make(name));
  };
  add("fp32 (panels, as compiled)", [&](const std::string &name) {
    return dense(name, DType::F32, true, n, k, layersAt(32), rng);
  });
  add("fp16 (panels, as compiled)", [&](const std::string &name) {
    return dense(name, DType::F16, true, n, k, layersAt(16), rng);
  });
  add("bf16 (panels, as compiled)", [&](const std::string &name) {
    return dense(name, DType::BF16, true, n, k, layersAt(16), rng);
  });
  add("fp32 (rows)", [&](const std::string &name) {
    return dense(name, DType::F32, false, n, k, layersAt(32), rng);
  });
  add("fp16 (rows)", [&](const std::string &name) {
    return dense(name, DType::F16, false, n, k, layersAt(16), rng);
  });
  add("int8 g32 sym (Q8_0)", [&](const std::string &name) {
    return affine(name, 8, 32, Offset::Symmetric, n, k, layersAt(8), rng);
  });
  add("int4 g32 sym (Q4_0)", [&](const std::string &name) {
    return affine(name, 4, 32, Offset::Symmetric, n, k, layersAt(4), rng);
  });
  add("int4 g32 min (Q4_1)", [&](const std::string &name) {
    return affine(name, 4, 32, Offset::Minimum, n, k, layersAt(4), rng);
  });
  add("int4 g128 zeros (GPTQ)", [&](const std::string &name) {
    return affine(name, 4, 128, Offset::Zeros, n, k, layersAt(4), rng);
  });
  add("int6 g16 sym qscale/16 (Q6_K)", [&](const std::string &name) {
    return codedScales(name, 6, 16, 16, false, n, k, layersAt(6.6), rng);
  });
  add("int4 g32 min qscale/8 (Q4_K)", [&](const std::string &name) {
    return codedScales(name, 4, 32, 8, true, n, k, layersAt(4.6), rng);
  });
  add("int3 g128 zeros", [&](const std::string &name) {
    return affine(name, 3, 128, Offset::Zeros, n, k, layersAt(3), rng);
  });
  add("int2 g64 zeros", [&](const std::string &name) {
    return affine(name, 2, 64, Offset::Zeros, n, k, layersAt(2), rng);
  });
  add("nf4-b64", [&](const std::string &) { return nf4(64, n, k, layersAt(4), rng); });
  return formats;
}

int main(int argc, char **argv) {
  Options o = parse(argc, argv);
  cpu::setThreadCount(o.threads);
  cpu::setInt8Activations(o.int8);
  cpu::setBf16Activations(o.bf16);
  StreamingRead reader;
  const double read = reader.best(false, o.repeat), hugeRead = reader.best(true, o.repeat);
  std::printf("streaming read: %.2f GB/s on 4 KiB pages, %.2f GB/s on huge pages (%d thread%s, "
              "1 GiB, best of %d)\n",
              read / 1e9, hugeRead / 1e9, o.threads, o.threads > 1 ? "s" : "", o.repeat);
  std::mt19937_64 rng(7);
  const int64_t n = o.rows, k = o.cols;
  std::vector<Format> formats = makeFormats(o, rng);
  if (formats.empty()) {
    std::fprintf(stderr, "midllama-cpu-decode-bench: no format's name contains '%s'\n",
                 o.only.c_str());
    return 2;
  }
  // Where the CPU has AVX-512 the loader tiles 2- to 6- and 8-bit affine weights (Model.cpp)
  // into huge pages: so here.
  HugePageArena tileArena;
  for (Format &f : formats)
    for (WeightView &w : f.views)
      if (cpu::codeTilesWanted() && cpu::codeTilesApply(w))
        cpu::packCodeTiles(w, [&](size_t bytes) { return tileArena.allocate(bytes); });
  std::vector<float> x(static_cast<size_t>(k)), y(static_cast<size_t>(n));
  std::uniform_real_distribution<float> u(-1, 1);
  for (auto &v : x)
    v = u(rng);
  std::printf(
      "GB/s, products/s: the best of %d passes; fraction of the read: the median over those\n"
      "passes of the pass's GB/s over a read pass on the same kind of pages just before it\n"
      "| format | bytes / weight | pages | GB/s | fraction of the read | products/s at %lldx%lld |\n"
      "|---|---:|---|---:|---:|---:|\n",
      o.repeat, (long long)n, (long long)k);
  std::string json = "{\"threads\": " + std::to_string(o.threads) +
                     ", \"rows\": " + std::to_string(n) + ", \"cols\": " + std::to_string(k) +
                     ", \"int8_activations\": " + (o.int8 ? "true" : "false") +
                     ", \"bf16_activations\": " + (o.bf16 ? "true" : "false") +
                     ", \"streaming_read_bytes_per_s\": " + std::to_string(read) +
                     ", \"streaming_read_huge_pages_bytes_per_s\": " + std::to_string(hugeRead) +
                     ", \"formats\": [";
  for (size_t fi = 0; fi < formats.size(); ++fi) {
    const Format &f = formats[fi];
    for (const WeightView &w : f.views) // warm: page in, first-touch
      cpu::matmul(x.data(), y.data(), 1, w);
    // Tiled weights live on huge pages: their fraction is of the read on huge pages.
    const bool huge = f.views[0].tileCodes != nullptr && reader.hasHugePages();
    double best = 1e30;
    std::vector<double> fractions;
    for (int r = 0; r < o.repeat; ++r) {
      const double readNow = reader.pass(huge);
      double t0 = now();
      for (const WeightView &w : f.views)
        cpu::matmul(x.data(), y.data(), 1, w);
      const double t = (now() - t0) / double(f.views.size());
      best = std::min(best, t);
      fractions.push_back(double(f.bytesPerWeight) / t / readNow);
    }
    std::sort(fractions.begin(), fractions.end());
    const double fraction = fractions[fractions.size() / 2];
    const double bw = double(f.bytesPerWeight) / best;
    std::printf("| %s | %.3f | %s | %.2f | %.2f | %.1f |\n", f.name.c_str(),
                double(f.bytesPerWeight) / double(n * k), huge ? "2 MiB" : "4 KiB", bw / 1e9,
                fraction, 1.0 / best);
    json += std::string(fi ? ", " : "") + "{\"format\": \"" + f.name +
            "\", \"huge_pages\": " + (huge ? "true" : "false") +
            ", \"layers\": " + std::to_string(f.views.size()) +
            ", \"bytes\": " + std::to_string(f.bytesPerWeight) +
            ", \"seconds\": " + std::to_string(best) + ", \"bytes_per_s\": " + std::to_string(bw) +
            ", \"fraction_of_read\": " + std::to_string(fraction) +
            "}";
  }
  json += "]";
  if (o.prefillRows > 0)
    json += prefillTable(formats, o, rng);
  json += "}\n";
  if (!o.json.empty()) {
    FILE *f = std::fopen(o.json.c_str(), "w");
    if (!f || std::fputs(json.c_str(), f) < 0 || std::fclose(f) != 0) {
      std::fprintf(stderr, "midllama-cpu-decode-bench: cannot write %s\n", o.json.c_str());
      return 1;
    }
  }
  return 0;
}
