//===- LLMVerifyParams.cpp - Check IR and parameter file agree ------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Model files come from elsewhere and get copied, truncated and mixed up; this pass is the
// check that the bytes on disk are the ones the IR describes, before anything reads them.
//
//===----------------------------------------------------------------------===//

#include "OptionChecks.h"

#include "midllama/Dialect/LLM/IR/LLMOps.h"
#include "midllama/Dialect/LLM/IR/WeightLayout.h"
#include "midllama/Params/ParamFiles.h"
#include "midllama/Transforms/Passes.h"
#include "runtime/params/ParamFile.h"

#include "llvm/ADT/StringSet.h"

#include <cstring>

namespace midllama {
#define GEN_PASS_DEF_LLMVERIFYPARAMS
#include "midllama/Transforms/Passes.h.inc"
} // namespace midllama

using namespace mlir;
using namespace midllama;
using namespace midllama::llm;

namespace {

/// Checks that a pruned weight's stored tensors keep its declared pattern (the pattern
/// says how: WeightSparsityAttrInterface::findStoredViolation). Empty if they do.
std::string sparsityViolation(ParamOp param, const rt::ParamFile &file) {
  WeightType type = param.getWeightType();
  WeightSparsityAttrInterface sparsity = type.getSparsity();
  if (!sparsity || type.getRank() != 2)
    return "";
  std::string name = storedName(param);
  return sparsity.findStoredViolation(
      [&](StringRef suffix) { return file.find(name + suffix.str()); }, type.getShape(),
      bool(type.getFormat()));
}

struct LLMVerifyParamsPass
    : CheckedOptionsPass<LLMVerifyParamsPass, midllama::impl::LLMVerifyParamsBase> {
  using CheckedOptionsPass::CheckedOptionsPass;

  std::string checkOptions() const {
    OptionChecker c("llm-verify-params");
    c.notGivenEmpty("param-file", paramFile, given(paramFile), "the parameter file to check");
    return c.message();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (paramFile.empty() && !module->hasAttr(LLMDialect::kParamFileAttrName) &&
        !hasStoredParams(module))
      return; // every weight is inline: nothing to check
    std::string error;
    auto file = openModuleParams(module, paramFile, error, /*checkDeclared=*/false);
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
      for (const WeightComponent &c : getWeightLayout(param.getWeightType()).components)
        expected.insert(storedName(param) + c.suffix);
      std::vector<std::string> problems;
      declaredTensorProblems(param, *file, problems);
      for (const std::string &problem : problems)
        mlir::emitError(param.getLoc()) << problem;
      ok &= problems.empty();
      if (ok)
        if (std::string why = sparsityViolation(param, *file); !why.empty()) {
          mlir::emitError(param.getLoc()) << "weight '" << param.getSymName() << "' " << why;
          ok = false;
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
