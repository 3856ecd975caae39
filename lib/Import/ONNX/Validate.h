//===- Validate.h - Check an ONNX graph before converting it ----*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Private to lib/Import/ONNX. The converter reads values by name and is demand-driven, so
// a graph ONNX Runtime refuses (a value assigned twice, a node output shadowing an input,
// no outputs, shapes that do not fit) could otherwise import as something plausible. These
// checks run before conversion; each failure is one line naming the file and, where there
// is one, the node.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_LIB_IMPORT_ONNX_VALIDATE_H
#define MIDLLAMA_LIB_IMPORT_ONNX_VALIDATE_H

#include "midllama/Import/ONNX/OnnxModel.h"

#include <string>

namespace midllama::onnx_import::detail {

/// The highest tensor rank an imported graph may use anywhere (LLaMA exports use 5 at
/// most): bounds the work of shape inference and graph evaluation on hostile graphs.
constexpr int kMaxTensorRank = 8;

/// Single static assignment and the graph's interface: at least one output, every output
/// produced, every value assigned once, no node output named like a graph input or an
/// initializer. (OnnxValidate.cpp)
bool checkGraphStructure(const OnnxModel &model, std::string &error);

/// Runs libonnx's checker and its strict shape inference (types checked, data propagated)
/// on a copy of the graph whose symbolic input sizes are bound to small concrete ones, so
/// shape mismatches ONNX Runtime would refuse (a Concat along the wrong axis, an Expand
/// that does not broadcast) are found statically. ONNX Runtime's contrib ops, which libonnx
/// has no schemas for, are given permissive ones: their attributes are checked by the
/// converter instead. Built with C++ exceptions, which libonnx throws. (OnnxChecker.cpp)
bool checkWithOnnx(const OnnxModel &model, std::string &error);

} // namespace midllama::onnx_import::detail

#endif // MIDLLAMA_LIB_IMPORT_ONNX_VALIDATE_H
