//===- LLMVerifyParams.cpp - Check IR and parameter file agree ------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Model files come from elsewhere and get copied, truncated and mixed up; this pass is the
// check that the bytes on disk are the ones the IR describes, before anything reads them.
//
//===----------------------------------------------------------------------===//

#include "midllama/Dialect/LLM/IR/LLMOps.h"
#include "midllama/Dialect/LLM/IR/WeightLayout.h"
#include "midllama/Transforms/ParamFiles.h"
#include "midllama/Transforms/Passes.h"
#include "runtime/params/ParamFile.h"

#include "llvm/ADT/StringSet.h"

namespace midllama {
#define GEN_PASS_DEF_LLMVERIFYPARAMS
#include "midllama/Transforms/Passes.h.inc"
} // namespace midllama

using namespace mlir;
using namespace midllama;
using namespace midllama::llm;

namespace {

std::string shapeStr(llvm::ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

struct LLMVerifyParamsPass
    : public midllama::impl::LLMVerifyParamsBase<LLMVerifyParamsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (paramFile.empty() && !module->hasAttr(LLMDialect::kParamFileAttrName) &&
        llvm::none_of(module.getOps<ParamOp>(), [](ParamOp p) { return !p.getValue(); }))
      return; // every weight is inline: nothing to check
    std::string error;
    auto file = openModuleParams(module, paramFile, error);
    if (!file) {
      mlir::emitError(module.getLoc()) << "llm-verify-params: " << error;
      return signalPassFailure();
    }
    const std::string &path = file->path();

    bool ok = true;
    llvm::StringSet<> expected;
    for (ParamOp param : module.getOps<ParamOp>()) {
      if (param.getValue())
        continue;
      for (const WeightComponent &c : getWeightLayout(param.getWeightType()).components) {
        std::string name = storedName(param) + c.suffix;
        expected.insert(name);
        const rt::TensorView *t = file->find(name);
        if (!t) {
          mlir::emitError(param.getLoc()) << "tensor '" << name << "' is missing from '" << path << "'";
          ok = false;
          continue;
        }
        std::vector<int64_t> shape(c.shape.begin(), c.shape.end());
        if (t->dtype != c.dtype || t->shape != shape) {
          mlir::emitError(param.getLoc()) << "tensor '" << name << "' in '" << path << "' is "
                            << rt::dtypeName(t->dtype) << shapeStr(t->shape) << ", but "
                            << param.getWeightType() << " needs "
                            << rt::dtypeName(c.dtype) << shapeStr(shape);
          ok = false;
        }
      }
    }
    int64_t undeclared = 0;
    std::string firstUndeclared;
    for (const rt::TensorView &t : file->tensors()) {
      if (expected.contains(t.name))
        continue;
      if (undeclared++ == 0)
        firstUndeclared = t.name;
    }
    if (undeclared)
      mlir::emitWarning(module.getLoc()) << "'" << path << "' holds " << undeclared
                           << " tensor(s) no parameter declares, e.g. '" << firstUndeclared
                           << "'";
    if (!ok)
      signalPassFailure();
  }
};

} // namespace
