//===- ParamFile.cpp - Read and write midllama parameter files ------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The safetensors layout: 8 bytes little-endian header length N, N bytes of JSON, then the
// data buffer; "data_offsets" are relative to the buffer start. The runtime has no JSON
// library (it must build without LLVM), so a small strict parser for exactly what such a
// header can contain lives here.
//
//===----------------------------------------------------------------------===//

#include "runtime/params/ParamFile.h"
#include "runtime/support/Memory.h"
#include "runtime/support/InputFile.h"
#include "runtime/support/Json.h"
#include "runtime/support/OutputFile.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace midllama::rt {
namespace {

constexpr char kPadPrefix[] = "__pad__.";
constexpr int64_t kMaxHeaderBytes = int64_t(100) << 20;
constexpr int64_t kMaxDims = 8;

bool isPadName(const std::string &name) { return name.rfind(kPadPrefix, 0) == 0; }

int64_t alignUp(int64_t v, int64_t a) { return (v + a - 1) / a * a; }

/// Product of `shape` times `elemSize`, or -1 if negative or past int64.
int64_t checkedBytes(const std::vector<int64_t> &shape, int64_t elemSize) {
  int64_t n = elemSize;
  for (int64_t d : shape) {
    if (d < 0)
      return -1;
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d)
      return -1;
    n *= d;
  }
  return n;
}


const Json *member(const Json &object, const char *key) {
  for (const auto &[k, v] : object.members)
    if (k == key)
      return &v;
  return nullptr;
}

void appendJsonString(std::string &out, const std::string &s) {
  out += '"';
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += char(c);
    }
  }
  out += '"';
}

} // namespace

int64_t TensorView::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

//===----------------------------------------------------------------------===//
// Reading
//===----------------------------------------------------------------------===//

ParamFile::~ParamFile() {
  if (base_)
    munmap(const_cast<uint8_t *>(base_), size_);
}

std::unique_ptr<ParamFile> ParamFile::open(const std::string &path, std::string &error,
                                           const std::string &what) {
  auto fail = [&](const std::string &why) -> std::unique_ptr<ParamFile> {
    error = what + " '" + path + "': " + why;
    return nullptr;
  };
  // A file written earlier in this run and not yet committed is read from where it waits.
  int64_t size = 0;
  int fd = openInputFile(stagedPath(path), what, kNoInputLimit, error, &size);
  if (fd < 0)
    return nullptr;
  if (size < 8) {
    ::close(fd);
    return fail("too short to be a safetensors file (" + std::to_string(size) + " bytes)");
  }
  void *map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED)
    return fail(std::string("cannot map: ") + std::strerror(errno));

  std::unique_ptr<ParamFile> file(new ParamFile());
  file->path_ = path;
  file->base_ = static_cast<const uint8_t *>(map);
  file->size_ = size;

  uint64_t headerLen = 0;
  for (int i = 7; i >= 0; --i)
    headerLen = (headerLen << 8) | file->base_[i];
  if (headerLen > uint64_t(size - 8) || int64_t(headerLen) > kMaxHeaderBytes)
    return fail("header length " + std::to_string(headerLen) + " exceeds the file (" +
                std::to_string(size) + " bytes); truncated or not a safetensors file");
  const char *header = reinterpret_cast<const char *>(file->base_ + 8);
  Json root;
  std::string jsonError;
  if (!parseJson(header, header + headerLen, root, jsonError, "JSON header",
                 /*allowFloat=*/false, /*maxDepth=*/8))
    return fail(jsonError);
  if (root.kind != Json::Object)
    return fail("header is not a JSON object");

  int64_t dataStart = 8 + int64_t(headerLen);
  int64_t bufferSize = size - dataStart;
  struct Span {
    int64_t begin, end;
    std::string name;
  };
  std::vector<Span> spans;
  std::vector<TensorView> all;
  for (const auto &[name, value] : root.members) {
    if (name == "__metadata__") {
      if (value.kind != Json::Object)
        return fail("__metadata__ is not an object");
      for (const auto &[k, v] : value.members) {
        if (v.kind != Json::String)
          return fail("__metadata__ value of '" + k + "' is not a string");
        file->metadata_[k] = v.string;
      }
      continue;
    }
    if (value.kind != Json::Object)
      return fail("entry '" + name + "' is not an object");
    const Json *dtype = member(value, "dtype");
    const Json *shape = member(value, "shape");
    const Json *offsets = member(value, "data_offsets");
    if (!dtype || dtype->kind != Json::String || !shape || shape->kind != Json::Array ||
        !offsets || offsets->kind != Json::Array || offsets->items.size() != 2)
      return fail("tensor '" + name + "' needs dtype, shape and data_offsets [begin, end]");
    std::optional<DType> dt = parseDType(dtype->string);
    if (!dt)
      return fail("tensor '" + name + "' has unsupported dtype '" + dtype->string + "'");
    TensorView view;
    view.name = name;
    view.dtype = *dt;
    if (shape->items.size() > kMaxDims)
      return fail("tensor '" + name + "' has more than 8 dimensions");
    for (const Json &d : shape->items) {
      if (d.kind != Json::Int || d.integer < 0)
        return fail("tensor '" + name + "' has a negative or non-integer dimension");
      view.shape.push_back(d.integer);
    }
    const Json &b = offsets->items[0], &e = offsets->items[1];
    if (b.kind != Json::Int || e.kind != Json::Int || b.integer < 0 || e.integer < b.integer)
      return fail("tensor '" + name + "' has invalid data_offsets");
    if (e.integer > bufferSize)
      return fail("tensor '" + name + "' ends at byte " + std::to_string(dataStart + e.integer) +
                  " but the file has " + std::to_string(size) + " bytes (truncated?)");
    int64_t expected = checkedBytes(view.shape, dtypeSize(view.dtype));
    if (expected < 0 || expected != e.integer - b.integer)
      return fail("tensor '" + name + "' shape needs " + std::to_string(expected) +
                  " bytes but data_offsets span " + std::to_string(e.integer - b.integer));
    view.fileOffset = dataStart + b.integer;
    view.numBytes = expected;
    view.data = file->base_ + view.fileOffset;
    spans.push_back({b.integer, e.integer, name});
    all.push_back(std::move(view));
  }
  std::sort(spans.begin(), spans.end(),
            [](const Span &x, const Span &y) { return x.begin < y.begin; });
  for (size_t i = 1; i < spans.size(); ++i)
    if (spans[i].begin < spans[i - 1].end)
      return fail("tensors '" + spans[i - 1].name + "' and '" + spans[i].name + "' overlap");

  bool ours = file->metadata_.count("format") && file->metadata_["format"] == "midllama-params";
  for (TensorView &view : all) {
    if (isPadName(view.name))
      continue;
    if (ours && view.fileOffset % kParamFileAlignment != 0)
      return fail("tensor '" + view.name + "' at file offset " + std::to_string(view.fileOffset) +
                  " is not " + std::to_string(kParamFileAlignment) + "-byte aligned");
    if (!file->index_.emplace(view.name, file->tensors_.size()).second)
      return fail("tensor '" + view.name + "' appears twice");
    file->tensors_.push_back(std::move(view));
  }
  std::sort(file->tensors_.begin(), file->tensors_.end(),
            [](const TensorView &x, const TensorView &y) { return x.fileOffset < y.fileOffset; });
  for (size_t i = 0; i < file->tensors_.size(); ++i)
    file->index_[file->tensors_[i].name] = i;
  return file;
}

void ParamFile::evict(const TensorView &view) const {
  if (view.fileOffset < 0)
    return; // held in memory, not mapped
  evictRange(view.data, size_t(view.numBytes));
}

bool ParamFile::inMapping(const void *data, size_t bytes) const {
  uintptr_t begin = reinterpret_cast<uintptr_t>(data);
  uintptr_t base = reinterpret_cast<uintptr_t>(base_);
  return data && begin >= base && bytes <= size_t(size_) && begin - base <= size_t(size_) - bytes;
}

void ParamFile::evictRange(const void *data, size_t bytes) const {
  if (!inMapping(data, bytes))
    return;
  dropWholePages(data, bytes);
}

const TensorView *ParamFile::find(const std::string &name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

bool ParamFile::addInMemory(const std::string &name, DType dtype, std::vector<int64_t> shape,
                            std::vector<uint8_t> bytes) {
  if (index_.count(name))
    return false;
  inMemory_.push_back(std::move(bytes));
  TensorView view;
  view.name = name;
  view.dtype = dtype;
  view.shape = std::move(shape);
  view.data = inMemory_.back().data();
  view.numBytes = int64_t(inMemory_.back().size());
  view.fileOffset = -1;
  index_[name] = tensors_.size();
  tensors_.push_back(std::move(view));
  return true;
}

//===----------------------------------------------------------------------===//
// Writing
//===----------------------------------------------------------------------===//

bool ParamFileWriter::checkNew(const std::string &name, DType dtype,
                               const std::vector<int64_t> &shape, int64_t numBytes,
                               std::string &error) {
  if (name.empty() || name == "__metadata__" || isPadName(name)) {
    error = "reserved or empty tensor name '" + name + "'";
    return false;
  }
  if (names_.count(name)) {
    error = "tensor '" + name + "' added twice";
    return false;
  }
  int64_t expected = checkedBytes(shape, dtypeSize(dtype));
  if (expected < 0 || expected != numBytes) {
    error = "tensor '" + name + "': shape needs " + std::to_string(expected) + " bytes, got " +
            std::to_string(numBytes);
    return false;
  }
  return true;
}

bool ParamFileWriter::addBorrowed(std::string name, DType dtype, std::vector<int64_t> shape,
                                  const void *data, int64_t numBytes, std::string &error,
                                  std::function<void()> afterWrite) {
  if (!checkNew(name, dtype, shape, numBytes, error))
    return false;
  names_[name] = entries_.size();
  Entry e{std::move(name), dtype, std::move(shape), static_cast<const uint8_t *>(data), {},
          numBytes, nullptr, std::move(afterWrite)};
  entries_.push_back(std::move(e));
  return true;
}

bool ParamFileWriter::addOwned(std::string name, DType dtype, std::vector<int64_t> shape,
                               std::vector<uint8_t> bytes, std::string &error) {
  int64_t numBytes = bytes.size();
  if (!checkNew(name, dtype, shape, numBytes, error))
    return false;
  names_[name] = entries_.size();
  Entry e{std::move(name), dtype, std::move(shape), nullptr, std::move(bytes), numBytes,
          nullptr, nullptr};
  entries_.push_back(std::move(e));
  return true;
}

bool ParamFileWriter::addGenerated(std::string name, DType dtype, std::vector<int64_t> shape,
                                   int64_t numBytes, Filler fill, std::string &error) {
  if (!checkNew(name, dtype, shape, numBytes, error))
    return false;
  names_[name] = entries_.size();
  Entry e{std::move(name), dtype, std::move(shape), nullptr, {}, numBytes, std::move(fill),
          nullptr};
  entries_.push_back(std::move(e));
  return true;
}

void ParamFileWriter::setMetadata(const std::string &key, const std::string &value) {
  metadata_[key] = value;
}

std::string ParamFileWriter::buildHeader(std::vector<int64_t> &offsets,
                                         int64_t &dataStart) const {
  std::map<std::string, std::string> metadata = metadata_;
  metadata["format"] = "midllama-params";
  metadata["version"] = "1";
  metadata["alignment"] = std::to_string(kParamFileAlignment);

  std::string json = "{\"__metadata__\":{";
  bool first = true;
  for (const auto &[k, v] : metadata) {
    if (!first)
      json += ',';
    first = false;
    appendJsonString(json, k);
    json += ':';
    appendJsonString(json, v);
  }
  json += '}';
  auto entry = [&](const std::string &name, DType dtype, const std::vector<int64_t> &shape,
                   int64_t begin, int64_t end) {
    json += ',';
    appendJsonString(json, name);
    json += ":{\"dtype\":\"";
    json += dtypeName(dtype);
    json += "\",\"shape\":[";
    for (size_t i = 0; i < shape.size(); ++i)
      json += (i ? "," : "") + std::to_string(shape[i]);
    json += "],\"data_offsets\":[" + std::to_string(begin) + "," + std::to_string(end) + "]}";
  };
  offsets.clear();
  int64_t cursor = 0;
  int pads = 0;
  for (const Entry &e : entries_) {
    int64_t aligned = alignUp(cursor, kParamFileAlignment);
    if (aligned != cursor) // safetensors forbids holes: cover the gap with a pad tensor
      entry(kPadPrefix + std::to_string(pads++), DType::U8, {aligned - cursor}, cursor, aligned);
    offsets.push_back(aligned);
    entry(e.name, e.dtype, e.shape, aligned, aligned + e.numBytes);
    cursor = aligned + e.numBytes;
  }
  json += '}';
  // Pad the header with spaces (allowed by safetensors) so the data buffer, and with it
  // every tensor, starts 64-byte aligned in the file.
  int64_t total = alignUp(8 + int64_t(json.size()), kParamFileAlignment);
  json.append(total - 8 - json.size(), ' ');
  dataStart = total;
  return json;
}

int64_t ParamFileWriter::plannedFileSize() const {
  std::vector<int64_t> offsets;
  int64_t dataStart = 0;
  buildHeader(offsets, dataStart);
  return entries_.empty() ? dataStart : dataStart + offsets.back() + entries_.back().numBytes;
}

bool ParamFileWriter::commit(const std::string &path, std::string &error,
                             const std::string &what) const {
  std::vector<int64_t> offsets;
  int64_t dataStart = 0;
  std::string header = buildHeader(offsets, dataStart);

  std::unique_ptr<OutputFile> file = OutputFile::create(path, what, error);
  if (!file)
    return false;
  bool ok = true;
  auto put = [&](const void *data, size_t n) { ok = ok && file->write(data, n); };
  uint8_t len[8];
  uint64_t headerLen = header.size();
  for (int i = 0; i < 8; ++i)
    len[i] = uint8_t(headerLen >> (8 * i));
  put(len, 8);
  put(header.data(), header.size());
  static const uint8_t zeros[kParamFileAlignment] = {};
  int64_t cursor = 0;
  for (size_t i = 0; i < entries_.size() && ok; ++i) {
    put(zeros, offsets[i] - cursor);
    const Entry &e = entries_[i];
    if (e.fill) {
      std::vector<uint8_t> buffer(e.numBytes, 0);
      std::string fillError;
      if (!e.fill(buffer.data(), fillError)) {
        error = "cannot write '" + path + "': " + fillError;
        return false; // the unfinished output is discarded with `file`
      }
      put(buffer.data(), e.numBytes);
    } else {
      put(e.borrowed ? e.borrowed : e.owned.data(), e.numBytes);
      if (e.afterWrite)
        e.afterWrite();
    }
    cursor = offsets[i] + e.numBytes;
  }
  return file->commit(error);
}

} // namespace midllama::rt
