//===- WeightFormat.h - How a compiled weight's bytes encode it -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The runtime's one definition of the weight formats: which format a weight has, the
// parameters each format needs (each in its own field: a format never borrows another's),
// how those parameters travel in the artifact's program, and the name the reports give the
// format. The compiler fills FormatParams from the IR's format attribute
// (WeightFormatAttrInterface::getRuntimeFormat); the loader checks the stored tensors
// against componentsOf (runtime/format/Components.h) and binds them for the kernels
// (runtime/format/BindWeight.h). docs/weights.md has the byte layout of each format.
//
// Adding a format: a FormatKind, its parameter struct, its cases in WeightFormat.cpp,
// Components.cpp and BindWeight.cpp, and its kernels.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_FORMAT_WEIGHTFORMAT_H
#define MIDLLAMA_RUNTIME_FORMAT_WEIGHTFORMAT_H

#include "runtime/params/DType.h"

#include <cstdint>
#include <string>
#include <vector>

namespace midllama::rt {

/// How a weight's values are encoded. The numbers are stored in artifacts: never reuse one.
enum class FormatKind : uint32_t {
  Dense = 0,
  Affine = 1,
  NF4 = 2,
  Int8Outliers = 3,
  AffineMin = 4,
};

/// Affine integer groups (RTN, GPTQ, AWQ): w = (q - zero) * scale per group of `groupSize`
/// columns along a row; symmetric groups have the implicit zero 2^(bits-1). With
/// `scaleBlock` > 0 (ggml's Q6_K) a scale is an int8 code times a super-scale (of the
/// weight's dtype) shared by `scaleBlock` consecutive groups of the row.
struct AffineParams {
  int64_t bits = 0;      // 2 to 8
  int64_t groupSize = 0; // input columns per group
  bool symmetric = false;
  int64_t scaleBlock = 0; // groups per super-scale; 0: scales of the weight's dtype
};

/// Integer groups with a float minimum (ggml's Q4_1): w = q * scale + min per group of
/// `groupSize` columns along a row, q in [0, 2^bits). With `scaleBlock` > 0 (ggml's Q4_K,
/// Q5_K) scales and minimums are uint8 codes times a super-value (of the weight's dtype)
/// per `scaleBlock` consecutive groups of the row.
struct AffineMinParams {
  int64_t bits = 0;      // 2 to 8
  int64_t groupSize = 0; // input columns per group
  int64_t scaleBlock = 0; // groups per super-value; 0: scales and minimums of the dtype
};

/// NF4 (QLoRA): blocks of `blockSize` values of the row-major stream, one absmax each;
/// double-quantized absmax are 8-bit codes with one fp32 scale per `dqBlockSize` blocks.
struct NF4Params {
  int64_t blockSize = 0;
  bool doubleQuant = false;
  int64_t dqBlockSize = 0; // absmax values per scale; 0 unless doubleQuant
};

/// LLM.int8(): int8 rows with `numOutliers` input columns kept in fp16.
struct Int8OutlierParams {
  int64_t numOutliers = 0;
};

/// A format and its parameters; only the struct of `kind` is meaningful.
struct FormatParams {
  FormatKind kind = FormatKind::Dense;
  AffineParams affine;
  AffineMinParams affineMin;
  NF4Params nf4;
  Int8OutlierParams int8;
};

/// How a pruned weight stored compressed indexes its kept values: N:M positions, or a
/// bitmask and row offsets. Pruned weights stored with explicit zeros have None.
enum class SparsityKind : uint32_t { None = 0, NM = 1, Bitmask = 2 };

struct SparsityParams {
  SparsityKind kind = SparsityKind::None;
  int64_t n = 0, m = 0; // NM: n kept of every m columns
};

/// The format's parameters as the program stores them (a list of integers, so the program
/// encoding stays the same whatever parameters a format has), and back: decoding checks
/// the values and says what is wrong in `why`.
std::vector<int64_t> encodeFormatParams(const FormatParams &format);
bool decodeFormatParams(uint32_t kind, const std::vector<int64_t> &values, FormatParams &format,
                        std::string &why);
bool checkSparsityParams(const SparsityParams &sparsity, std::string &why);

/// The storage format as midllama-run's report names it, e.g. "F32", "int4 g128 sym",
/// "nf4 b64 dq", "int8 + fp16 outliers 2:4", "F16 sparse-bitmask", "int6 g16 sym qscale/16".
std::string formatName(const FormatParams &format, DType dtype, const SparsityParams &sparsity);

} // namespace midllama::rt

#endif // MIDLLAMA_RUNTIME_FORMAT_WEIGHTFORMAT_H
