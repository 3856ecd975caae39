//===- OnnxToLLM.h - Convert an ONNX graph to flat llm IR -------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Converts an ONNX decoder op by op into one flat `func.func @forward` of llm ops, the way
// torch-mlir lowers ONNX: each (domain, op type) has a converter, and conversion is driven
// from the graph outputs, so subgraphs nothing we keep depends on (ONNX Runtime's attention
// mask bookkeeping) are never visited. Weights become dense `llm.param`s named after their
// initializers, with layout changes as llm.weight_transpose / llm.weight_slice;
// --llm-outline-decoder-layers and --llm-materialize-weights finish the job.
//
// Supported today: ONNX Runtime GenAI model-builder exports (GroupQueryAttention,
// MultiHeadAttention, RotaryEmbedding, (Skip)SimplifiedLayerNormalization, MatMulNBits,
// GatherBlockQuantized) and decomposed torch.onnx graphs, whose RMSNorm, rotary, repeat_kv,
// KV-cache and attention subgraphs are raised by pattern (RaiseDecomposed.cpp). Anything
// else is refused with its domain, type, node name and graph. docs/onnx-import.md.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_IMPORT_ONNX_ONNXTOLLM_H
#define MIDLLAMA_IMPORT_ONNX_ONNXTOLLM_H

#include "midllama/Import/ONNX/OnnxModel.h"
#include "runtime/params/ParamFile.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <string>
#include <vector>

namespace midllama::onnx_import {

/// Converts `model`. Every initializer it reads is added to `writer` under its own name
/// (borrowing the model's mapped bytes); the module's `llm.param_file` is `paramFile`.
/// Returns null and sets `error` to one line on failure.
mlir::OwningOpRef<mlir::ModuleOp> convertToLLM(OnnxModel &model, mlir::MLIRContext *context,
                                               rt::ParamFileWriter &writer,
                                               llvm::StringRef paramFile, mlir::Location loc,
                                               std::string &error);

} // namespace midllama::onnx_import

#endif // MIDLLAMA_IMPORT_ONNX_ONNXTOLLM_H
