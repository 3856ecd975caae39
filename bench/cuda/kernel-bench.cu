//===- kernel-bench.cu - Per-kernel bandwidth of the CUDA matmul kernels ---===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// For each weight format the CUDA backend runs (fp16 dense, int4 groups of 128, NF4 blocks
// of 64 with double-quantized absmax, int8 with fp16 outlier columns) and each LLaMA-2-7B
// projection shape (q/o 4096x4096, gate/up 11008x4096, down 4096x11008, LM head
// 32000x4096), at batch 1 and 16, with the block-per-row kernel (midllama_matmul) and,
// where it reads the format, the warp-per-row decode kernel (midllama_matvec_warp): the
// kernel's time (CUDA events, median of --iters after 3 warm-ups), the bytes it must move
// (stored weight bytes + inputs + outputs), the achieved GB/s and its fraction of the
// device-to-device copy bandwidth measured in the same run (read + write bytes of a 1 GiB
// copy: the roofline a memory-bound GEMV can approach). Each result is first checked
// against the CPU backend's matmul on the same stored weight (relative error 1e-3).
// Weights are random, in their stored layouts.
// Prints a table, and JSON with --json FILE.
//
//===----------------------------------------------------------------------===//

#include "runtime/cpu/Kernels.h"
#include "runtime/cuda/kernels/AllKernels.cu"
#include "runtime/cuda/kernels/MatVecWarp.h"
#include "runtime/params/Half.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

using namespace midllama::rt;
using namespace midllama::rt::cuda;

namespace {

#define CHECK(call)                                                                          \
  do {                                                                                       \
    cudaError_t err_ = (call);                                                               \
    if (err_ != cudaSuccess) {                                                               \
      std::fprintf(stderr, "kernel-bench: %s: %s\n", #call, cudaGetErrorString(err_));      \
      std::exit(1);                                                                          \
    }                                                                                        \
  } while (0)

/// A weight in its stored form on the host, with the WeightRef the CPU kernels read.
struct HostWeight {
  std::string format;
  std::vector<uint8_t> data, codes, zeros, scales, outliers, columns;
  cpu::WeightRef ref;
  int64_t storedBytes = 0;
};

std::vector<uint8_t> randomBytes(size_t n, std::mt19937 &rng) {
  std::vector<uint8_t> v(n);
  for (uint8_t &b : v)
    b = uint8_t(rng());
  return v;
}

std::vector<uint8_t> floats(size_t n, std::mt19937 &rng, float lo, float hi) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<uint8_t> v(n * 4);
  for (size_t i = 0; i < n; ++i) {
    float f = dist(rng);
    std::memcpy(&v[4 * i], &f, 4);
  }
  return v;
}

HostWeight makeWeight(const std::string &format, int64_t n, int64_t k, std::mt19937 &rng) {
  HostWeight w;
  w.format = format;
  w.ref.rows = n;
  w.ref.cols = k;
  if (format == "fp16") {
    std::normal_distribution<float> dist(0.0f, 0.02f);
    w.data.resize(size_t(n * k * 2));
    for (int64_t i = 0; i < n * k; ++i) {
      uint16_t h = floatToHalf(dist(rng));
      std::memcpy(&w.data[size_t(2 * i)], &h, 2);
    }
    w.ref.dtype = DType::F16;
  } else if (format == "int4-g128") { // asymmetric, fp16 scales, as GPTQ/AWQ store them
    int64_t groups = (k + 127) / 128;
    w.codes = randomBytes(size_t(n * ((k + 1) / 2)), rng);
    w.zeros = randomBytes(size_t(n * groups), rng);
    for (uint8_t &z : w.zeros)
      z &= 15;
    w.scales.resize(size_t(n * groups * 2));
    for (int64_t i = 0; i < n * groups; ++i) {
      uint16_t h = floatToHalf(0.002f + 0.001f * float(rng() % 16));
      std::memcpy(&w.scales[size_t(2 * i)], &h, 2);
    }
    w.ref.dtype = DType::F16;
    w.ref.format = FormatKind::Affine;
    w.ref.bits = 4;
    w.ref.groupSize = 128;
    w.ref.groups = groups;
    w.ref.codeRowBytes = (k + 1) / 2;
  } else if (format == "nf4-b64") {
    w.codes = randomBytes(size_t((n * k + 1) / 2), rng);
    w.scales = floats(size_t((n * k + 63) / 64), rng, 0.01f, 0.05f); // absmax, DQ undone
    w.ref.bits = 4;
    w.ref.format = FormatKind::NF4;
    w.ref.groupSize = 64;
  } else { // int8 + 16 fp16 outlier columns
    const int64_t c = 16;
    w.codes = randomBytes(size_t(n * k), rng);
    std::vector<int32_t> cols;
    for (int64_t i = 0; i < c; ++i)
      cols.push_back(int32_t(i * (k / c) + 7));
    for (int64_t r = 0; r < n; ++r)
      for (int32_t col : cols)
        w.codes[size_t(r * k + col)] = 0;
    w.columns.resize(size_t(c * 4));
    std::memcpy(w.columns.data(), cols.data(), w.columns.size());
    w.scales = floats(size_t(n), rng, 1e-4f, 2e-4f);
    w.outliers.resize(size_t(n * c * 2));
    for (int64_t i = 0; i < n * c; ++i) {
      uint16_t h = floatToHalf(0.05f * float(int(rng() % 21) - 10));
      std::memcpy(&w.outliers[size_t(2 * i)], &h, 2);
    }
    w.ref.bits = 8;
    w.ref.format = FormatKind::Int8Outliers;
    w.ref.numOutliers = c;
  }
  w.ref.data = w.data.empty() ? nullptr : w.data.data();
  w.ref.codes = w.codes.empty() ? nullptr : w.codes.data();
  w.ref.zeros = w.zeros.empty() ? nullptr : w.zeros.data();
  w.ref.scales = w.scales.empty() ? nullptr : w.scales.data();
  w.ref.outlierColumns =
      w.columns.empty() ? nullptr : reinterpret_cast<const int32_t *>(w.columns.data());
  w.ref.outliers =
      w.outliers.empty() ? nullptr : reinterpret_cast<const uint16_t *>(w.outliers.data());
  w.storedBytes = int64_t(w.data.size() + w.codes.size() + w.zeros.size() + w.scales.size() +
                          w.outliers.size() + w.columns.size());
  return w;
}

/// Copies each buffer of `w` to the device; `place` maps host pointers to device ones.
struct DeviceCopy {
  std::map<const void *, std::pair<void *, size_t>> buffers;
  ~DeviceCopy() {
    for (auto &[host, dev] : buffers)
      cudaFree(dev.first);
  }
  void add(const std::vector<uint8_t> &v) {
    if (v.empty())
      return;
    void *d = nullptr;
    CHECK(cudaMalloc(&d, v.size()));
    CHECK(cudaMemcpy(d, v.data(), v.size(), cudaMemcpyHostToDevice));
    buffers[v.data()] = {d, v.size()};
  }
  const void *place(const void *p) const {
    if (!p)
      return nullptr;
    for (auto &[host, dev] : buffers) {
      auto h = static_cast<const uint8_t *>(host);
      auto q = static_cast<const uint8_t *>(p);
      if (q >= h && q < h + dev.second)
        return static_cast<uint8_t *>(dev.first) + (q - h);
    }
    return nullptr;
  }
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

/// Median milliseconds of `body` over `iters` runs after 3 warm-ups (CUDA events).
struct Timer {
  int iters = 20;
  cudaEvent_t t0 = nullptr, t1 = nullptr;
  explicit Timer(int iters) : iters(iters) {
    CHECK(cudaEventCreate(&t0));
    CHECK(cudaEventCreate(&t1));
  }
  template <typename Body> double operator()(Body &&body) const {
    for (int i = 0; i < 3; ++i)
      body();
    std::vector<double> ms;
    for (int i = 0; i < iters; ++i) {
      CHECK(cudaEventRecord(t0));
      body();
      CHECK(cudaEventRecord(t1));
      CHECK(cudaEventSynchronize(t1));
      float m = 0;
      CHECK(cudaEventElapsedTime(&m, t0, t1));
      ms.push_back(m);
    }
    return median(ms);
  }
};

/// The roofline: GB/s of a 1 GiB device-to-device copy (bytes read + written).
double copyBandwidth(const Timer &time) {
  const size_t copyBytes = size_t(1) << 30;
  void *src = nullptr, *dst = nullptr;
  CHECK(cudaMalloc(&src, copyBytes));
  CHECK(cudaMalloc(&dst, copyBytes));
  CHECK(cudaMemset(src, 1, copyBytes));
  double ms = time([&] { CHECK(cudaMemcpyAsync(dst, src, copyBytes, cudaMemcpyDeviceToDevice)); });
  CHECK(cudaFree(src));
  CHECK(cudaFree(dst));
  return 2.0 * double(copyBytes) / (ms * 1e6);
}

struct Shape {
  const char *name;
  int64_t n, k;
};

/// One product timed: `batch` random rows of x times weight `w` (on the device as `d`) with
/// the block or the warp kernel, checked against the CPU backend first. Prints its row and
/// returns its JSON object; `ok` false when the check failed.
std::string measure(const char *format, const Shape &shape, const HostWeight &w,
                    const WeightView &d, int64_t batch, bool warp, const Timer &time,
                    const cudaDeviceProp &prop, double copyGBs, std::mt19937 &rng, bool &ok) {
  std::vector<float> x(size_t(batch * shape.k));
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (float &v : x)
    v = dist(rng);
  float *xd = nullptr, *yd = nullptr, *sx = nullptr, *xo = nullptr;
  int8_t *xq = nullptr;
  CHECK(cudaMalloc(&xd, x.size() * 4));
  CHECK(cudaMalloc(&yd, size_t(batch * shape.n) * 4));
  CHECK(cudaMalloc(&xq, size_t(batch * shape.k)));
  CHECK(cudaMalloc(&sx, size_t(batch) * 4));
  CHECK(cudaMalloc(&xo, size_t(batch * 16) * 4));
  CHECK(cudaMemcpy(xd, x.data(), x.size() * 4, cudaMemcpyHostToDevice));
  size_t shared = size_t(shape.k) * (w.ref.isInt8() ? 1 : 4);
  // The opt-in limit less the kernel's static shared memory (its reductions).
  cudaFuncAttributes attributes;
  CHECK(cudaFuncGetAttributes(&attributes, midllama_matmul));
  CHECK(cudaFuncSetAttribute(midllama_matmul, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             int(prop.sharedMemPerBlockOptin - attributes.sharedSizeBytes)));
  auto run = [&] {
    if (warp) {
      midllama_matvec_warp<<<matVecWarpBlocks(d), kWarpRowsPerBlock * 32>>>(xd, 1, 0, yd,
                                                                            batch, d);
    } else if (w.ref.isInt8()) {
      midllama_int8_quantize_rows<<<unsigned(batch), kRowThreads>>>(xd, 1, 0, d, xq, sx, xo);
      midllama_int8_matmul<<<unsigned(shape.n), kRowThreads, shared>>>(xq, sx, xo, yd, batch,
                                                                       d);
    } else {
      midllama_matmul<<<unsigned(shape.n), kRowThreads, shared>>>(xd, 1, 0, yd, batch, d);
    }
    CHECK(cudaGetLastError());
  };
  run();
  CHECK(cudaDeviceSynchronize());
  std::vector<float> got(size_t(batch * shape.n)), want(got.size());
  CHECK(cudaMemcpy(got.data(), yd, got.size() * 4, cudaMemcpyDeviceToHost));
  cpu::matmul(x.data(), want.data(), batch, w.ref);
  double worst = 0, scale = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    worst = std::max(worst, std::fabs(double(got[i]) - double(want[i])));
    scale = std::max(scale, std::fabs(double(want[i])));
  }
  ok = worst <= 1e-3 * std::max(1.0, scale);
  double ms = time(run);
  double bytes = double(w.storedBytes) + double(x.size() + got.size()) * 4;
  double gbs = bytes / (ms * 1e6);
  const char *kernel = warp ? "warp" : "block";
  char shapeText[32];
  std::snprintf(shapeText, sizeof shapeText, "%lldx%lld", (long long)shape.n,
                (long long)shape.k);
  std::printf("%-14s %-6s %-14s %5lld %10.1f %10.1f %9.0f %8.1f%% %s (max err %.2g)\n", format,
              kernel, shapeText, (long long)batch, ms * 1e3, bytes / 1e6, gbs,
              100.0 * gbs / copyGBs, ok ? "ok" : "FAILED", worst);
  char entry[512];
  std::snprintf(entry, sizeof entry,
                "{\"format\": \"%s\", \"kernel\": \"%s\", \"shape\": \"%s\", \"n\": %lld, "
                "\"k\": %lld, \"batch\": %lld, \"us\": %.3f, \"bytes\": %.0f, "
                "\"gb_s\": %.1f, \"of_copy\": %.4f, \"max_abs_err\": %.3g, \"ok\": %s}",
                format, kernel, shape.name, (long long)shape.n, (long long)shape.k,
                (long long)batch, ms * 1e3, bytes, gbs, gbs / copyGBs, worst,
                ok ? "true" : "false");
  for (void *p : {(void *)xd, (void *)yd, (void *)xq, (void *)sx, (void *)xo})
    CHECK(cudaFree(p));
  return entry;
}

} // namespace

int main(int argc, char **argv) {
  std::string json;
  int iters = 20;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--json" && i + 1 < argc)
      json = argv[++i];
    else if (a == "--iters" && i + 1 < argc)
      iters = std::max(1, std::atoi(argv[++i]));
    else {
      std::fprintf(stderr, "usage: midllama-cuda-kernel-bench [--json FILE] [--iters N]\n");
      return 2;
    }
  }
  cudaDeviceProp prop;
  CHECK(cudaGetDeviceProperties(&prop, 0));
  Timer time(iters);
  double copyGBs = copyBandwidth(time);
  std::printf("device %s (sm_%d%d), device-to-device copy %.0f GB/s (read + write)\n",
              prop.name, prop.major, prop.minor, copyGBs);
  std::printf("%-14s %-6s %-14s %5s %10s %10s %9s %9s %s\n", "format", "kernel", "shape",
              "batch", "time us", "MB moved", "GB/s", "of copy", "check");

  const Shape shapes[] = {{"q/o", 4096, 4096}, {"gate/up", 11008, 4096},
                          {"down", 4096, 11008}, {"lm_head", 32000, 4096}};
  std::mt19937 rng(1234);
  std::string out = "{\"device\": \"" + std::string(prop.name) + "\", \"copy_gb_s\": " +
                    std::to_string(copyGBs) + ", \"kernels\": [";
  bool first = true, allOk = true;
  for (const char *format : {"fp16", "int4-g128", "nf4-b64", "int8-outliers"})
    for (const Shape &shape : shapes) {
      HostWeight w = makeWeight(format, shape.n, shape.k, rng);
      DeviceCopy dev;
      for (auto *v : {&w.data, &w.codes, &w.zeros, &w.scales, &w.outliers, &w.columns})
        dev.add(*v);
      WeightView d;
      if (!w.ref.relocated([&](const void *p) { return dev.place(p); }, d)) {
        std::fprintf(stderr, "kernel-bench: cannot place %s\n", format);
        return 1;
      }
      for (int64_t batch : {1, 16})
        for (bool warp : {false, true}) {
          if (warp && !matVecWarpReads(d))
            continue;
          bool ok = true;
          out += (first ? "" : ", ") +
                 measure(format, shape, w, d, batch, warp, time, prop, copyGBs, rng, ok);
          first = false;
          allOk = allOk && ok;
        }
    }
  out += "]}\n";
  if (!json.empty()) {
    FILE *f = std::fopen(json.c_str(), "w");
    if (!f || std::fputs(out.c_str(), f) < 0 || std::fclose(f) != 0) {
      std::fprintf(stderr, "kernel-bench: cannot write %s\n", json.c_str());
      return 1;
    }
  }
  return allOk ? 0 : 1;
}
