//===- CudaExecutor.cu - The CUDA backend: one arena, one stream ----------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The program's calls map one to one onto runtime/cuda/kernels, with the fusions the
// compiler decided (AddRMSNorm: residual add + RMSNorm; GateUpSwiGLU: both projections
// and SwiGLU in one kernel, LLM.int8() weights excepted; Attention: the fused rotary +
// KV-cache write, then attention), launched in order on one stream; the logits come back
// once per forward. Every CUDA error becomes a one-line error naming the call.
//
//===----------------------------------------------------------------------===//

#include "runtime/cuda/CudaExecutor.h"

#include "runtime/cuda/kernels/AttentionParams.h"
#include "runtime/cuda/kernels/MatVecWarp.h"
#include "runtime/cpu/Kernels.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <string>

using namespace midllama::rt;
using namespace midllama::rt::cuda;

namespace {

constexpr int kRowThreads = 256;       // runtime/cuda/kernels/RowExpand.cuh
constexpr int kAttentionThreads = 128; // runtime/cuda/kernels/Attention.cu
constexpr int64_t kArenaAlignment = 256;

std::string targetOf(const Model &model) {
  auto it = model.program().config.find("target");
  return it == model.program().config.end() ? std::string("?") : it->second;
}

bool fail(std::string &error, std::string message) {
  error = std::move(message);
  return false;
}

/// The attention kernel's dynamic shared memory for `positions` scores: rounded up to
/// whole groups of 4 floats, because the compiled kernel reads its score vector 16 bytes
/// at a time and may load the last group whole (compute-sanitizer on an H200 flagged
/// 12-byte reads past a 1- or 2-score allocation).
size_t attentionSharedBytes(int64_t positions) { return size_t((positions + 3) / 4 * 4) * 4; }

int64_t alignUp(int64_t n) { return (n + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment; }

/// The device copy of one weight tensor of the artifact, or of a buffer the model decoded
/// at load (NF4 absmax values).
struct Placement {
  const uint8_t *host;
  int64_t bytes;
  int64_t offset; // in the arena
};

class CudaExecutor final : public Executor {
public:
  explicit CudaExecutor(const Model &model) : model_(model) {}
  ~CudaExecutor() override {
    if (arena_)
      cudaFree(arena_);
    if (stream_)
      cudaStreamDestroy(stream_);
    if (library_)
      cudaLibraryUnload(library_);
  }

  bool init(int64_t maxTokens, int64_t context, int64_t batch, std::string &error);
  const float *forward(const int32_t *tokens, int64_t count, int64_t start, bool lastOnly,
                       std::string &error) override;
  std::string deviceName() const override { return name_; }
  int64_t deviceBytes() const override { return arenaBytes_; }
  bool onGpu() const override { return true; }

private:
  bool check(cudaError_t err, const char *what, std::string &error) {
    if (err == cudaSuccess)
      return true;
    error = std::string("CUDA: ") + what + ": " + cudaGetErrorString(err);
    return false;
  }
  bool launch(cudaKernel_t kernel, dim3 grid, dim3 block, void **args, size_t shared,
              const char *what, std::string &error) {
    return check(cudaLaunchKernel(reinterpret_cast<const void *>(kernel), grid, block, args,
                                  shared, stream_),
                 what, error);
  }
  /// Host pointer `p` (into the artifact or a load-time buffer) as a device pointer.
  const void *device(const void *p) const;
  bool matmul(const float *in, int64_t stride, int64_t offset, float *out, int64_t rows,
              int64_t weight, std::string &error);
  /// `kernel` over `n` elements, 256 threads a block.
  bool elementwise(cudaKernel_t kernel, void **args, int64_t n, const char *what,
                   std::string &error) {
    unsigned blocks = unsigned(std::min<int64_t>((n + 255) / 256, 65535));
    return launch(kernel, dim3(blocks), dim3(256), args, 0, what, error);
  }
  float *slot(int64_t i) const { return slots_[size_t(i)]; }

  // init's steps.
  /// The kernels from the artifact's image, and the stream.
  bool loadKernels(std::string &error);
  /// Places the artifact's weight tensors and the load-time buffers at the start of the
  /// arena (from `offset`, advanced past them).
  bool placeWeights(int64_t &offset, std::string &error);
  /// Each weight as the kernels read it, its pointers moved into the arena; the shared
  /// memory limit raised for the kernels that need it.
  bool bindWeights(std::string &error);

  // forward's calls that take more than one launch.
  bool gateUpSwiGLU(const calls::GateUpSwiGLU &g, int64_t rows, std::string &error);
  bool attention(const calls::Attention &at, int64_t count, int64_t start,
                 std::string &error);

  const Model &model_;
  std::string name_;
  cudaLibrary_t library_ = nullptr;
  cudaStream_t stream_ = nullptr;
  struct {
    cudaKernel_t embed, rmsnorm, addRmsnorm, matmul, int8Quantize, int8Matmul, gateUpSwiglu,
        swiglu, add, mul, silu, rotaryCache, attention, argmax;
    // MatVecWarp.cu's decode kernels: null in an artifact compiled before them, or with
    // MIDLLAMA_CUDA_REFERENCE_MATMUL=1 (the block kernels alone, for comparisons).
    cudaKernel_t matvecWarp, gateUpWarp;
  } k_{};
  char *arena_ = nullptr;
  int64_t arenaBytes_ = 0;
  std::vector<Placement> placements_; // sorted by host address
  std::vector<WeightView> weights_;
  std::vector<float *> slots_;
  std::vector<float *> kCache_, vCache_; // [layer * batch + sequence]
  float *gate_ = nullptr, *up_ = nullptr; // GateUpSwiGLU's two projections
  int8_t *xq_ = nullptr;                  // LLM.int8()'s quantized input rows
  float *sx_ = nullptr, *xo_ = nullptr;
  int32_t *tokens_ = nullptr;
  std::vector<float> logits_;
  int64_t maxTokens_ = 0, context_ = 0, batch_ = 1, maxShared_ = 0;
};

const void *CudaExecutor::device(const void *p) const {
  if (!p)
    return nullptr;
  auto at = reinterpret_cast<const uint8_t *>(p);
  auto it = std::upper_bound(placements_.begin(), placements_.end(), at,
                             [](const uint8_t *a, const Placement &pl) { return a < pl.host; });
  if (it == placements_.begin())
    return nullptr;
  --it;
  if (at >= it->host + it->bytes)
    return nullptr;
  return arena_ + it->offset + (at - it->host);
}

bool CudaExecutor::init(int64_t maxTokens, int64_t context, int64_t batch, std::string &error) {
  const Program &prog = model_.program();
  maxTokens_ = std::max<int64_t>(1, maxTokens);
  context_ = context > 0 && context < model_.maxContext() ? context : model_.maxContext();
  batch_ = std::max<int64_t>(1, batch);
  cudaDeviceProp prop;
  if (!check(cudaSetDevice(0), "cudaSetDevice", error) ||
      !check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties", error))
    return false;
  name_ = std::string("cuda: ") + prop.name + " (sm_" + std::to_string(prop.major) +
          std::to_string(prop.minor) + ", kernels for " + targetOf(model_) +
          ")";
  maxShared_ = int64_t(prop.sharedMemPerBlockOptin); // loadKernels takes their static part
  int64_t offset = 0;
  if (!loadKernels(error) || !placeWeights(offset, error))
    return false;
  int64_t weightBytes = offset, rows = batch_ * maxTokens_, maxN = 0, maxK = 0, maxOutliers = 0;
  for (size_t i = 0; i < prog.weights.size(); ++i) {
    const cpu::WeightRef &w = model_.weight(int64_t(i));
    maxN = std::max(maxN, w.rows);
    maxK = std::max(maxK, w.cols);
    maxOutliers = std::max(maxOutliers, w.numOutliers);
  }
  if (maxK * 8 > maxShared_) // the fused MLP kernel holds a gate and an up row
    return fail(error, "a weight row of " + std::to_string(maxK) +
                    " values does not fit in shared memory (" + std::to_string(maxShared_) +
                    " bytes per block); the tiled matmul is not written yet");
  if (int64_t(attentionSharedBytes(context_ + 1)) > maxShared_)
    return fail(error, "attention over " + std::to_string(context_) +
                    " positions needs the split-sequence kernel, not written yet; compile "
                    "with a smaller --max-context");
  std::vector<int64_t> slotOffsets;
  for (int64_t width : prog.slotWidths) {
    slotOffsets.push_back(offset);
    offset += alignUp(rows * width * 4);
  }
  int64_t cacheBytes = alignUp(context_ * model_.kvWidth() * 4), cacheStart = offset;
  offset += 2 * model_.numLayers() * batch_ * cacheBytes;
  int64_t gateOffset = offset;
  offset += 2 * alignUp(rows * maxN * 4);
  int64_t int8Offset = offset;
  offset += alignUp(rows * maxK) + alignUp(rows * 4) + alignUp(rows * std::max<int64_t>(1, maxOutliers) * 4);
  int64_t tokensOffset = offset;
  offset += alignUp(rows * 4);
  arenaBytes_ = offset;
  size_t freeBytes = 0, totalBytes = 0;
  cudaMemGetInfo(&freeBytes, &totalBytes);
  if (int64_t(freeBytes) < arenaBytes_)
    return fail(error, "the model needs " + std::to_string(arenaBytes_ >> 20) + " MiB of GPU memory (" +
                    std::to_string(weightBytes >> 20) + " MiB of weights) but " +
                    std::to_string(freeBytes >> 20) + " MiB are free");
  if (!check(cudaMalloc(&arena_, size_t(arenaBytes_)), "cudaMalloc (the arena)", error))
    return false;
  for (const Placement &p : placements_)
    if (!check(cudaMemcpy(arena_ + p.offset, p.host, size_t(p.bytes), cudaMemcpyHostToDevice),
               "copying the weights", error))
      return false;
  for (int64_t o : slotOffsets)
    slots_.push_back(reinterpret_cast<float *>(arena_ + o));
  for (int64_t i = 0; i < model_.numLayers() * batch_; ++i) {
    kCache_.push_back(reinterpret_cast<float *>(arena_ + cacheStart + (2 * i) * cacheBytes));
    vCache_.push_back(reinterpret_cast<float *>(arena_ + cacheStart + (2 * i + 1) * cacheBytes));
  }
  gate_ = reinterpret_cast<float *>(arena_ + gateOffset);
  up_ = reinterpret_cast<float *>(arena_ + gateOffset + alignUp(rows * maxN * 4));
  xq_ = reinterpret_cast<int8_t *>(arena_ + int8Offset);
  sx_ = reinterpret_cast<float *>(arena_ + int8Offset + alignUp(rows * maxK));
  xo_ = reinterpret_cast<float *>(arena_ + int8Offset + alignUp(rows * maxK) + alignUp(rows * 4));
  tokens_ = reinterpret_cast<int32_t *>(arena_ + tokensOffset);
  logits_.resize(size_t(rows * model_.vocabSize()));
  return bindWeights(error);
}

bool CudaExecutor::loadKernels(std::string &error) {
  // The kernels, from the artifact's image as it is.
  const TensorView *image = model_.file().find(kCudaKernelsTensor);
  if (!image || !check(cudaLibraryLoadData(&library_, image->data, nullptr, nullptr, 0, nullptr,
                                           nullptr, 0),
                       "loading the artifact's kernels", error))
    return image ? false : fail(error, "the artifact has no CUDA kernels");
  struct Named {
    cudaKernel_t *slot;
    const char *name;
  } kernels[] = {{&k_.embed, "midllama_embed"},
                 {&k_.rmsnorm, "midllama_rmsnorm"},
                 {&k_.addRmsnorm, "midllama_add_rmsnorm"},
                 {&k_.matmul, "midllama_matmul"},
                 {&k_.int8Quantize, "midllama_int8_quantize_rows"},
                 {&k_.int8Matmul, "midllama_int8_matmul"},
                 {&k_.gateUpSwiglu, "midllama_gate_up_swiglu"},
                 {&k_.swiglu, "midllama_swiglu"},
                 {&k_.add, "midllama_add"},
                 {&k_.mul, "midllama_mul"},
                 {&k_.silu, "midllama_silu"},
                 {&k_.rotaryCache, "midllama_rotary_cache_write"},
                 {&k_.attention, "midllama_attention"},
                 {&k_.argmax, "midllama_argmax"}};
  for (const Named &n : kernels)
    if (!check(cudaLibraryGetKernel(n.slot, library_, n.name), n.name, error))
      return false;
  // The dynamic shared memory a kernel may ask for is the opt-in limit less its own static
  // shared memory (cub's reduction storage): one limit for the kernels that hold rows.
  const int64_t optIn = maxShared_;
  for (cudaKernel_t kernel : {k_.matmul, k_.gateUpSwiglu, k_.attention}) {
    cudaFuncAttributes attributes;
    if (!check(cudaFuncGetAttributes(&attributes, reinterpret_cast<const void *>(kernel)),
               "reading a kernel's shared memory", error))
      return false;
    maxShared_ = std::min(maxShared_, optIn - int64_t(attributes.sharedSizeBytes));
  }
  const char *reference = std::getenv("MIDLLAMA_CUDA_REFERENCE_MATMUL");
  if (!reference || std::string(reference) != "1")
    for (Named n : {Named{&k_.matvecWarp, "midllama_matvec_warp"},
                    Named{&k_.gateUpWarp, "midllama_gate_up_warp"}})
      if (cudaLibraryGetKernel(n.slot, library_, n.name) != cudaSuccess) {
        cudaGetLastError(); // an older artifact: the block kernels do everything
        k_.matvecWarp = k_.gateUpWarp = nullptr;
        break;
      }
  return check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate",
               error);
}

bool CudaExecutor::placeWeights(int64_t &offset, std::string &error) {
  // The arena: weight tensors as stored, then (init) slots, KV cache and scratch.
  const Program &prog = model_.program();
  for (const TensorView &t : model_.file().tensors())
    if (t.name.rfind("__", 0) != 0) { // not the program, tokenizer or kernel image
      placements_.push_back({t.data, t.numBytes, offset});
      offset += alignUp(t.numBytes);
    }
  // Scales decoded at load (NF4 absmax) live in host buffers: they travel too.
  for (size_t i = 0; i < prog.weights.size(); ++i)
    if (model_.weight(int64_t(i)).panels)
      return fail(error, "weight '" + prog.weights[i].name +
                      "' is packed for the CPU; recompile for a GPU target");
  for (const std::vector<float> &decoded : model_.decodedScales()) {
    int64_t bytes = int64_t(decoded.size()) * 4;
    placements_.push_back({reinterpret_cast<const uint8_t *>(decoded.data()), bytes, offset});
    offset += alignUp(bytes);
  }
  std::sort(placements_.begin(), placements_.end(),
            [](const Placement &a, const Placement &b) { return a.host < b.host; });
  return true;
}

bool CudaExecutor::bindWeights(std::string &error) {
  const Program &prog = model_.program();
  for (size_t i = 0; i < prog.weights.size(); ++i) {
    const cpu::WeightRef &w = model_.weight(int64_t(i));
    WeightView d;
    if (!w.relocated([&](const void *p) { return device(p); }, d))
      return fail(error, "weight '" + prog.weights[i].name +
                             "' lives outside the artifact (replaced in memory); the CUDA "
                             "backend runs artifacts as compiled");
    weights_.push_back(d);
  }
  for (cudaKernel_t kernel : {k_.matmul, k_.gateUpSwiglu, k_.attention})
    if (!check(cudaFuncSetAttribute(reinterpret_cast<const void *>(kernel),
                                    cudaFuncAttributeMaxDynamicSharedMemorySize, int(maxShared_)),
               "raising the shared memory limit", error))
      return false;
  return true;
}

bool CudaExecutor::matmul(const float *in, int64_t stride, int64_t offset, float *out,
                          int64_t rows, int64_t weight, std::string &error) {
  WeightView w = weights_[size_t(weight)];
  if (w.isInt8()) {
    void *q[] = {&in, &stride, &offset, &w, &xq_, &sx_, &xo_};
    if (!launch(k_.int8Quantize, dim3(unsigned(rows)), dim3(kRowThreads), q, 0,
                "midllama_int8_quantize_rows", error))
      return false;
    void *m[] = {&xq_, &sx_, &xo_, &out, &rows, &w};
    return launch(k_.int8Matmul, dim3(unsigned(w.rows)), dim3(kRowThreads), m, size_t(w.cols),
                  "midllama_int8_matmul", error);
  }
  void *args[] = {&in, &stride, &offset, &out, &rows, &w};
  if (k_.matvecWarp && matVecWarpApplies(w, in, rows))
    return launch(k_.matvecWarp, dim3(matVecWarpBlocks(w)), dim3(kWarpRowsPerBlock * 32), args,
                  0, "midllama_matvec_warp", error);
  return launch(k_.matmul, dim3(unsigned(w.rows)), dim3(kRowThreads), args,
                size_t(w.cols) * 4, "midllama_matmul", error);
}

bool CudaExecutor::gateUpSwiGLU(const calls::GateUpSwiGLU &g, int64_t rows,
                                std::string &error) {
  WeightView gate = weights_[size_t(g.gate)], up = weights_[size_t(g.up)];
  int64_t total = rows * gate.rows;
  float *in = slot(g.in), *out = slot(g.out);
  if (!gate.isInt8() && !up.isInt8()) { // fused: the projections never reach global memory
    int64_t m = rows;
    void *args[] = {&in, &out, &m, &gate, &up};
    if (k_.gateUpWarp && matVecWarpApplies(gate, in, rows) && matVecWarpApplies(up, in, rows))
      return launch(k_.gateUpWarp, dim3(matVecWarpBlocks(gate)), dim3(kWarpRowsPerBlock * 32),
                    args, 0, "midllama_gate_up_warp", error);
    return launch(k_.gateUpSwiglu, dim3(unsigned(gate.rows)), dim3(kRowThreads), args,
                  size_t(gate.cols) * 8, "midllama_gate_up_swiglu", error);
  }
  void *args[] = {&gate_, &up_, &out, &total};
  return matmul(in, 1, 0, gate_, rows, g.gate, error) &&
         matmul(in, 1, 0, up_, rows, g.up, error) &&
         elementwise(k_.swiglu, args, total, "midllama_swiglu", error);
}

bool CudaExecutor::attention(const calls::Attention &at, int64_t count, int64_t start,
                             std::string &error) {
  DeviceAttentionParams p;
  p.heads = at.heads;
  p.kvHeads = at.kvHeads;
  p.headDim = at.headDim;
  p.scale = at.scale;
  p.theta = at.theta;
  p.rotaryDim = at.rotaryDim;
  p.interleaved = at.interleaved;
  p.context = context_;
  int64_t qw = p.heads * p.headDim, kvw = p.kvHeads * p.headDim;
  for (int64_t b = 0; b < batch_; ++b) { // each sequence against its own cache
    float *q = slot(at.q) + b * count * qw, *k = slot(at.k) + b * count * kvw;
    float *v = slot(at.v) + b * count * kvw, *out = slot(at.out) + b * count * qw;
    size_t cache = size_t(at.layer * batch_ + b);
    float *kc = kCache_[cache], *vc = vCache_[cache];
    void *rotate[] = {&q, &k, &v, &start, &kc, &vc, &p};
    void *attend[] = {&q, &out, &start, &kc, &vc, &p};
    if (!launch(k_.rotaryCache, dim3(unsigned(count)), dim3(kAttentionThreads), rotate, 0,
                "midllama_rotary_cache_write", error) ||
        !launch(k_.attention, dim3(unsigned(count), unsigned(p.heads)),
                dim3(kAttentionThreads), attend, attentionSharedBytes(start + count),
                "midllama_attention", error))
      return false;
  }
  return true;
}

const float *CudaExecutor::forward(const int32_t *tokens, int64_t count, int64_t start,
                                   bool lastOnly, std::string &error) {
  const int64_t rows = batch_ * count;
  if (!checkStep(model_, tokens, rows, count, start, maxTokens_, context_, error))
    return nullptr;
  if (!check(cudaMemcpyAsync(tokens_, tokens, size_t(rows) * 4, cudaMemcpyHostToDevice, stream_),
             "copying the tokens", error))
    return nullptr;
  const Program &prog = model_.program();
  const std::vector<int64_t> &widths = prog.slotWidths;
  auto s = [&](int64_t i) { return slot(i); };
  // out = f(x, y) elementwise over slots of one width.
  auto binary = [&](cudaKernel_t kernel, int64_t x, int64_t y, int64_t out, const char *what) {
    float *xp = s(x), *yp = s(y), *outp = s(out);
    int64_t total = rows * widths[size_t(x)];
    void *args[] = {&xp, &yp, &outp, &total};
    return elementwise(kernel, args, total, what, error);
  };
  int64_t outRows = rows;
  for (const Call &c : prog.calls) {
    bool ok = true;
    switch (c.op) {
    case OpCode::Embed: {
      auto e = calls::Embed::decode(c);
      float *out = s(e.out);
      WeightView table = weights_[size_t(e.table)];
      void *args[] = {&tokens_, &table, &out};
      ok = launch(k_.embed, dim3(unsigned(rows)), dim3(kRowThreads), args, 0, "midllama_embed",
                  error);
      break;
    }
    case OpCode::RMSNorm: {
      auto n = calls::RMSNorm::decode(c);
      float *in = s(n.in), *out = s(n.out);
      int64_t width = widths[size_t(n.in)];
      WeightView w = weights_[size_t(n.weight)];
      float eps = n.eps;
      void *args[] = {&in, &out, &width, &w, &eps};
      ok = launch(k_.rmsnorm, dim3(unsigned(rows)), dim3(kRowThreads), args, 0,
                  "midllama_rmsnorm", error);
      break;
    }
    case OpCode::AddRMSNorm: {
      auto n = calls::AddRMSNorm::decode(c);
      float *in = s(n.in), *residual = s(n.residual), *sum = s(n.sum), *out = s(n.out);
      int64_t width = widths[size_t(n.in)];
      WeightView w = weights_[size_t(n.weight)];
      float eps = n.eps;
      void *args[] = {&in, &residual, &sum, &out, &width, &w, &eps};
      ok = launch(k_.addRmsnorm, dim3(unsigned(rows)), dim3(kRowThreads), args, 0,
                  "midllama_add_rmsnorm", error);
      break;
    }
    case OpCode::MatMul: {
      auto mm = calls::MatMul::decode(c);
      if ((mm.lastTokenOnly || (lastOnly && mm.out == model_.logitsSlot())) && count > 1) {
        // Only each sequence's last position (the LM head while decoding).
        ok = matmul(s(mm.in), count, count - 1, s(mm.out), batch_, mm.weight, error);
        if (mm.out == model_.logitsSlot())
          outRows = batch_;
      } else {
        ok = matmul(s(mm.in), 1, 0, s(mm.out), rows, mm.weight, error);
      }
      break;
    }
    case OpCode::GateUpSwiGLU:
      ok = gateUpSwiGLU(calls::GateUpSwiGLU::decode(c), rows, error);
      break;
    case OpCode::SwiGLU: {
      auto g = calls::SwiGLU::decode(c);
      ok = binary(k_.swiglu, g.gate, g.up, g.out, "midllama_swiglu");
      break;
    }
    case OpCode::Add: {
      auto x = calls::Add::decode(c);
      ok = binary(k_.add, x.lhs, x.rhs, x.out, "midllama_add");
      break;
    }
    case OpCode::Mul: {
      auto x = calls::Mul::decode(c);
      ok = binary(k_.mul, x.lhs, x.rhs, x.out, "midllama_mul");
      break;
    }
    case OpCode::SiLU: {
      auto u = calls::SiLU::decode(c);
      float *x = s(u.in), *out = s(u.out);
      int64_t total = rows * widths[size_t(u.in)];
      void *args[] = {&x, &out, &total};
      ok = elementwise(k_.silu, args, total, "midllama_silu", error);
      break;
    }
    case OpCode::Attention:
      ok = attention(calls::Attention::decode(c), count, start, error);
      break;
    }
    if (!ok)
      return nullptr;
  }
  size_t bytes = size_t(outRows * model_.vocabSize()) * 4;
  if (!check(cudaMemcpyAsync(logits_.data(), s(model_.logitsSlot()), bytes,
                             cudaMemcpyDeviceToHost, stream_),
             "copying the logits", error) ||
      !check(cudaStreamSynchronize(stream_), "running the step", error))
    return nullptr;
  return logits_.data();
}

} // namespace

std::unique_ptr<Executor> midllama::rt::makeCudaExecutor(const Model &model, int64_t maxTokens,
                                                         int64_t context, int64_t batch,
                                                         std::string &error) {
  auto executor = std::make_unique<CudaExecutor>(model);
  if (!executor->init(maxTokens, context, batch, error))
    return nullptr;
  return executor;
}
