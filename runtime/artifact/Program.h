//===- Program.h - The compiled model artifact's program -------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// A compiled model (`.mlm`) is a parameter file (safetensors layout, 64-byte aligned,
// mmapped: runtime/params/ParamFile.h) holding:
//   - the weights, each packed for the kernel that reads it, under its parameter name;
//   - `__program__`: this program (config, buffer slots, weight table, kernel calls);
//   - `__tokenizer__`: the model's tokenizer file, verbatim;
//   - for a GPU target (config `target` = sm_80/86/89/90), `__cuda_kernels__`: the fatbin
//     nvcc built from runtime/cuda/kernels for that target (its cubin and PTX), which the
//     CUDA backend loads as it is. Matrices are then stored row-major (no CPU panels), so
//     the CPU backend runs the same artifact when no GPU is usable.
// Its metadata says `artifact = midllama-artifact`, `artifact_version` and `checksum` (the
// container's own `format` stays `midllama-params`, which keeps its alignment): contentHash
// of every tensor's bytes in file order, so a damaged or edited artifact is refused.
// The weight table repeats each weight's name, type and shape, and loading checks them
// against the file's header, which the checksum does not cover.
//
// The program encoding is little-endian, versioned and bounds-checked on decode:
//   "MLPROG" u16 version
//   config: u32 count, then count × (string key, string value)
//   slots:  u32 count, then count × i64 width
//   weights: u32 count, then count × (string name, u32 dtype, u32 layout, u32 format,
//            u32 p, p × i64 format parameter, u32 sparsity, i64 N, i64 M,
//            u32 rank, rank × i64 dim)
//   calls:  u32 count, then count × (u32 opcode, u32 n, n × i64 argument); the op codes
//           and their arguments are declared in KernelCalls.def
// where a string is u32 length + bytes. Float arguments are stored as their bit pattern.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_ARTIFACT_PROGRAM_H
#define MIDLLAMA_RUNTIME_ARTIFACT_PROGRAM_H

#include "runtime/artifact/KernelCall.h"
#include "runtime/format/WeightFormat.h"
#include "runtime/params/DType.h"

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace midllama::rt {

constexpr const char *kArtifactFormat = "midllama-artifact";
constexpr int kArtifactVersion = 3; // 2: contentHash checksum, 3: format parameters
constexpr const char *kProgramTensor = "__program__";
constexpr const char *kTokenizerTensor = "__tokenizer__";
constexpr const char *kCudaKernelsTensor = "__cuda_kernels__";
/// Present instead of the weight tensors in an artifact compiled with --synthetic-weights:
/// a JSON list of {name, dtype, shape}; the runtime generates them when asked to.
constexpr const char *kSyntheticWeightsTensor = "__synthetic_weights__";

/// How a weight's elements are ordered in the artifact. Matrices read by the matmul
/// kernels are packed at compile time into panels of 16 output rows, interleaved along K
/// (element (n, k) at [n / 16][k][n % 16], the last panel zero-padded): a 16-wide vector
/// load then feeds 16 outputs, and both decode (one input row) and prefill (many) stream
/// each panel once, front to back.
enum class WeightLayout : uint32_t { RowMajor = 0, Panel16 = 1 };
constexpr int64_t kPanelWidth = 16;

struct WeightInfo {
  std::string name;
  DType dtype = DType::F32;   // dense: the values'; affine: the scales'
  std::vector<int64_t> shape; // logical: [N, K] or [N]
  WeightLayout layout = WeightLayout::RowMajor;
  /// The format and its parameters, and how a pruned weight's kept values are indexed:
  /// runtime/format/WeightFormat.h; docs/weights.md has the tensors of each.
  FormatParams format;
  SparsityParams sparsity;

  /// The shape of the stored tensor: [ceil(N / 16), K, 16] for panels.
  std::vector<int64_t> storedShape() const;
};

/// Packs a row-major [n, k] matrix of `elemSize`-byte elements into Panel16 order.
void packPanel16(const uint8_t *src, int64_t n, int64_t k, int64_t elemSize, uint8_t *dst);

struct Program {
  std::map<std::string, std::string> config;
  std::vector<int64_t> slotWidths;
  std::vector<WeightInfo> weights;
  std::vector<Call> calls;

  std::vector<uint8_t> encode() const;
  /// Decodes and checks the structure: known op codes with their argument counts, slot and
  /// weight indices in range, flags 0 or 1, positive widths. Returns false and sets `error` otherwise.
  bool decode(const uint8_t *data, size_t size, std::string &error);

  /// A config value as an integer, or `fallback` when absent or not a number.
  int64_t configInt(const std::string &key, int64_t fallback) const;
};

/// 64-bit FNV-1a, continued from `hash` (small inputs: identifying evaluation files).
uint64_t fnv1a(const uint8_t *data, size_t size, uint64_t hash = 0xcbf29ce484222325ull);

/// The artifact checksum: a 64-bit hash of `data` seeded with (and so chained from) `seed`,
/// over 8-byte words in four independent lanes, so checking a multi-gigabyte model at
/// load costs about as much as reading it (FNV-1a's byte-serial loop ran at 0.4 GB/s).
/// Not cryptographic: it catches damage and edits, not an adversary who recomputes it.
uint64_t contentHash(const uint8_t *data, size_t size, uint64_t seed);

} // namespace midllama::rt

#endif // MIDLLAMA_RUNTIME_ARTIFACT_PROGRAM_H
