//===- ParamFile.h - Read and write midllama parameter files ----*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// A parameter file is a valid safetensors file (so `safetensors.safe_open` reads it) with
// two extra guarantees: every tensor starts at a multiple of 64 bytes from the start of the
// file, and `__metadata__` says {"format": "midllama-params", "version": "1",
// "alignment": "64"}. Alignment gaps are covered by U8 tensors named `__pad__.<n>`, because
// safetensors forbids holes in its data buffer; readers here hide them. The file is mmapped
// for reading, so loading a model costs no copy, and written through a temporary file that
// is renamed into place, so a failed write never leaves a half file under the final name.
// docs/weights.md explains why this format and not the alternatives.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_PARAMS_PARAMFILE_H
#define MIDLLAMA_RUNTIME_PARAMS_PARAMFILE_H

#include "runtime/params/DType.h"

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace midllama::rt {

constexpr int64_t kParamFileAlignment = 64;

struct TensorView {
  std::string name;
  DType dtype = DType::U8;
  std::vector<int64_t> shape;
  const uint8_t *data = nullptr; // into the mapping, aligned to kParamFileAlignment
  int64_t numBytes = 0;
  int64_t fileOffset = 0;

  int64_t numElements() const;
};

/// A parameter file mapped read-only. All sizes are validated against the file before any
/// view is handed out, so a truncated or hostile file is an error, never an out-of-bounds
/// read.
class ParamFile {
public:
  /// Opens and validates `path`; on failure returns null and sets `error` to one line that
  /// names the file (as `what`: an artifact is one too) and the problem. Only a regular file
  /// is opened (runtime/support/InputFile.h); one staged earlier in this run is read from
  /// its temporary file (runtime/support/OutputFile.h).
  static std::unique_ptr<ParamFile> open(const std::string &path, std::string &error,
                                         const std::string &what = "parameter file");
  ~ParamFile();
  ParamFile(const ParamFile &) = delete;
  ParamFile &operator=(const ParamFile &) = delete;

  const TensorView *find(const std::string &name) const;
  /// Adds a tensor held in memory rather than in the file (an artifact compiled with
  /// synthetic weights gets them generated at load). Call before taking views: the table
  /// grows. False if the name exists.
  bool addInMemory(const std::string &name, DType dtype, std::vector<int64_t> shape,
                   std::vector<uint8_t> bytes);
  /// Drops the mapped pages of `view` from this process (they are re-read from the file if
  /// touched again): streaming a model through memory then costs one tensor, not the file.
  void evict(const TensorView &view) const;
  /// The same for any bytes of the mapping (nothing for bytes outside it, e.g. in memory).
  void evictRange(const void *data, size_t bytes) const;
  /// Every mapped page (layer-by-layer calibration: what the load's checksum and the
  /// finished layers touched, so that its memory holds one layer's weights, not the file).
  void evictAll() const { evictRange(base_, size_t(size_)); }
  /// Whether [data, data + bytes) lies in the file's mapping (not a tensor held in memory).
  bool inMapping(const void *data, size_t bytes) const;
  /// The tensors in file order, padding excluded.
  const std::vector<TensorView> &tensors() const { return tensors_; }
  const std::map<std::string, std::string> &metadata() const { return metadata_; }
  int64_t fileSize() const { return size_; }
  const std::string &path() const { return path_; }

private:
  ParamFile() = default;
  std::string path_;
  const uint8_t *base_ = nullptr;
  int64_t size_ = 0;
  std::vector<TensorView> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
  std::deque<std::vector<uint8_t>> inMemory_; // addInMemory's bytes (stable addresses)
};

/// Collects tensors, then writes them in the order they were added. Tensor bytes are either
/// borrowed (a pointer that must stay valid until commit, e.g. into an mmapped source
/// model, so importing a large model does not copy it into memory) or owned.
class ParamFileWriter {
public:
  /// Adds a tensor whose bytes live at `data` until commit(). Returns false and sets
  /// `error` on a duplicate or reserved name, or a byte count that does not match the shape.
  bool addBorrowed(std::string name, DType dtype, std::vector<int64_t> shape,
                   const void *data, int64_t numBytes, std::string &error,
                   std::function<void()> afterWrite = nullptr);
  bool addOwned(std::string name, DType dtype, std::vector<int64_t> shape,
                std::vector<uint8_t> bytes, std::string &error);
  /// Adds a tensor whose bytes `fill` writes into a zeroed buffer of `numBytes` at commit
  /// time, one tensor at a time, so rewriting a model never holds all of it in memory.
  /// `fill` returns false (with `error` set) to abort the commit.
  using Filler = std::function<bool(uint8_t *dst, std::string &error)>;
  bool addGenerated(std::string name, DType dtype, std::vector<int64_t> shape,
                    int64_t numBytes, Filler fill, std::string &error);
  void setMetadata(const std::string &key, const std::string &value);

  /// Writes the file as an OutputFile (runtime/support/OutputFile.h: atomically for a
  /// regular file, staged in a transaction, never replacing a device or an input). Returns
  /// false and sets `error` naming the path (as `what`) on any failure; the destination is
  /// then left as it was.
  bool commit(const std::string &path, std::string &error,
              const std::string &what = "parameter file") const;

  /// Bytes the file will have.
  int64_t plannedFileSize() const;

private:
  struct Entry {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    const uint8_t *borrowed = nullptr;
    std::vector<uint8_t> owned;
    int64_t numBytes = 0;
    Filler fill;
    std::function<void()> afterWrite; // e.g. evict the borrowed bytes' pages
  };
  bool checkNew(const std::string &name, DType dtype, const std::vector<int64_t> &shape,
                int64_t numBytes, std::string &error);
  std::string buildHeader(std::vector<int64_t> &offsets, int64_t &dataStart) const;

  std::vector<Entry> entries_;
  std::map<std::string, std::string> metadata_;
  std::map<std::string, size_t> names_;
};

} // namespace midllama::rt

#endif // MIDLLAMA_RUNTIME_PARAMS_PARAMFILE_H
