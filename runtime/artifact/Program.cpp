//===- Program.cpp - The compiled model artifact's program ----------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/artifact/Program.h"

#include <cstdlib>

using namespace midllama::rt;

namespace {

constexpr char kMagic[6] = {'M', 'L', 'P', 'R', 'O', 'G'};
// 2: weight layouts, 3: affine weights, 4: sparsity, 5: format parameters by format
// (runtime/format/WeightFormat.h) instead of fields shared between formats.
constexpr uint16_t kProgramVersion = 5;

class Writer {
public:
  void u16(uint16_t v) { raw(&v, 2); }
  void u32(uint32_t v) { raw(&v, 4); }
  void i64(int64_t v) { raw(&v, 8); }
  void str(const std::string &s) {
    u32(uint32_t(s.size()));
    raw(s.data(), s.size());
  }
  void raw(const void *p, size_t n) {
    const uint8_t *b = static_cast<const uint8_t *>(p);
    out.insert(out.end(), b, b + n);
  }
  std::vector<uint8_t> out;
};

class Reader {
public:
  Reader(const uint8_t *p, size_t n) : p(p), end(p + n) {}
  bool raw(void *dst, size_t n) {
    if (size_t(end - p) < n)
      return false;
    std::memcpy(dst, p, n);
    p += n;
    return true;
  }
  bool u16(uint16_t &v) { return raw(&v, 2); }
  bool u32(uint32_t &v) { return raw(&v, 4); }
  bool i64(int64_t &v) { return raw(&v, 8); }
  bool str(std::string &s) {
    uint32_t n;
    if (!u32(n) || size_t(end - p) < n)
      return false;
    s.assign(reinterpret_cast<const char *>(p), n);
    p += n;
    return true;
  }
  /// A count of items each at least `minBytes` long: bounded by what is left.
  bool count(uint32_t &n, size_t minBytes) {
    return u32(n) && size_t(n) * minBytes <= size_t(end - p);
  }
  bool atEnd() const { return p == end; }

private:
  const uint8_t *p, *end;
};

} // namespace

std::vector<uint8_t> Program::encode() const {
  Writer w;
  w.raw(kMagic, sizeof kMagic);
  w.u16(kProgramVersion);
  w.u32(uint32_t(config.size()));
  for (const auto &[k, v] : config) {
    w.str(k);
    w.str(v);
  }
  w.u32(uint32_t(slotWidths.size()));
  for (int64_t width : slotWidths)
    w.i64(width);
  w.u32(uint32_t(weights.size()));
  for (const WeightInfo &info : weights) {
    w.str(info.name);
    w.u32(uint32_t(info.dtype));
    w.u32(uint32_t(info.layout));
    w.u32(uint32_t(info.format.kind));
    std::vector<int64_t> params = encodeFormatParams(info.format);
    w.u32(uint32_t(params.size()));
    for (int64_t v : params)
      w.i64(v);
    w.u32(uint32_t(info.sparsity.kind));
    w.i64(info.sparsity.n);
    w.i64(info.sparsity.m);
    w.u32(uint32_t(info.shape.size()));
    for (int64_t d : info.shape)
      w.i64(d);
  }
  w.u32(uint32_t(calls.size()));
  for (const Call &c : calls) {
    w.u32(uint32_t(c.op));
    w.u32(uint32_t(c.args.size()));
    for (int64_t a : c.args)
      w.i64(a);
  }
  return std::move(w.out);
}

bool Program::decode(const uint8_t *data, size_t size, std::string &error) {
  Reader r(data, size);
  auto bad = [&](const std::string &why) {
    error = "the program is malformed: " + why;
    return false;
  };
  char magic[6];
  uint16_t version;
  if (!r.raw(magic, 6) || std::memcmp(magic, kMagic, 6) != 0)
    return bad("no program header");
  if (!r.u16(version) || version != kProgramVersion)
    return bad("program version " + std::to_string(version) + ", this runtime reads " +
               std::to_string(kProgramVersion) + " (compiled by another midllama; recompile)");
  uint32_t n;
  if (!r.count(n, 8))
    return bad("config");
  for (uint32_t i = 0; i < n; ++i) {
    std::string k, v;
    if (!r.str(k) || !r.str(v))
      return bad("config entry " + std::to_string(i));
    config[k] = v;
  }
  if (!r.count(n, 8))
    return bad("slots");
  slotWidths.resize(n);
  for (int64_t &width : slotWidths)
    if (!r.i64(width) || width <= 0 || width > (int64_t(1) << 24))
      return bad("slot width");
  if (!r.count(n, 12))
    return bad("weights");
  weights.resize(n);
  for (WeightInfo &info : weights) {
    uint32_t dtype, layout, rank, format, numParams, sparsity;
    if (!r.str(info.name) || !r.u32(dtype) || dtype > uint32_t(DType::I32) || !r.u32(layout) ||
        layout > uint32_t(WeightLayout::Panel16) || !r.u32(format) || !r.count(numParams, 8) ||
        numParams > 16)
      return bad("weight table entry");
    std::vector<int64_t> params(numParams);
    for (int64_t &v : params)
      r.i64(v);
    if (!r.u32(sparsity) || sparsity > uint32_t(SparsityKind::Bitmask) ||
        !r.i64(info.sparsity.n) || !r.i64(info.sparsity.m) || !r.count(rank, 8) || rank > 8)
      return bad("weight table entry");
    info.dtype = DType(dtype);
    info.layout = WeightLayout(layout);
    info.sparsity.kind = SparsityKind(sparsity);
    std::string why;
    if (!decodeFormatParams(format, params, info.format, why) ||
        !checkSparsityParams(info.sparsity, why))
      return bad("weight '" + info.name + "' " + why);
    // Panels are the CPU's layout of dense matrices; every other encoding is read by rows.
    if ((info.format.kind != FormatKind::Dense || info.sparsity.kind != SparsityKind::None) &&
        info.layout != WeightLayout::RowMajor)
      return bad("weight '" + info.name + "' is packed in panels but is not dense");
    info.shape.resize(rank);
    for (int64_t &d : info.shape)
      if (!r.i64(d) || d <= 0 || d > (int64_t(1) << 32))
        return bad("shape of weight '" + info.name + "'");
    if (info.layout == WeightLayout::Panel16 && rank != 2)
      return bad("weight '" + info.name + "' is packed in panels but is not a matrix");
  }
  if (!r.count(n, 8))
    return bad("calls");
  calls.resize(n);
  for (size_t i = 0; i < calls.size(); ++i) {
    Call &c = calls[i];
    uint32_t op, count;
    if (!r.u32(op) || !r.count(count, 8))
      return bad("call " + std::to_string(i));
    c.op = OpCode(op);
    if (opArgumentCount(c.op) == 0 || int(count) != opArgumentCount(c.op))
      return bad("call " + std::to_string(i) + " has op code " + std::to_string(op) + " with " +
                 std::to_string(count) + " arguments");
    c.args.resize(count);
    for (int64_t &a : c.args)
      r.i64(a);
    ArgList list = argumentsOf(c.op);
    for (size_t k = 0; k < list.size; ++k) {
      int64_t a = c.args[k];
      bool ok = isSlot(list.kinds[k])                ? a >= 0 && a < int64_t(slotWidths.size())
                : list.kinds[k] == ArgKind::Weight ? a >= 0 && a < int64_t(weights.size())
                : list.kinds[k] == ArgKind::Flag   ? a == 0 || a == 1
                                                   : true;
      if (!ok)
        return bad("call " + std::to_string(i) + " (" + opName(c.op) + "): argument '" +
                   list.names[k] + "' is " + std::to_string(a) + ", out of range");
    }
  }
  if (!r.atEnd())
    return bad("trailing bytes");
  return true;
}

int64_t Program::configInt(const std::string &key, int64_t fallback) const {
  auto it = config.find(key);
  if (it == config.end() || it->second.empty())
    return fallback;
  char *end;
  long long v = std::strtoll(it->second.c_str(), &end, 10);
  return *end ? fallback : int64_t(v);
}

uint64_t midllama::rt::fnv1a(const uint8_t *data, size_t size, uint64_t hash) {
  for (size_t i = 0; i < size; ++i) {
    hash ^= data[i];
    hash *= 0x100000001b3ull;
  }
  return hash;
}

std::vector<int64_t> WeightInfo::storedShape() const {
  if (layout != WeightLayout::Panel16)
    return shape;
  return {(shape[0] + kPanelWidth - 1) / kPanelWidth, shape[1], kPanelWidth};
}

void midllama::rt::packPanel16(const uint8_t *src, int64_t n, int64_t k, int64_t elemSize,
                               uint8_t *dst) {
  int64_t panels = (n + kPanelWidth - 1) / kPanelWidth;
  std::memset(dst, 0, size_t(panels * k * kPanelWidth * elemSize));
  for (int64_t row = 0; row < n; ++row)
    for (int64_t col = 0; col < k; ++col)
      std::memcpy(dst + (((row / kPanelWidth) * k + col) * kPanelWidth + row % kPanelWidth) *
                            elemSize,
                  src + (row * k + col) * elemSize, size_t(elemSize));
}

uint64_t midllama::rt::contentHash(const uint8_t *data, size_t size, uint64_t seed) {
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
  uint64_t h[4] = {seed ^ 0x243F6A8885A308D3ull, seed ^ 0x13198A2E03707344ull,
                   seed ^ 0xA4093822299F31D0ull, seed ^ 0x082EFA98EC4E6C89ull};
  size_t i = 0;
  for (; i + 32 <= size; i += 32)
    for (int lane = 0; lane < 4; ++lane) {
      uint64_t w;
      std::memcpy(&w, data + i + 8 * lane, 8);
      h[lane] = (h[lane] ^ w) * kMul;
      h[lane] ^= h[lane] >> 32;
    }
  for (; i < size; ++i)
    h[0] = (h[0] ^ data[i]) * kMul;
  auto rotl = [](uint64_t v, int r) { return (v << r) | (v >> (64 - r)); };
  uint64_t x = h[0] ^ rotl(h[1], 17) ^ rotl(h[2], 31) ^ rotl(h[3], 47) ^ uint64_t(size);
  // splitmix64's finalizer: every input bit reaches every output bit.
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
