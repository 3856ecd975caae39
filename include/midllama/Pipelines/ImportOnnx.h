//===- ImportOnnx.h - The ONNX import: conversion, then its pipeline -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The whole ONNX import as midllama-import runs it. It lives with the pipelines, above
// passes/, because after converting (lib/Import/ONNX) it runs passes: lib/ includes no
// pass header.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_PIPELINES_IMPORTONNX_H
#define MIDLLAMA_PIPELINES_IMPORTONNX_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringRef.h"

#include <string>
#include <vector>

namespace midllama::onnx_import {

/// The whole import: loads `modelPath`, converts it, runs canonicalize,
/// --llm-outline-decoder-layers, --llm-name-weights and --llm-materialize-weights, and writes the final
/// parameter file to `paramsPath` (via a temporary file of the raw initializers next to it).
/// The module's locations carry `irPath`, against whose folder its `llm.param_file` is
/// resolved. Inputs the result does not read are listed in `unusedInputs`.
mlir::OwningOpRef<mlir::ModuleOp> importOnnx(llvm::StringRef modelPath, llvm::StringRef irPath,
                                             llvm::StringRef paramsPath,
                                             mlir::MLIRContext *context,
                                             std::vector<std::string> &unusedInputs,
                                             std::string &error);

} // namespace midllama::onnx_import

#endif // MIDLLAMA_PIPELINES_IMPORTONNX_H
