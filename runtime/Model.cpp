//===- Model.cpp - A compiled model, loaded, and sessions running it ------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/Model.h"

#include "runtime/params/Half.h"
#include "runtime/support/Json.h"
#include "runtime/support/Memory.h"

#include <algorithm>
#include <climits>
#include <array>
#include <cstring>
#include <cstdio>
#include <map>

using namespace midllama::rt;

/// Binds the index tensors of a pruned weight (N:M positions, or bitmask and row offsets)
/// to `ref`; `perRow` gets the values per row (N:M), `total` the values in all (bitmask).
/// False when they are missing or inconsistent: a row offset that does not count its mask
/// bits would let a kernel read out of bounds.
static bool bindSparsity(const ParamFile &file, const WeightInfo &info, int64_t n, int64_t k,
                         cpu::WeightRef &ref, int64_t &perRow, int64_t &total) {
  if (info.sparsity == WeightSparsity::NM) {
    int64_t bits = 0;
    while ((int64_t(1) << bits) < info.sparseM)
      ++bits;
    perRow = k / info.sparseM * info.sparseN;
    int64_t rowBytes = (perRow * bits + 7) / 8;
    const TensorView *idx = file.find(info.name + ".indices");
    if (k % info.sparseM != 0 || !idx || idx->dtype != DType::U8 ||
        idx->shape != std::vector<int64_t>{n, rowBytes})
      return false;
    ref.sparse = cpu::WeightRef::Sparse::NM;
    ref.nmN = info.sparseN;
    ref.nmM = info.sparseM;
    ref.index = idx->data;
    ref.indexRowBytes = rowBytes;
    return true;
  }
  const TensorView *mask = file.find(info.name + ".mask");
  const TensorView *ptr = file.find(info.name + ".row_ptr");
  int64_t maskBytes = (k + 7) / 8;
  if (!mask || mask->dtype != DType::U8 || mask->shape != std::vector<int64_t>{n, maskBytes} ||
      !ptr || ptr->dtype != DType::I32 || ptr->numElements() != n + 1)
    return false;
  total = 0;
  for (int64_t r = 0; r <= n; ++r) {
    int32_t at;
    std::memcpy(&at, ptr->data + 4 * r, 4);
    if (at != total)
      return false;
    if (r < n)
      for (int64_t c = 0; c < k; ++c)
        total += mask->data[r * maskBytes + (c >> 3)] >> (c & 7) & 1;
  }
  ref.sparse = cpu::WeightRef::Sparse::Bitmask;
  ref.index = mask->data;
  ref.rowPtr = reinterpret_cast<const int32_t *>(ptr->data);
  return true;
}

/// The weight tensors an artifact compiled with --synthetic-weights lists in its manifest,
/// generated with deterministic pseudo-random values of plausible magnitude for each role
/// (codes any byte; scales, absmax and row scales small and positive; fp weights ~N(0,
/// 0.02)), added to `file` in memory. False with `error` on a malformed manifest.
static bool synthesizeWeights(ParamFile &file, const TensorView &manifest, std::string &error) {
  Json list;
  const char *text = reinterpret_cast<const char *>(manifest.data);
  if (!parseJson(text, text + manifest.numBytes, list, error, "synthetic weight manifest") ||
      list.kind != Json::Array) {
    error = "bad synthetic weight manifest: " + error;
    return false;
  }
  uint64_t state = 0x9e3779b97f4a7c15ull;
  auto next = [&] { // SplitMix64
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  for (const Json &t : list.items) {
    const Json *name = t.find("name"), *dtype = t.find("dtype"), *shape = t.find("shape");
    std::optional<DType> type = dtype ? parseDType(dtype->string) : std::nullopt;
    if (!name || name->kind != Json::String || !type || !shape || shape->kind != Json::Array) {
      error = "bad synthetic weight manifest entry";
      return false;
    }
    std::vector<int64_t> dims;
    int64_t count = 1;
    for (const Json &d : shape->items) {
      if (d.kind != Json::Int || d.integer <= 0 || d.integer > (int64_t(1) << 40) / count) {
        error = "bad shape in the synthetic weight manifest for '" + name->string + "'";
        return false;
      }
      dims.push_back(d.integer);
      count *= d.integer;
    }
    const std::string &n = name->string;
    auto endsWith = [&](const char *suffix) {
      size_t k = std::strlen(suffix);
      return n.size() >= k && n.compare(n.size() - k, k, suffix) == 0;
    };
    bool positive = endsWith(".scales") || endsWith(".absmax_scale") ||
                    endsWith(".absmax_offset") || endsWith(".row_scale") ||
                    (endsWith(".absmax") && *type == DType::F32);
    int64_t size = dtypeSize(*type);
    std::vector<uint8_t> bytes(static_cast<size_t>(count * size));
    for (int64_t i = 0; i < count; ++i) {
      uint64_t r = next();
      if (*type == DType::U8 || *type == DType::I8) {
        bytes[size_t(i)] = endsWith(".zeros") ? uint8_t(1) : uint8_t(r);
        continue;
      }
      // Uniform in [-1, 1) (or (0, 1] for scales), scaled to the role's magnitude.
      float u = float(r >> 40) / float(1 << 24);
      float v = positive ? 0.001f + 0.01f * u : 0.04f * (u - 0.5f);
      if (*type == DType::F32) {
        std::memcpy(&bytes[size_t(4 * i)], &v, 4);
      } else if (*type == DType::F16) {
        uint16_t h = floatToHalf(v);
        std::memcpy(&bytes[size_t(2 * i)], &h, 2);
      } else if (*type == DType::BF16) {
        uint32_t f;
        std::memcpy(&f, &v, 4);
        uint16_t h = uint16_t(f >> 16);
        std::memcpy(&bytes[size_t(2 * i)], &h, 2);
      } else {
        error = "synthetic weight '" + n + "' has a type synthesis does not fill";
        return false;
      }
    }
    if (!file.addInMemory(n, *type, std::move(dims), std::move(bytes))) {
      error = "synthetic weight '" + n + "' is also stored in the artifact";
      return false;
    }
  }
  return true;
}

std::unique_ptr<Model> Model::load(const std::string &path, std::string &error,
                                   bool syntheticWeights) {
  std::unique_ptr<Model> m(new Model());
  m->file_ = ParamFile::open(path, error, "artifact");
  if (!m->file_)
    return nullptr;
  auto fail = [&](const std::string &why) {
    error = "artifact '" + path + "': " + why;
    return nullptr;
  };
  const auto &meta = m->file_->metadata();
  auto get = [&](const char *key) {
    auto it = meta.find(key);
    return it == meta.end() ? std::string() : it->second;
  };
  if (get("artifact") != kArtifactFormat)
    return fail("not a compiled midllama model (a parameter file?); compile it with "
                "midllama-compile");
  if (get("artifact_version") != std::to_string(kArtifactVersion))
    return fail("artifact version " + get("artifact_version") + ", this runtime reads version " +
                std::to_string(kArtifactVersion) + "; recompile it");
  uint64_t checksum = 0xcbf29ce484222325ull;
  for (const TensorView &t : m->file_->tensors())
    checksum = contentHash(t.data, size_t(t.numBytes), checksum);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", (unsigned long long)checksum);
  if (get("checksum") != hex)
    return fail("checksum mismatch (the file was modified or damaged after compilation)");
  if (const TensorView *manifest = m->file_->find(kSyntheticWeightsTensor)) {
    if (!syntheticWeights)
      return fail("compiled with --synthetic-weights (no weights inside): run it with "
                  "--synthetic-weights, for speed and memory only");
    TensorView copy = *manifest; // the table grows as the weights are added
    if (!synthesizeWeights(*m->file_, copy, error))
      return fail(error);
    m->synthetic_ = true;
  }

  const TensorView *code = m->file_->find(kProgramTensor);
  if (!code)
    return fail("no program");
  Program &prog = m->program_;
  if (!prog.decode(code->data, size_t(code->numBytes), error))
    return fail(error);
  m->tokenizer_ = m->file_->find(kTokenizerTensor);

  m->nf4Absmax_.reserve(prog.weights.size()); // stable addresses for the WeightRefs
  for (const WeightInfo &info : prog.weights) {
    if (info.format == WeightFormat::NF4) {
      // One stream of 4-bit codes over all values, or over a pruned weight's kept values
      // (N:M rows or a bitmask beside it), in blocks of groupSize with one absmax each.
      cpu::WeightRef ref;
      bool ok = info.shape.size() == 2;
      int64_t total = ok ? info.shape[0] * info.shape[1] : 0;
      if (ok && info.sparsity != WeightSparsity::None) {
        int64_t perRow = 0;
        ok = bindSparsity(*m->file_, info, info.shape[0], info.shape[1], ref, perRow, total);
        if (info.sparsity == WeightSparsity::NM)
          total = info.shape[0] * perRow;
      }
      int64_t blocks = (total + info.groupSize - 1) / info.groupSize;
      const TensorView *q = m->file_->find(info.name + ".qweight");
      const TensorView *a = m->file_->find(info.name + ".absmax");
      if (!ok || !q || q->dtype != DType::U8 || q->numBytes != (total + 1) / 2 || !a ||
          a->numElements() != blocks)
        return fail("NF4 weight '" + info.name + "' does not match its components");
      std::vector<float> absmax(static_cast<size_t>(blocks));
      if (!info.symmetric) { // plain fp32 absmax
        if (a->dtype != DType::F32)
          return fail("NF4 weight '" + info.name + "' has a bad absmax");
        std::memcpy(absmax.data(), a->data, size_t(blocks) * 4);
      } else { // double-quantized: code8[q] * scale[block / 256] + offset
        const TensorView *sc = m->file_->find(info.name + ".absmax_scale");
        const TensorView *off = m->file_->find(info.name + ".absmax_offset");
        if (a->dtype != DType::U8 || !sc || sc->dtype != DType::F32 ||
            sc->numElements() != (blocks + 255) / 256 || !off || off->dtype != DType::F32 ||
            off->numElements() != 1)
          return fail("NF4 weight '" + info.name + "' has a bad double-quantized absmax");
        const std::array<float, 256> &code = rt::dynamicCode8();
        float offset;
        std::memcpy(&offset, off->data, 4);
        for (int64_t b = 0; b < blocks; ++b) {
          float scale;
          std::memcpy(&scale, sc->data + 4 * (b / 256), 4);
          absmax[b] = code[a->data[b]] * scale + offset;
        }
      }
      m->nf4Absmax_.push_back(std::move(absmax));
      ref.dtype = DType::F32;
      ref.rows = info.shape[0];
      ref.cols = info.shape[1];
      ref.bits = 4;
      ref.nf4 = true;
      ref.groupSize = info.groupSize;
      ref.codes = q->data;
      ref.scales = m->nf4Absmax_.back().data();
      m->weights_.push_back(ref);
      continue;
    }
    if (info.format == WeightFormat::Int8Outliers) {
      int64_t n = info.shape[0], k = info.shape.back();
      const TensorView *q = m->file_->find(info.name + ".qweight");
      const TensorView *sc = m->file_->find(info.name + ".row_scale");
      const TensorView *cols = m->file_->find(info.name + ".outlier_columns");
      const TensorView *out = m->file_->find(info.name + ".outliers");
      int64_t c = cols ? cols->numElements() : 0;
      cpu::WeightRef ref;
      std::vector<int64_t> codeShape = {n, k};
      bool ok = info.shape.size() == 2;
      if (ok && info.sparsity != WeightSparsity::None) { // only the kept values' int8 codes
        int64_t perRow = 0, total = 0;
        ok = bindSparsity(*m->file_, info, n, k, ref, perRow, total);
        codeShape = info.sparsity == WeightSparsity::NM ? std::vector<int64_t>{n, perRow}
                                                        : std::vector<int64_t>{total};
      }
      ok = ok && q && q->dtype == DType::I8 &&
                q->shape == codeShape && sc && sc->dtype == DType::F32 &&
                sc->numElements() == n &&
                (c == 0 ? !out
                        : cols->dtype == DType::I32 && out && out->dtype == DType::F16 &&
                              out->shape == std::vector<int64_t>{n, c});
      for (int64_t i = 0; ok && i < c; ++i) { // sorted, unique, in range
        int32_t col, prev = -1;
        std::memcpy(&col, cols->data + 4 * i, 4);
        if (i > 0)
          std::memcpy(&prev, cols->data + 4 * (i - 1), 4);
        ok = col > prev && col < k;
      }
      if (!ok)
        return fail("int8 + outliers weight '" + info.name + "' does not match its components");
      ref.dtype = DType::F32;
      ref.rows = n;
      ref.cols = k;
      ref.bits = 8;
      ref.int8 = true;
      ref.codes = q->data;
      ref.scales = sc->data;
      ref.numOutliers = c;
      ref.outlierColumns = c ? reinterpret_cast<const int32_t *>(cols->data) : nullptr;
      ref.outliers = c ? reinterpret_cast<const uint16_t *>(out->data) : nullptr;
      m->weights_.push_back(ref);
      continue;
    }
    if (info.format == WeightFormat::Affine) {
      // Codes U8[N, ceil(K * bits / 8)], scales [N, groups], zero points U8[N, groups]; a
      // pruned weight stores only its kept values' codes (row-aligned for N:M, one stream
      // for a bitmask) beside its index tensors.
      int64_t n = info.shape[0], k = info.shape.back();
      int64_t groups = (k + info.groupSize - 1) / info.groupSize;
      int64_t rowBytes = (k * info.bits + 7) / 8;
      cpu::WeightRef ref;
      std::vector<int64_t> codeShape = {n, rowBytes};
      bool ok = info.shape.size() == 2;
      if (ok && info.sparsity != WeightSparsity::None) {
        int64_t perRow = 0, total = 0;
        ok = bindSparsity(*m->file_, info, n, k, ref, perRow, total);
        rowBytes = info.sparsity == WeightSparsity::NM ? (perRow * info.bits + 7) / 8 : 0;
        codeShape = info.sparsity == WeightSparsity::NM
                        ? std::vector<int64_t>{n, rowBytes}
                        : std::vector<int64_t>{(total * info.bits + 7) / 8};
      }
      const TensorView *q = m->file_->find(info.name + ".qweight");
      const TensorView *sc = m->file_->find(info.name + ".scales");
      const TensorView *z = info.symmetric ? nullptr : m->file_->find(info.name + ".zeros");
      if (!ok || !q || q->dtype != DType::U8 || q->shape != codeShape || !sc ||
          sc->dtype != info.dtype || sc->shape != std::vector<int64_t>{n, groups} ||
          (!info.symmetric &&
           (!z || z->dtype != DType::U8 || z->shape != std::vector<int64_t>{n, groups})))
        return fail("affine weight '" + info.name + "' does not match its components");
      ref.dtype = info.dtype;
      ref.rows = n;
      ref.cols = k;
      ref.bits = int(info.bits);
      ref.groupSize = info.groupSize;
      ref.groups = groups;
      ref.codeRowBytes = rowBytes;
      ref.codes = q->data;
      ref.scales = sc->data;
      ref.zeros = z ? z->data : nullptr;
      m->weights_.push_back(ref);
      continue;
    }
    if (info.sparsity != WeightSparsity::None) { // dense kept values
      int64_t n = info.shape.size() == 2 ? info.shape[0] : 0, k = info.shape.back();
      const TensorView *v = m->file_->find(info.name + ".values");
      cpu::WeightRef ref;
      ref.dtype = info.dtype;
      ref.rows = n;
      ref.cols = k;
      int64_t perRow = 0, total = 0;
      bool ok = n > 0 && v && v->dtype == info.dtype &&
                (info.dtype == DType::F32 || info.dtype == DType::F16 ||
                 info.dtype == DType::BF16) &&
                bindSparsity(*m->file_, info, n, k, ref, perRow, total) &&
                (info.sparsity == WeightSparsity::NM ? v->shape == std::vector<int64_t>{n, perRow}
                                                     : v->numElements() == total);
      if (!ok)
        return fail("sparse weight '" + info.name + "' does not match its components");
      ref.data = v->data;
      m->weights_.push_back(ref);
      continue;
    }
    const TensorView *t = m->file_->find(info.name);
    if (!t || t->dtype != info.dtype || t->shape != info.storedShape())
      return fail("weight '" + info.name + "' does not match the program's weight table");
    if (info.dtype != DType::F32 && info.dtype != DType::F16 && info.dtype != DType::BF16)
      return fail("weight '" + info.name + "' has a type the CPU kernels do not read");
    cpu::WeightRef ref;
    ref.data = t->data;
    ref.dtype = info.dtype;
    ref.rows = info.shape.size() == 2 ? info.shape[0] : 1;
    ref.cols = info.shape.back();
    ref.panels = info.layout == WeightLayout::Panel16;
    if (info.shape.size() > 2)
      return fail("weight '" + info.name + "' is not a vector or a matrix");
    m->weights_.push_back(ref);
  }
  m->vocab_ = prog.configInt("vocab_size", 0);
  m->maxContext_ = prog.configInt("max_context", 0);
  m->layers_ = prog.configInt("num_layers", 0);
  m->kvWidth_ = prog.configInt("num_kv_heads", 0) * prog.configInt("head_dim", 0);
  m->logitsSlot_ = prog.configInt("logits_slot", -1);
  int64_t slots = int64_t(prog.slotWidths.size()), weights = int64_t(m->weights_.size());
  // Each problem named with its field and values: "inconsistent" alone says nothing about
  // which of a dozen numbers disagree.
  auto bad = [&](const std::string &what) {
    return fail("inconsistent model configuration: " + what);
  };
  if (m->vocab_ <= 0)
    return bad("vocab_size is " + std::to_string(m->vocab_) + " (must be positive)");
  if (m->maxContext_ <= 0 || m->maxContext_ > (int64_t(1) << 24))
    return bad("max_context is " + std::to_string(m->maxContext_) + " (must be 1 to 16777216)");
  if (m->layers_ <= 0)
    return bad("num_layers is " + std::to_string(m->layers_) + " (must be positive)");
  if (m->kvWidth_ <= 0)
    return bad("num_kv_heads x head_dim is " + std::to_string(prog.configInt("num_kv_heads", 0)) +
               " x " + std::to_string(prog.configInt("head_dim", 0)) + " (must be positive)");
  if (m->logitsSlot_ < 0 || m->logitsSlot_ >= slots)
    return bad("logits_slot is " + std::to_string(m->logitsSlot_) + ", but the program has " +
               std::to_string(slots) + " slots");
  if (prog.slotWidths[m->logitsSlot_] != m->vocab_)
    return bad("logits slot " + std::to_string(m->logitsSlot_) + " is " +
               std::to_string(prog.slotWidths[m->logitsSlot_]) + " wide, but vocab_size is " +
               std::to_string(m->vocab_));

  // Every call's slots and weights exist and have the widths its kernel assumes.
  auto width = [&](int64_t s) { return s >= 0 && s < slots ? prog.slotWidths[s] : -1; };
  auto w = [&](int64_t i) -> const cpu::WeightRef * {
    return i >= 0 && i < weights ? &m->weights_[i] : nullptr;
  };
  std::vector<bool> embedded(1, false);
  for (size_t i = 0; i < prog.calls.size(); ++i) {
    const Call &c = prog.calls[i];
    const std::vector<int64_t> &a = c.args;
    bool ok = true;
    switch (c.op) {
    case OpCode::Embed:
      ok = w(a[1]) && w(a[1])->rows == m->vocab_ && width(a[0]) == w(a[1])->cols;
      break;
    case OpCode::RMSNorm:
      ok = w(a[2]) && width(a[0]) == w(a[2])->cols && width(a[1]) == width(a[0]);
      break;
    case OpCode::AddRMSNorm:
      ok = w(a[4]) && width(a[0]) == w(a[4])->cols && width(a[1]) == width(a[0]) &&
           width(a[2]) == width(a[0]) && width(a[3]) == width(a[0]);
      break;
    case OpCode::MatMul:
      ok = w(a[2]) && width(a[0]) == w(a[2])->cols && width(a[1]) == w(a[2])->rows;
      break;
    case OpCode::GateUpSwiGLU:
      ok = w(a[2]) && w(a[3]) && width(a[0]) == w(a[2])->cols &&
           width(a[1]) == w(a[2])->rows && w(a[3])->rows == w(a[2])->rows &&
           w(a[3])->cols == w(a[2])->cols;
      break;
    case OpCode::SwiGLU:
    case OpCode::Add:
    case OpCode::Mul:
      ok = width(a[0]) > 0 && width(a[1]) == width(a[0]) && width(a[2]) == width(a[0]);
      break;
    case OpCode::SiLU:
      ok = width(a[0]) > 0 && width(a[1]) == width(a[0]);
      break;
    case OpCode::Attention: {
      int64_t heads = a[5], kvHeads = a[6], d = a[7], rot = a[10];
      ok = a[4] >= 0 && a[4] < m->layers_ && heads > 0 && kvHeads > 0 && heads % kvHeads == 0 &&
           d > 0 && kvHeads * d == m->kvWidth_ && width(a[0]) == heads * d &&
           width(a[1]) == kvHeads * d && width(a[2]) == kvHeads * d &&
           width(a[3]) == heads * d && rot >= 0 && rot <= d && rot % 2 == 0;
      break;
    }
    }
    if (!ok)
      return fail("call " + std::to_string(i) + " (" + opName(c.op) +
                  ") does not fit its slots and weights");
  }
  return m;
}

std::vector<std::pair<std::string, int64_t>> Model::weightBytesByType() const {
  std::map<std::string, int64_t> bytes;
  for (const WeightInfo &info : program_.weights) {
    std::string pattern =
        info.sparsity == WeightSparsity::NM
            ? " " + std::to_string(info.sparseN) + ":" + std::to_string(info.sparseM)
        : info.sparsity == WeightSparsity::Bitmask ? std::string(" sparse-bitmask")
                                                   : std::string();
    if (info.format == WeightFormat::NF4) { // index tensors counted: the bytes are real
      std::string key =
          "nf4 b" + std::to_string(info.groupSize) + (info.symmetric ? " dq" : "") + pattern;
      for (const char *suffix : {".qweight", ".absmax", ".absmax_scale", ".absmax_offset",
                                 ".indices", ".mask", ".row_ptr"})
        if (const TensorView *t = file_->find(info.name + suffix))
          bytes[key] += t->numBytes;
      continue;
    }
    if (info.format == WeightFormat::Int8Outliers) {
      for (const char *suffix : {".qweight", ".row_scale", ".outlier_columns", ".outliers",
                                 ".indices", ".mask", ".row_ptr"})
        if (const TensorView *t = file_->find(info.name + suffix))
          bytes["int8 + fp16 outliers" + pattern] += t->numBytes;
      continue;
    }
    if (info.format == WeightFormat::Affine) {
      std::string key = "int" + std::to_string(info.bits) + " g" +
                        std::to_string(info.groupSize) + (info.symmetric ? " sym" : "") + pattern;
      for (const char *suffix : {".qweight", ".scales", ".zeros", ".indices", ".mask", ".row_ptr"})
        if (const TensorView *t = file_->find(info.name + suffix))
          bytes[key] += t->numBytes;
      continue;
    }
    if (info.sparsity != WeightSparsity::None) {
      std::string key = std::string(dtypeName(info.dtype)) + pattern;
      for (const char *suffix : {".values", ".indices", ".mask", ".row_ptr"})
        if (const TensorView *t = file_->find(info.name + suffix))
          bytes[key] += t->numBytes;
      continue;
    }
    if (const TensorView *t = file_->find(info.name))
      bytes[std::string(dtypeName(info.dtype))] += t->numBytes;
  }
  return {bytes.begin(), bytes.end()};
}

int64_t Model::weightIndex(const std::string &name) const {
  for (size_t i = 0; i < program_.weights.size(); ++i)
    if (program_.weights[i].name == name)
      return int64_t(i);
  return -1;
}

bool Model::replaceWeight(int64_t index, const float *values, int64_t rows, int64_t cols) {
  if (index < 0 || index >= int64_t(weights_.size()))
    return false;
  const std::vector<int64_t> &shape = program_.weights[index].shape;
  bool matrix = shape.size() == 2 && shape[0] == rows && shape[1] == cols;
  bool vector = shape.size() == 1 && rows == 1 && shape[0] == cols;
  if (!matrix && !vector)
    return false;
  std::vector<float> &stored = replaced_[index];
  cpu::WeightRef ref;
  ref.dtype = DType::F32;
  ref.rows = rows;
  ref.cols = cols;
  if (matrix && program_.weights[index].layout == WeightLayout::Panel16) {
    stored.assign(size_t((rows + kPanelWidth - 1) / kPanelWidth * kPanelWidth * cols), 0.0f);
    packPanel16(reinterpret_cast<const uint8_t *>(values), rows, cols, sizeof(float),
                reinterpret_cast<uint8_t *>(stored.data()));
    ref.panels = true;
  } else { // vectors, and matrices read row by row (the embedding table)
    stored.assign(values, values + rows * cols);
  }
  ref.data = stored.data();
  weights_[index] = ref;
  return true;
}

static int64_t capacity(const Model &model, int64_t context) {
  return context > 0 && context < model.maxContext() ? context : model.maxContext();
}

Session::Session(const Model &model, int64_t maxTokens, int64_t context, int64_t batch)
    : model_(model), maxTokens_(std::max<int64_t>(1, maxTokens)),
      context_(capacity(model, context)), batch_(std::max<int64_t>(1, batch)) {
  for (int64_t width : model.program_.slotWidths)
    slots_.emplace_back(size_t(batch_ * maxTokens_ * width));
  // Cache of layer l, sequence b: kCache_[l * batch + b], [context, kv heads * head dim].
  for (int64_t i = 0; i < model.layers_ * batch_; ++i) {
    kCache_.emplace_back(size_t(context_ * model.kvWidth_));
    vCache_.emplace_back(size_t(context_ * model.kvWidth_));
  }
}

int64_t Session::plannedBytes(const Model &model, int64_t maxTokens, int64_t context,
                              int64_t batch) {
  // Saturating: the counts come from options (--batch, --max-context), and an overflow
  // would let an impossible request through the memory check.
  batch = std::max<int64_t>(1, batch);
  int64_t floats = 0;
  auto add = [&](int64_t n) { floats = n > INT64_MAX - floats ? INT64_MAX : floats + n; };
  for (int64_t width : model.program_.slotWidths)
    add(saturatingMul(saturatingMul(batch, std::max<int64_t>(1, maxTokens)), width));
  add(saturatingMul(saturatingMul(saturatingMul(2 * batch, model.layers_),
                                  capacity(model, context)),
                    model.kvWidth_));
  return saturatingMul(floats, int64_t(sizeof(float)));
}

int64_t Session::allocatedBytes() const {
  int64_t n = 0;
  for (const auto &s : slots_)
    n += int64_t(s.size());
  for (const auto &c : kCache_)
    n += 2 * int64_t(c.size());
  return n * int64_t(sizeof(float));
}

bool midllama::rt::checkStep(const Model &model, const int32_t *tokens, int64_t rows,
                             int64_t count, int64_t start, int64_t maxTokens, int64_t context,
                             std::string &error) {
  if (count <= 0 || count > maxTokens) {
    error = "a forward step takes 1 to " + std::to_string(maxTokens) + " tokens, not " +
            std::to_string(count);
    return false;
  }
  if (start < 0 || start + count > context) {
    error = "positions " + std::to_string(start) + ".." + std::to_string(start + count - 1) +
            " exceed the session's context of " + std::to_string(context) + " tokens";
    return false;
  }
  for (int64_t i = 0; i < rows; ++i)
    if (tokens[i] < 0 || tokens[i] >= model.vocabSize()) {
      error = "token id " + std::to_string(tokens[i]) + " is outside the vocabulary of " +
              std::to_string(model.vocabSize());
      return false;
    }
  return true;
}

bool Session::setInputs(const int32_t *tokens, int64_t count, int64_t start,
                        std::string &error) {
  int64_t rows = batch_ * count;
  if (!checkStep(model_, tokens, rows, count, start, maxTokens_, context_, error))
    return false;
  tokens_.assign(tokens, tokens + rows);
  positions_.resize(count);
  for (int64_t i = 0; i < count; ++i)
    positions_[i] = start + i;
  count_ = count;
  return true;
}

const float *Session::forward(const int32_t *tokens, int64_t count, int64_t start,
                              bool lastOnly, std::string &error) {
  if (!setInputs(tokens, count, start, error))
    return nullptr;
  runCalls(0, model_.program_.calls.size(), lastOnly);
  return slot(model_.logitsSlot_);
}

void Session::runCalls(size_t begin, size_t end, bool lastOnly, const InputHook &beforeMatMul) {
  int64_t count = count_, rows = batch_ * count;
  auto s = [&](int64_t slot) { return slots_[slot].data(); };
  auto w = [&](int64_t i) -> const cpu::WeightRef & { return model_.weights_[i]; };
  const std::vector<int64_t> &widths = model_.program_.slotWidths;
  end = std::min(end, model_.program_.calls.size());
  for (size_t ci = begin; ci < end; ++ci) {
    const Call &c = model_.program_.calls[ci];
    const std::vector<int64_t> &a = c.args;
    if (beforeMatMul && (c.op == OpCode::MatMul || c.op == OpCode::GateUpSwiGLU))
      beforeMatMul(ci, s(a[0]), rows);
    switch (c.op) {
    case OpCode::Embed:
      cpu::embed(tokens_.data(), rows, w(a[1]), s(a[0]));
      break;
    case OpCode::RMSNorm:
      cpu::rmsNorm(s(a[0]), s(a[1]), rows, widths[a[0]], w(a[2]), bitsFloat(a[3]));
      break;
    case OpCode::AddRMSNorm:
      cpu::addRMSNorm(s(a[0]), s(a[1]), s(a[2]), s(a[3]), rows, widths[a[0]], w(a[4]),
                      bitsFloat(a[5]));
      break;
    case OpCode::MatMul:
      if ((a[3] || (lastOnly && a[1] == model_.logitsSlot_)) && count > 1) {
        // Only each sequence's last position is projected (the LM head while decoding).
        int64_t width = widths[a[0]];
        lastRows_.resize(size_t(batch_ * width));
        for (int64_t b = 0; b < batch_; ++b)
          std::copy_n(s(a[0]) + ((b + 1) * count - 1) * width, width,
                      lastRows_.data() + b * width);
        cpu::matmul(lastRows_.data(), s(a[1]), batch_, w(a[2]));
      } else {
        cpu::matmul(s(a[0]), s(a[1]), rows, w(a[2]));
      }
      break;
    case OpCode::GateUpSwiGLU:
      cpu::gateUpSwiGLU(s(a[0]), s(a[1]), rows, w(a[2]), w(a[3]));
      break;
    case OpCode::SwiGLU:
      cpu::swiglu(s(a[0]), s(a[1]), s(a[2]), rows * widths[a[0]]);
      break;
    case OpCode::Add:
      cpu::add(s(a[0]), s(a[1]), s(a[2]), rows * widths[a[0]]);
      break;
    case OpCode::Mul:
      cpu::mul(s(a[0]), s(a[1]), s(a[2]), rows * widths[a[0]]);
      break;
    case OpCode::SiLU:
      cpu::silu(s(a[0]), s(a[1]), rows * widths[a[0]]);
      break;
    case OpCode::Attention: {
      cpu::AttentionParams p{a[5], a[6], a[7], a[10], bitsFloat(a[8]), bitsFloat(a[9]),
                             a[11] != 0};
      int64_t qw = p.heads * p.headDim, kvw = p.kvHeads * p.headDim;
      for (int64_t b = 0; b < batch_; ++b) // each sequence against its own cache
        cpu::attention(s(a[0]) + b * count * qw, s(a[1]) + b * count * kvw,
                       s(a[2]) + b * count * kvw, s(a[3]) + b * count * qw, positions_.data(),
                       count, kCache_[a[4] * batch_ + b].data(), vCache_[a[4] * batch_ + b].data(),
                       p);
      break;
    }
    }
  }
}
