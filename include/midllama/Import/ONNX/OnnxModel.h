//===- OnnxModel.h - Load an ONNX model and its weights safely --*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Model files come from the internet, so this loader treats them as hostile. The protobuf
// is parsed with protobuf's own bounds checks; every initializer's size is checked against
// its dims before anything is read; external data must lie inside the model's folder (no
// absolute paths, no `..`, no symlink out: the directory-traversal CVE class of ONNX
// loaders) and within the file it names. External files are mmapped and never copied, so
// importing a 13 GB model costs little memory.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_IMPORT_ONNX_ONNXMODEL_H
#define MIDLLAMA_IMPORT_ONNX_ONNXMODEL_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace onnx {
class ModelProto;
class TensorProto;
} // namespace onnx

namespace midllama::onnx_import {

/// ONNX TensorProto element types we read (values as in onnx.proto).
enum class OnnxDType : int32_t {
  Float = 1, UInt8 = 2, Int8 = 3, UInt16 = 4, Int16 = 5, Int32 = 6, Int64 = 7, Bool = 9,
  Float16 = 10, Double = 11, UInt32 = 12, UInt64 = 13, BFloat16 = 16
};

/// Size in bytes of one element, or nullopt for types we do not read (strings, complex,
/// 4-bit and fp8 tensors).
std::optional<int64_t> onnxDTypeSize(int32_t dataType);
llvm::StringRef onnxDTypeName(int32_t dataType);

/// An initializer or constant: its dims and its little-endian bytes, checked to match.
struct OnnxTensor {
  std::string name;
  int32_t dataType = 0;
  std::vector<int64_t> dims;
  llvm::ArrayRef<uint8_t> bytes; // valid while the OnnxModel lives
  bool external = false;

  int64_t numElements() const;
};

class OnnxModel {
public:
  /// Loads `path`. On failure returns null and sets `error` to one line naming the file and,
  /// where there is one, the tensor or node at fault.
  static std::unique_ptr<OnnxModel> load(llvm::StringRef path, std::string &error);
  /// Folders besides the model's own where a symlinked external-data file may point (a
  /// Hugging Face cache stores files as links into its `blobs/` folder): what
  /// `midllama-import --allow-data-dir DIR` sets for the process. Paths are canonicalized.
  static void allowDataDirectories(const std::vector<std::string> &dirs);
  /// The same for a model already in memory (`bytes`, copied), named `displayName` in
  /// errors, whose external data is looked up in `directory`. The fuzz target enters here.
  static std::unique_ptr<OnnxModel> loadFromMemory(llvm::StringRef bytes,
                                                   llvm::StringRef displayName,
                                                   llvm::StringRef directory,
                                                   std::string &error);
  ~OnnxModel();

  const onnx::ModelProto &proto() const { return *proto_; }
  /// Removes the standard Identity nodes whose output is written once and is no graph
  /// output (exporters leave them anywhere), reading their input instead. Run after the
  /// graph is validated: an Identity that shadows another value is refused there, not
  /// silently merged here. Returns how many were removed.
  int elideIdentities();
  llvm::StringRef path() const { return path_; }
  /// Opset version imported for `domain` ("" or "ai.onnx" for the default), if any.
  std::optional<int64_t> opsetVersion(llvm::StringRef domain) const;
  const OnnxTensor *initializer(llvm::StringRef name) const;
  const std::vector<OnnxTensor> &initializers() const { return initializers_; }

  /// Drops the pages of an external-data tensor from memory (re-read if touched again);
  /// a no-op for data that is not in a mapped external file.
  void evict(const OnnxTensor &tensor) const;

  /// Checks and decodes a tensor that lives in the protobuf itself (a Constant node's value).
  /// External data is only allowed for graph initializers.
  bool decodeInline(const onnx::TensorProto &tensor, OnnxTensor &out, std::string &error);

  /// Default-domain opsets this importer accepts: 13 to 21 as specified, and 22, which
  /// onnxruntime-genai 0.18 writes and which only widened type constraints (bf16) of the ops
  /// we read. Opset 23's standard Attention/RotaryEmbedding/RMSNormalization ops are not.
  static constexpr int64_t kMinOpset = 13, kMaxOpset = 22;

private:
  OnnxModel();
  bool decode(const onnx::TensorProto &tensor, bool allowExternal, OnnxTensor &out,
              std::string &error);
  bool readExternal(const onnx::TensorProto &tensor, int64_t expectedBytes, OnnxTensor &out,
                    std::string &error);

  std::string path_;
  std::string directory_;     // canonical folder of the model file
  std::unique_ptr<onnx::ModelProto> proto_;
  std::vector<OnnxTensor> initializers_;
  llvm::StringMap<size_t> initializerIndex_;
  llvm::StringMap<std::unique_ptr<llvm::MemoryBuffer>> externalFiles_;
  std::vector<std::vector<uint8_t>> ownedData_; // tensors given as typed fields
};

} // namespace midllama::onnx_import

#endif // MIDLLAMA_IMPORT_ONNX_ONNXMODEL_H
