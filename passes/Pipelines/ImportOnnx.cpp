//===- ImportOnnx.cpp - The whole ONNX import: convert, then clean up ------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Kept apart from the converter so that the converter (and its fuzz target) does not depend
// on the pass pipeline that finishes an import.
//
//===----------------------------------------------------------------------===//

#include "midllama/Pipelines/ImportOnnx.h"
#include "midllama/Import/ONNX/OnnxToLLM.h"

#include "midllama/Dialect/LLM/IR/LLMOps.h"
#include "midllama/Transforms/Passes.h"
#include "runtime/support/OutputFile.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

using namespace mlir;
using namespace midllama;
using namespace midllama::llm;
using namespace midllama::onnx_import;

/// `path` made absolute: the module names its parameter files absolutely while it is being
/// built; the tool that writes the IR records them relative to it (rebaseParamFile).
static std::string absolute(StringRef path) {
  llvm::SmallString<256> abs(path);
  llvm::sys::fs::make_absolute(abs);
  return std::string(abs);
}

OwningOpRef<ModuleOp> midllama::onnx_import::importOnnx(StringRef modelPath, StringRef irPath,
                                                        StringRef paramsPath,
                                                        MLIRContext *context,
                                                        std::vector<std::string> &unusedInputs,
                                                        std::string &error) {
  auto model = OnnxModel::load(modelPath, error);
  if (!model)
    return nullptr;
  std::string raw = paramsPath.str() + ".onnx-initializers.tmp";
  auto loc = FileLineColLoc::get(context, irPath, 0, 0);
  rt::ParamFileWriter writer;
  writer.setMetadata("source", llvm::sys::path::filename(modelPath).str());
  writer.setMetadata("source_format", "onnx");
  OwningOpRef<ModuleOp> module =
      convertToLLM(*model, context, writer, absolute(raw), loc, error);
  if (!module)
    return nullptr;
  if (failed(verify(*module))) {
    error = "'" + modelPath.str() + "': the converted module does not verify";
    return nullptr;
  }
  if (auto forward = module->lookupSymbol<func::FuncOp>("forward"))
    for (BlockArgument arg : forward.getArguments())
      if (arg.use_empty())
        if (auto name = forward.getArgAttrOfType<StringAttr>(arg.getArgNumber(),
                                                             LLMDialect::kNameAttrName))
          unusedInputs.push_back(name.str());
  if (!writer.commit(raw, error))
    return nullptr;

  PassManager pm(context);
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createLLMOutlineDecoderLayers());
  pm.addPass(createLLMNameWeights());
  LLMMaterializeWeightsOptions materialize;
  materialize.output = absolute(paramsPath);
  pm.addPass(createLLMMaterializeWeights(materialize));
  bool ok = succeeded(pm.run(*module));
  rt::discardOutput(raw); // staged, in a transaction: never reaches the disk under its name
  if (!ok) {
    error = "'" + modelPath.str() + "': the import pipeline failed (see the errors above)";
    return nullptr;
  }
  return module;
}
