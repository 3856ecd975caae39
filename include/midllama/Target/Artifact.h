//===- Artifact.h - Serialize a planned kern program ------------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The last step of midllama-compile: a module lowered by the `midllama-lower-cpu`
// pipeline (kern ops with buffer slots) becomes the artifact runtime/artifact/Program.h
// describes, with the weights its kernels read copied from the module's parameter file
// and the tokenizer embedded.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_TARGET_ARTIFACT_H
#define MIDLLAMA_TARGET_ARTIFACT_H

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace midllama {

struct ArtifactOptions {
  std::string target = "cpu";
  std::string tokenizerPath; // llama2.c tokenizer.bin / tok512.bin
  int64_t maxContext = 0;    // 0: the module's llm.max_context, else 2048
  /// Write the program and a manifest of the weight tensors (`__synthetic_weights__`)
  /// instead of their bytes: for speed and memory benchmarks of shapes whose weights are not
  /// at hand (or too large to move); `midllama-run --synthetic-weights` fills them with
  /// random values at load. The parameter file is not read.
  bool syntheticWeights = false;
  /// Refuse a max_context whose KV cache exceeds the memory available on this machine
  /// (midllama-compile; off for the calibration passes' internal builds).
  bool checkMemory = false;
};

/// The tokenizer to embed for `module` read from `irPath` (may be empty): a tokenizer.json,
/// tokenizer.model, tokenizer.bin or tok512.bin beside the IR file, beside its parameter
/// file, or beside the model the importer read (`llm.source`); empty if none.
std::string findTokenizerFor(mlir::ModuleOp module, llvm::StringRef irPath);

/// Writes `module` (planned kern) as an artifact at `outPath`, atomically. Returns false and
/// sets `error` (one line naming the op, weight or file at fault) when it cannot.
bool writeArtifact(mlir::ModuleOp module, const std::string &outPath,
                   const ArtifactOptions &options, std::string &error);

} // namespace midllama

#endif // MIDLLAMA_TARGET_ARTIFACT_H
