//===- SyntheticWeights.cpp - Weights generated at load -------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/SyntheticWeights.h"

#include "runtime/cpu/Kernels.h"
#include "runtime/params/Half.h"
#include "runtime/support/Json.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <map>
#include <optional>

using namespace midllama::rt;

namespace {

/// Element `k` (from 1, counting over all synthetic tensors in order) of the synthetic
/// weights' random stream: SplitMix64 as a counter, mix((k + 1) * gamma), the stream
/// seeded at gamma. Any element is computed on its own, so tensors fill in parallel
/// chunks (a 7B model's 6.7G values: seconds on many cores instead of a minute on one)
/// and the values do not depend on the thread count.
uint64_t syntheticBits(uint64_t k) {
  uint64_t z = 0x9e3779b97f4a7c15ull * (k + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

bool endsWith(const std::string &name, const char *suffix) {
  const size_t k = std::strlen(suffix);
  return name.size() >= k && name.compare(name.size() - k, k, suffix) == 0;
}

/// Element `k` of the stream as a double uniform in [0, 1).
double syntheticUnit(uint64_t k) { return double(syntheticBits(k) >> 11) * 0x1.0p-53; }

/// The types fillSynthetic writes.
bool fillableSynthetic(DType type) {
  return type == DType::U8 || type == DType::I8 || type == DType::F32 || type == DType::F16 ||
         type == DType::BF16;
}

/// `count` values of `type` (U8/I8: any byte, or 1 for zero points; F32/F16/BF16: uniform,
/// small and positive for scales, else of about a trained weight's size), elements
/// first + 1 .. first + count of the stream, into `bytes`.
void fillSynthetic(std::vector<uint8_t> &bytes, DType type, int64_t count, uint64_t first,
                   bool positive, bool zeros) {
  cpu::parallelFor(count, 64, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      uint64_t r = syntheticBits(first + uint64_t(i) + 1);
      if (type == DType::U8 || type == DType::I8) {
        bytes[size_t(i)] = zeros ? uint8_t(1) : uint8_t(r);
        continue;
      }
      // Uniform in [-1, 1) (or (0, 1] for scales), scaled to the role's magnitude.
      float u = float(r >> 40) / float(1 << 24);
      float v = positive ? 0.001f + 0.01f * u : 0.04f * (u - 0.5f);
      if (type == DType::F32) {
        std::memcpy(&bytes[size_t(4 * i)], &v, 4);
        continue;
      }
      uint32_t f;
      std::memcpy(&f, &v, 4);
      uint16_t h = type == DType::F16 ? floatToHalf(v) : uint16_t(f >> 16);
      std::memcpy(&bytes[size_t(2 * i)], &h, 2);
    }
  });
}

/// Marks `count` of the `total` slots [0, total) in order, each chosen with probability
/// (still needed) / (slots left) from stream elements first + 1 .. (Knuth's selection
/// sampling, Algorithm S: exactly `count`, every subset equally likely), calling mark(i)
/// for each chosen slot in increasing order.
template <typename Mark>
void selectSlots(int64_t total, int64_t count, uint64_t first, Mark mark) {
  for (int64_t i = 0, need = count; i < total && need > 0; ++i)
    if (syntheticUnit(first + uint64_t(i) + 1) * double(total - i) < double(need)) {
      mark(i);
      --need;
    }
}

/// A pruned weight's structure tensor: which weight, and which of its index tensors.
struct Structure {
  const WeightInfo *weight = nullptr;
  std::string suffix; // ".mask", ".row_ptr" (bitmask) or ".indices" (N:M)
};

std::optional<Structure> structureOf(const std::map<std::string, const WeightInfo *> &pruned,
                                     const std::string &name) {
  for (const char *suffix : {".mask", ".row_ptr", ".indices"}) {
    if (!endsWith(name, suffix))
      continue;
    auto it = pruned.find(name.substr(0, name.size() - std::strlen(suffix)));
    if (it != pruned.end())
      return Structure{it->second, suffix};
  }
  return std::nullopt;
}

/// The bytes of a pruned weight's structure tensor `s` of `shape` (as the weight's format
/// needs it, else false with `error`): a bitmask keeping `kept` values, row r
/// kept / N (+ 1 for the first kept % N rows) of its K columns chosen at random, and the
/// row offsets; or N:M positions, a random choice of N of every M columns. `first`: the
/// tensor's place in the random stream.
bool synthesizeStructure(const Structure &s, const std::vector<int64_t> &shape, int64_t kept,
                         uint64_t first, std::vector<uint8_t> &bytes, std::string &error) {
  const WeightInfo &w = *s.weight;
  const int64_t n = w.shape[0], k = w.shape[1];
  auto bad = [&](const std::string &why) {
    error = "synthetic weight '" + w.name + s.suffix + "': " + why;
    return false;
  };
  if (n <= 0 || k <= 0)
    return bad("the weight has no rows or columns");
  if (w.sparsity.kind == SparsityKind::Bitmask) {
    const int64_t most = std::min<int64_t>(n * k, INT32_MAX); // row offsets are int32
    if (kept < 0 || kept > most)
      return bad("the manifest gives no kept count between 0 and " + std::to_string(most));
    const int64_t base = kept / n, extra = kept % n;
    auto rowStart = [&](int64_t r) { return int32_t(r * base + std::min(r, extra)); };
    if (s.suffix == ".row_ptr") {
      if (shape != std::vector<int64_t>{n + 1})
        return bad("shape is not [rows + 1]");
      bytes.assign(size_t(4 * (n + 1)), 0);
      for (int64_t r = 0; r <= n; ++r) {
        const int32_t at = rowStart(r);
        std::memcpy(&bytes[size_t(4 * r)], &at, 4);
      }
      return true;
    }
    const int64_t rowBytes = (k + 7) / 8;
    if (s.suffix != ".mask" || shape != std::vector<int64_t>{n, rowBytes})
      return bad("not a bitmask of [rows, ceil(K / 8)] bytes");
    bytes.assign(size_t(n * rowBytes), 0);
    cpu::parallelFor(n, k, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        uint8_t *row = bytes.data() + r * rowBytes;
        selectSlots(k, rowStart(r + 1) - rowStart(r), first + uint64_t(r * k),
                    [&](int64_t c) { row[c >> 3] |= uint8_t(1u << (c & 7)); });
      }
    });
    return true;
  }
  const int64_t keep = w.sparsity.n, runs = k / std::max<int64_t>(1, w.sparsity.m);
  int bits = 0;
  while ((int64_t(1) << bits) < w.sparsity.m)
    ++bits;
  const int64_t rowBytes = (runs * keep * bits + 7) / 8;
  if (w.sparsity.kind != SparsityKind::NM || s.suffix != ".indices" || keep <= 0 ||
      keep > w.sparsity.m || shape != std::vector<int64_t>{n, rowBytes})
    return bad("not N:M positions of [rows, ceil(K / M * N * bits / 8)] bytes");
  bytes.assign(size_t(n * rowBytes), 0);
  const int64_t m = w.sparsity.m;
  cpu::parallelFor(n, k, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      uint8_t *row = bytes.data() + r * rowBytes;
      int64_t slot = 0; // the kept value's index in the row
      for (int64_t g = 0; g < runs; ++g)
        selectSlots(m, keep, first + uint64_t(r * k + g * m), [&](int64_t pos) {
          for (int b = 0; b < bits; ++b) {
            const int64_t bit = slot * bits + b;
            row[bit >> 3] |= uint8_t((pos >> b & 1) << (bit & 7));
          }
          ++slot;
        });
    }
  });
  return true;
}

/// One manifest entry: a tensor's name, type and shape (and a pruned weight's kept count).
struct Entry {
  std::string name;
  DType dtype = DType::U8;
  std::vector<int64_t> dims;
  int64_t count = 1, kept = -1;
};

bool parseEntry(const Json &t, Entry &e, std::string &error) {
  const Json *name = t.find("name"), *dtype = t.find("dtype"), *shape = t.find("shape");
  std::optional<DType> type = dtype ? parseDType(dtype->string) : std::nullopt;
  if (!name || name->kind != Json::String || !type || !shape || shape->kind != Json::Array) {
    error = "bad synthetic weight manifest entry";
    return false;
  }
  e.name = name->string;
  e.dtype = *type;
  for (const Json &d : shape->items) {
    if (d.kind != Json::Int || d.integer <= 0 || d.integer > (int64_t(1) << 40) / e.count) {
      error = "bad shape in the synthetic weight manifest for '" + e.name + "'";
      return false;
    }
    e.dims.push_back(d.integer);
    e.count *= d.integer;
  }
  const Json *kept = t.find("kept");
  e.kept = kept && kept->kind == Json::Int ? kept->integer : -1;
  return true;
}

/// A value tensor's bytes (codes, scales, zero points, fp weights), elements first + 1 ..
/// of the stream, each role at its magnitude.
bool synthesizeValues(const Entry &e, uint64_t first, std::vector<uint8_t> &bytes,
                      std::string &error) {
  auto is = [&](const char *suffix) { return endsWith(e.name, suffix); };
  bool positive = is(".scales") || is(".absmax_scale") || is(".absmax_offset") ||
                  is(".row_scale") || (is(".absmax") && e.dtype == DType::F32);
  if (!fillableSynthetic(e.dtype)) {
    error = "synthetic weight '" + e.name + "' has a type synthesis does not fill";
    return false;
  }
  bytes.resize(static_cast<size_t>(e.count * dtypeSize(e.dtype)));
  fillSynthetic(bytes, e.dtype, e.count, first, positive, is(".zeros"));
  return true;
}

} // namespace

bool midllama::rt::synthesizeWeights(ParamFile &file, const TensorView &manifest,
                                     const Program &program, std::string &error) {
  Json list;
  const char *text = reinterpret_cast<const char *>(manifest.data);
  if (!parseJson(text, text + manifest.numBytes, list, error, "synthetic weight manifest") ||
      list.kind != Json::Array) {
    error = "bad synthetic weight manifest: " + error;
    return false;
  }
  std::map<std::string, const WeightInfo *> pruned;
  for (const WeightInfo &w : program.weights)
    if (w.sparsity.kind != SparsityKind::None && w.shape.size() == 2)
      pruned[w.name] = &w;
  uint64_t counter = 0; // values drawn before the current tensor
  for (const Json &t : list.items) {
    Entry e;
    std::vector<uint8_t> bytes;
    if (!parseEntry(t, e, error))
      return false;
    std::optional<Structure> s = structureOf(pruned, e.name);
    if (s ? !synthesizeStructure(*s, e.dims, e.kept, counter, bytes, error)
          : !synthesizeValues(e, counter, bytes, error))
      return false;
    counter += uint64_t(e.count);
    if (!file.addInMemory(e.name, e.dtype, std::move(e.dims), std::move(bytes))) {
      error = "synthetic weight '" + e.name + "' is also stored in the artifact";
      return false;
    }
  }
  return true;
}
