//===- SyntheticWeights.h - Weights generated at load ----------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// An artifact compiled with --synthetic-weights holds its program and a manifest of its
// weight tensors (name, dtype, shape), not their bytes: `midllama-run --synthetic-weights`
// generates them at load, deterministic pseudo-random values of plausible magnitude, the
// same whatever the thread count. For speed and memory measurements of shapes whose real
// weights are not at hand (a 7B model) or too large to carry (a GPU machine's 64 MiB).
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_SYNTHETICWEIGHTS_H
#define MIDLLAMA_RUNTIME_SYNTHETICWEIGHTS_H

#include "runtime/artifact/Program.h"
#include "runtime/params/ParamFile.h"

#include <string>

namespace midllama::rt {

/// Adds to `file`, in memory, every tensor `manifest` lists (JSON: name, dtype, shape; a
/// pruned weight's index tensors also "kept", its number of kept values), generated: codes
/// any byte, scales small and positive, fp weights about N(0, 0.02); a pruned weight's
/// structure valid for its `program` entry (a bitmask keeping exactly "kept" values spread
/// evenly over the rows, with the row offsets that count them; N:M positions distinct and
/// increasing in every run). False with `error` on a malformed manifest.
bool synthesizeWeights(ParamFile &file, const TensorView &manifest, const Program &program,
                       std::string &error);

} // namespace midllama::rt

#endif // MIDLLAMA_RUNTIME_SYNTHETICWEIGHTS_H
