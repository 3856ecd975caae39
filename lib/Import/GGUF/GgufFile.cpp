//===- GgufFile.cpp - A GGUF model file, read and checked ----------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The layout (GGUF specification, ggml/docs/gguf.md; docs/gguf.md here): little-endian
//   u32 magic "GGUF", u32 version, u64 tensor_count, u64 metadata_kv_count,
//   metadata_kv_count x (string key, u32 value type, value),
//   tensor_count x (string name, u32 n_dims, n_dims x u64 dim, u32 ggml type, u64 offset),
//   padding to `general.alignment` (default 32), the tensor data.
// A string is a u64 length and that many bytes; an array a u32 element type, a u64 count
// and the elements.
//
//===----------------------------------------------------------------------===//

#include "midllama/Import/GGUF/GgufFile.h"

#include "runtime/support/InputFile.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include <sys/mman.h>
#include <unistd.h>

using namespace midllama::gguf;

namespace {

constexpr uint32_t kMagic = 0x46554747; // "GGUF" read as a little-endian u32
constexpr int kMaxDims = 4;             // GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 8;       // arrays of arrays: deeper is refused

struct TypeRow {
  TensorType type;
  const char *name;
  int64_t blockValues, blockBytes;
};
// Block layouts from ggml's type traits (ggml-common.h): e.g. Q4_1 is an fp16 scale, an
// fp16 minimum and 32 4-bit codes; the K-quants are super-blocks of 256.
constexpr TypeRow kTypes[] = {
    {TensorType::F32, "F32", 1, 4},       {TensorType::F16, "F16", 1, 2},
    {TensorType::Q4_0, "Q4_0", 32, 18},   {TensorType::Q4_1, "Q4_1", 32, 20},
    {TensorType::Q5_0, "Q5_0", 32, 22},   {TensorType::Q5_1, "Q5_1", 32, 24},
    {TensorType::Q8_0, "Q8_0", 32, 34},   {TensorType::Q8_1, "Q8_1", 32, 36},
    {TensorType::Q2_K, "Q2_K", 256, 84},  {TensorType::Q3_K, "Q3_K", 256, 110},
    {TensorType::Q4_K, "Q4_K", 256, 144}, {TensorType::Q5_K, "Q5_K", 256, 176},
    {TensorType::Q6_K, "Q6_K", 256, 210}, {TensorType::Q8_K, "Q8_K", 256, 292},
    {TensorType::BF16, "BF16", 1, 2}};

const TypeRow *typeRow(uint32_t type) {
  for (const TypeRow &row : kTypes)
    if (uint32_t(row.type) == type)
      return &row;
  return nullptr;
}

/// Bytes of one scalar of `type`, 0 for strings and arrays (variable).
int64_t scalarBytes(ValueType type) {
  switch (type) {
  case ValueType::U8: case ValueType::I8: case ValueType::Bool: return 1;
  case ValueType::U16: case ValueType::I16: return 2;
  case ValueType::U32: case ValueType::I32: case ValueType::F32: return 4;
  case ValueType::U64: case ValueType::I64: case ValueType::F64: return 8;
  case ValueType::String: case ValueType::Array: return 0;
  }
  return 0;
}

bool knownValueType(uint32_t t) { return t <= uint32_t(ValueType::F64); }

} // namespace

namespace midllama::gguf {

/// Reads the file front to back; every read is checked against the bytes left.
class Parser {
public:
  Parser(const uint8_t *data, int64_t size, GgufFile &file) : p_(data), size_(size), f_(file) {}

  bool run(std::string &why) {
    if (size_ < 24)
      return fail(why, "too short for a GGUF header (" + std::to_string(size_) +
                           " bytes, 24 needed)");
    uint32_t magic = u32();
    if (magic != kMagic)
      return fail(why, "not a GGUF file (no 'GGUF' magic)");
    f_.version_ = u32();
    if (f_.version_ == 1)
      return fail(why, "GGUF version 1 (32-bit counts, 2023) is not supported; convert it "
                       "again with a current llama.cpp");
    if (f_.version_ != 2 && f_.version_ != 3)
      return fail(why, "GGUF version " + std::to_string(f_.version_) +
                           " is not supported (2 and 3 are)");
    uint64_t tensorCount = u64(), kvCount = u64();
    // A key/value takes at least 13 bytes, a tensor description 24: counts the file
    // cannot hold are refused before anything is reserved.
    if (kvCount > uint64_t(left() / 13))
      return fail(why, "states " + std::to_string(kvCount) + " metadata entries; the file "
                       "has room for at most " + std::to_string(left() / 13));
    if (tensorCount > uint64_t(left() / 24))
      return fail(why, "states " + std::to_string(tensorCount) + " tensors; the file has "
                       "room for at most " + std::to_string(left() / 24));
    for (uint64_t i = 0; i < kvCount; ++i)
      if (!keyValue(i, why))
        return false;
    if (!alignment(why))
      return false;
    for (uint64_t i = 0; i < tensorCount; ++i)
      if (!tensorInfo(i, why))
        return false;
    return tensorData(why);
  }

private:
  int64_t left() const { return size_ - at_; }
  bool fail(std::string &why, const std::string &message) {
    why = message;
    return false;
  }
  template <typename T> T read() {
    T v;
    std::memcpy(&v, p_ + at_, sizeof(T));
    at_ += int64_t(sizeof(T));
    return v;
  }
  uint32_t u32() { return read<uint32_t>(); }
  uint64_t u64() { return read<uint64_t>(); }
  bool need(int64_t bytes, const std::string &what, std::string &why) {
    if (bytes <= left())
      return true;
    return fail(why, what + " at byte " + std::to_string(at_) + " runs past the end of the file");
  }
  bool string(std::string &out, const std::string &what, std::string &why) {
    if (!need(8, what, why))
      return false;
    uint64_t n = u64();
    if (n > uint64_t(left()))
      return fail(why, what + " at byte " + std::to_string(at_ - 8) + " states " +
                           std::to_string(n) + " bytes; only " + std::to_string(left()) +
                           " remain");
    out.assign(reinterpret_cast<const char *>(p_ + at_), size_t(n));
    at_ += int64_t(n);
    return true;
  }

  /// A scalar of `type` into `v`'s i/u/f (its string for strings).
  bool scalar(ValueType type, Value &v, const std::string &what, std::string &why) {
    if (type == ValueType::String)
      return string(v.string, what, why);
    if (!need(scalarBytes(type), what, why))
      return false;
    switch (type) {
    case ValueType::U8: v.u = read<uint8_t>(); v.i = int64_t(v.u); break;
    case ValueType::I8: v.i = read<int8_t>(); break;
    case ValueType::Bool: {
      uint8_t b = read<uint8_t>();
      if (b > 1)
        return fail(why, what + " is a boolean of value " + std::to_string(b) + " (0 or 1)");
      v.i = b;
      v.u = b;
      break;
    }
    case ValueType::U16: v.u = read<uint16_t>(); v.i = int64_t(v.u); break;
    case ValueType::I16: v.i = read<int16_t>(); break;
    case ValueType::U32: v.u = read<uint32_t>(); v.i = int64_t(v.u); break;
    case ValueType::I32: v.i = read<int32_t>(); break;
    case ValueType::U64: v.u = read<uint64_t>(); v.i = int64_t(v.u); break;
    case ValueType::I64: v.i = read<int64_t>(); break;
    case ValueType::F32: v.f = read<float>(); break;
    case ValueType::F64: v.f = read<double>(); break;
    case ValueType::String: case ValueType::Array: break;
    }
    if (type != ValueType::F32 && type != ValueType::F64 && type != ValueType::U64 &&
        type != ValueType::U8 && type != ValueType::U16 && type != ValueType::U32)
      v.u = uint64_t(v.i);
    return true;
  }

  bool value(ValueType type, Value &v, int depth, const std::string &what, std::string &why) {
    v.type = type;
    if (type != ValueType::Array)
      return scalar(type, v, what, why);
    if (depth >= kMaxArrayDepth)
      return fail(why, what + " nests arrays deeper than " + std::to_string(kMaxArrayDepth));
    if (!need(12, what, why))
      return false;
    uint32_t element = u32();
    if (!knownValueType(element))
      return fail(why, what + " is an array of unknown value type " + std::to_string(element));
    v.elementType = ValueType(element);
    v.count = u64();
    int64_t minBytes = scalarBytes(v.elementType);
    if (minBytes == 0)
      minBytes = v.elementType == ValueType::String ? 8 : 12;
    if (v.count > uint64_t(left() / minBytes))
      return fail(why, what + " states " + std::to_string(v.count) + " elements; only " +
                           std::to_string(left()) + " bytes remain");
    for (uint64_t k = 0; k < v.count; ++k) {
      Value e;
      if (!value(v.elementType, e, depth + 1, what, why))
        return false;
      if (v.elementType == ValueType::String)
        v.strings.push_back(std::move(e.string));
      else if (v.elementType == ValueType::F32 || v.elementType == ValueType::F64)
        v.floats.push_back(e.f);
      else if (v.elementType != ValueType::Array)
        v.ints.push_back(e.i);
    }
    return true;
  }

  bool keyValue(uint64_t index, std::string &why) {
    std::string key;
    if (!string(key, "metadata key " + std::to_string(index), why))
      return false;
    std::string what = "metadata '" + key + "'";
    if (!need(4, what, why))
      return false;
    uint32_t type = u32();
    if (!knownValueType(type))
      return fail(why, what + " has unknown value type " + std::to_string(type));
    Value v;
    if (!value(ValueType(type), v, 0, what, why))
      return false;
    if (!f_.keyIndex_.emplace(key, f_.metadata_.size()).second)
      return fail(why, what + " appears twice");
    f_.metadata_.emplace_back(std::move(key), std::move(v));
    return true;
  }

  bool alignment(std::string &why) {
    const Value *a = f_.find("general.alignment");
    if (!a)
      return true;
    if (a->type != ValueType::U32)
      return fail(why, std::string("metadata 'general.alignment' is ") +
                           valueTypeName(a->type) + ", not U32");
    if (a->u == 0 || (a->u & (a->u - 1)) || a->u > (1u << 20))
      return fail(why, "metadata 'general.alignment' is " + std::to_string(a->u) +
                           "; it must be a power of two up to 1 MiB");
    f_.alignment_ = int64_t(a->u);
    return true;
  }

  bool tensorInfo(uint64_t index, std::string &why) {
    TensorInfo t;
    if (!string(t.name, "tensor name " + std::to_string(index), why))
      return false;
    std::string what = "tensor '" + t.name + "'";
    if (!need(4, what, why))
      return false;
    uint32_t dims = u32();
    if (dims < 1 || dims > kMaxDims)
      return fail(why, what + " has " + std::to_string(dims) + " dimensions (1 to " +
                           std::to_string(kMaxDims) + ")");
    if (!need(8 * int64_t(dims) + 12, what, why))
      return false;
    int64_t elements = 1;
    for (uint32_t d = 0; d < dims; ++d) {
      uint64_t n = u64();
      if (n == 0 || n > uint64_t(std::numeric_limits<int64_t>::max() / elements))
        return fail(why, what + " has dimension " + std::to_string(d) + " of " +
                             std::to_string(n) + " (empty or too large)");
      elements *= int64_t(n);
      t.dims.push_back(int64_t(n));
    }
    uint32_t type = u32();
    const TypeRow *row = typeRow(type);
    if (!row)
      return fail(why, what + " has ggml type " + std::to_string(type) +
                           ", which midllama does not read (F32, F16, BF16, Q4_0, Q4_1, Q5_0, "
                           "Q5_1, Q8_0, Q8_1 and the K-quants are known)");
    t.type = row->type;
    if (t.dims[0] % row->blockValues)
      return fail(why, what + " (" + row->name + ") has " + std::to_string(t.dims[0]) +
                           " values per row, not a multiple of its block of " +
                           std::to_string(row->blockValues));
    if (elements / row->blockValues > std::numeric_limits<int64_t>::max() / row->blockBytes)
      return fail(why, what + " is too large");
    t.numBytes = elements / row->blockValues * row->blockBytes;
    uint64_t offset = u64();
    if (offset % uint64_t(f_.alignment_))
      return fail(why, what + " starts at data offset " + std::to_string(offset) +
                           ", not a multiple of the alignment " + std::to_string(f_.alignment_));
    if (offset > uint64_t(size_))
      return fail(why, what + " starts at data offset " + std::to_string(offset) +
                           ", past the end of the file");
    t.offset = int64_t(offset);
    if (!f_.tensorIndex_.emplace(t.name, f_.tensors_.size()).second)
      return fail(why, what + " appears twice");
    f_.tensors_.push_back(std::move(t));
    return true;
  }

  /// The data section: aligned after the descriptions; every tensor inside it, none
  /// overlapping another.
  bool tensorData(std::string &why) {
    int64_t start = (at_ + f_.alignment_ - 1) / f_.alignment_ * f_.alignment_;
    if (start > size_ && !f_.tensors_.empty())
      return fail(why, "the tensor data would start at byte " + std::to_string(start) +
                           ", past the end of the file (" + std::to_string(size_) + " bytes)");
    int64_t room = size_ - std::min(start, size_);
    std::vector<const TensorInfo *> byOffset;
    for (TensorInfo &t : f_.tensors_) {
      if (t.offset > room || t.numBytes > room - t.offset)
        return fail(why, "tensor '" + t.name + "' (" + std::to_string(t.numBytes) +
                             " bytes at data offset " + std::to_string(t.offset) +
                             ") runs past the end of the file: the data section holds " +
                             std::to_string(room) + " bytes (truncated?)");
      t.data = p_ + start + t.offset;
      byOffset.push_back(&t);
    }
    std::sort(byOffset.begin(), byOffset.end(),
              [](const TensorInfo *a, const TensorInfo *b) { return a->offset < b->offset; });
    for (size_t i = 1; i < byOffset.size(); ++i)
      if (byOffset[i - 1]->offset + byOffset[i - 1]->numBytes > byOffset[i]->offset)
        return fail(why, "tensors '" + byOffset[i - 1]->name + "' and '" + byOffset[i]->name +
                             "' overlap in the data section");
    return true;
  }

  const uint8_t *p_;
  int64_t size_, at_ = 0;
  GgufFile &f_;
};

} // namespace midllama::gguf

const char *midllama::gguf::valueTypeName(ValueType type) {
  static const char *names[] = {"U8",  "I8",   "U16",    "I16",   "U32", "I32", "F32",
                                "BOOL", "STRING", "ARRAY", "U64", "I64", "F64"};
  return uint32_t(type) <= uint32_t(ValueType::F64) ? names[uint32_t(type)] : "?";
}

bool Value::isInteger() const {
  return type != ValueType::F32 && type != ValueType::F64 && type != ValueType::String &&
         type != ValueType::Array;
}

bool midllama::gguf::blockLayout(uint32_t type, int64_t &blockValues, int64_t &blockBytes) {
  const TypeRow *row = typeRow(type);
  if (!row)
    return false;
  blockValues = row->blockValues;
  blockBytes = row->blockBytes;
  return true;
}

const char *midllama::gguf::tensorTypeName(TensorType type) {
  const TypeRow *row = typeRow(uint32_t(type));
  return row ? row->name : "?";
}

int64_t TensorInfo::numElements() const {
  int64_t n = 1;
  for (int64_t d : dims)
    n *= d;
  return n;
}

std::unique_ptr<GgufFile> GgufFile::parse(const uint8_t *data, int64_t size,
                                          const std::string &name, std::string &error) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->path_ = name;
  std::string why;
  if (!Parser(data, size, *file).run(why)) {
    error = "GGUF file '" + name + "': " + why;
    return nullptr;
  }
  return file;
}

std::unique_ptr<GgufFile> GgufFile::open(const std::string &path, std::string &error) {
  int64_t size = 0;
  int fd = rt::openInputFile(path, "GGUF file", rt::kNoInputLimit, error, &size);
  if (fd < 0)
    return nullptr;
  if (size == 0) {
    ::close(fd);
    error = "GGUF file '" + path + "': is empty";
    return nullptr;
  }
  void *map = mmap(nullptr, size_t(size), PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) {
    error = "GGUF file '" + path + "': cannot map: " + std::strerror(errno);
    return nullptr;
  }
  std::unique_ptr<GgufFile> file = parse(static_cast<const uint8_t *>(map), size, path, error);
  if (!file) {
    munmap(map, size_t(size));
    return nullptr;
  }
  file->map_ = static_cast<const uint8_t *>(map);
  file->mapSize_ = size;
  return file;
}

GgufFile::~GgufFile() {
  if (map_)
    munmap(const_cast<uint8_t *>(map_), size_t(mapSize_));
}

const Value *GgufFile::find(const std::string &key) const {
  auto it = keyIndex_.find(key);
  return it == keyIndex_.end() ? nullptr : &metadata_[it->second].second;
}

const TensorInfo *GgufFile::findTensor(const std::string &name) const {
  auto it = tensorIndex_.find(name);
  return it == tensorIndex_.end() ? nullptr : &tensors_[it->second];
}

bool GgufFile::getInt(const std::string &key, int64_t &out, std::string &error) const {
  const Value *v = find(key);
  if (!v || !v->isInteger() ||
      (v->type == ValueType::U64 && v->u > uint64_t(std::numeric_limits<int64_t>::max()))) {
    error = "GGUF file '" + path_ + "': metadata '" + key + "' " +
            (v ? std::string("is ") + valueTypeName(v->type) + ", not an integer" : "is missing");
    return false;
  }
  out = v->i;
  return true;
}

bool GgufFile::getFloat(const std::string &key, double &out, std::string &error) const {
  const Value *v = find(key);
  if (!v || (v->type != ValueType::F32 && v->type != ValueType::F64)) {
    error = "GGUF file '" + path_ + "': metadata '" + key + "' " +
            (v ? std::string("is ") + valueTypeName(v->type) + ", not F32/F64" : "is missing");
    return false;
  }
  out = v->f;
  return true;
}

bool GgufFile::getString(const std::string &key, std::string &out, std::string &error) const {
  const Value *v = find(key);
  if (!v || v->type != ValueType::String) {
    error = "GGUF file '" + path_ + "': metadata '" + key + "' " +
            (v ? std::string("is ") + valueTypeName(v->type) + ", not a string" : "is missing");
    return false;
  }
  out = v->string;
  return true;
}
