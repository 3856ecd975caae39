//===- GgufFile.h - A GGUF model file, read and checked ---------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// GGUF (llama.cpp's model format, versions 2 and 3; the layout is in docs/gguf.md): a
// header, typed key/value metadata, tensor descriptions, then the aligned tensor data. The
// file is mapped, and every count, length and offset it states is checked against the
// bytes that are really there before anything is allocated or read, as the ONNX loader
// does: a hostile or truncated file is a one-line error naming the file and what is wrong,
// never a crash or an allocation the file cannot back. Only what the format defines is
// accepted (known value and tensor types, power-of-two alignment, aligned tensors inside
// the data section that do not overlap); a file that is not fully understood is refused.
//
// No MLIR: the importer builds the llm module from it (lib/Import/GGUF), the fuzzer and
// `midllama-import --list` read it alone.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_IMPORT_GGUF_GGUFFILE_H
#define MIDLLAMA_IMPORT_GGUF_GGUFFILE_H

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace midllama::gguf {

/// Metadata value types (GGUF's numbering).
enum class ValueType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7, String = 8,
  Array = 9, U64 = 10, I64 = 11, F64 = 12
};
const char *valueTypeName(ValueType type);

/// One metadata value. Scalars are held widened (`i`/`u` for integers and booleans, `f` for
/// floats); an array holds its elements in the member of its element type (`ints`,
/// `floats` or `strings`); arrays of arrays are read through but keep only their count.
struct Value {
  ValueType type = ValueType::U8;
  int64_t i = 0;
  uint64_t u = 0;
  double f = 0;
  std::string string;
  ValueType elementType = ValueType::U8; // arrays
  uint64_t count = 0;                    // arrays
  std::vector<int64_t> ints;             // arrays of integers or booleans
  std::vector<double> floats;            // arrays of F32 / F64
  std::vector<std::string> strings;      // arrays of strings
  bool isInteger() const;
};

/// ggml tensor types: the ones whose block layout is known here (others are refused).
enum class TensorType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9, Q2_K = 10,
  Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15, BF16 = 30
};
/// Values per block and bytes per block of `type`; false for a type not listed above.
bool blockLayout(uint32_t type, int64_t &blockValues, int64_t &blockBytes);
const char *tensorTypeName(TensorType type);

struct TensorInfo {
  std::string name;
  /// ggml's order: dims[0] varies fastest (a matrix's columns), so a [rows, cols] weight
  /// has dims {cols, rows}.
  std::vector<int64_t> dims;
  TensorType type = TensorType::F32;
  int64_t offset = 0;   // in the data section
  int64_t numBytes = 0; // from dims and the type's block layout
  const uint8_t *data = nullptr;
  int64_t numElements() const;
};

class GgufFile {
public:
  /// Maps and checks `path`. Null with `error` ("GGUF file 'p': ...") when it is not a
  /// regular file, not GGUF, of an unsupported version, or inconsistent anywhere.
  static std::unique_ptr<GgufFile> open(const std::string &path, std::string &error);
  /// The same checks on bytes in memory (the fuzzer's entry; `name` for messages). The
  /// bytes must outlive the result.
  static std::unique_ptr<GgufFile> parse(const uint8_t *data, int64_t size,
                                         const std::string &name, std::string &error);
  ~GgufFile();
  GgufFile(const GgufFile &) = delete;
  GgufFile &operator=(const GgufFile &) = delete;

  const std::string &path() const { return path_; }
  uint32_t version() const { return version_; }
  int64_t alignment() const { return alignment_; }
  /// Metadata in file order, and by key.
  const std::vector<std::pair<std::string, Value>> &metadata() const { return metadata_; }
  const Value *find(const std::string &key) const;
  const std::vector<TensorInfo> &tensors() const { return tensors_; }
  const TensorInfo *findTensor(const std::string &name) const;

  /// Typed reads of required metadata: false with `error` naming the key when it is
  /// missing or of another type (any integer type, in range, for getInt; F32/F64 for
  /// getFloat).
  bool getInt(const std::string &key, int64_t &out, std::string &error) const;
  bool getFloat(const std::string &key, double &out, std::string &error) const;
  bool getString(const std::string &key, std::string &out, std::string &error) const;

private:
  GgufFile() = default;
  std::string path_;
  const uint8_t *map_ = nullptr; // owned when mapped by open()
  int64_t mapSize_ = 0;
  uint32_t version_ = 0;
  int64_t alignment_ = 32;
  std::vector<std::pair<std::string, Value>> metadata_;
  std::map<std::string, size_t> keyIndex_, tensorIndex_;
  std::vector<TensorInfo> tensors_;
  friend class Parser;
};

} // namespace midllama::gguf

#endif // MIDLLAMA_IMPORT_GGUF_GGUFFILE_H
