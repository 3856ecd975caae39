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

std::string shapeStr(llvm::ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

/// Checks that a pruned weight's stored tensors keep its declared pattern: N:M positions
/// strictly increasing below M in every run; a bitmask with `nnz` bits set and row offsets
/// that count them; dense values with at most `nnz` non-zeros. Empty if they do.
std::string sparsityViolation(ParamOp param, const rt::ParamFile &file) {
  WeightType type = param.getWeightType();
  Attribute sparsity = type.getSparsity();
  if (!sparsity || type.getRank() != 2)
    return "";
  std::string name = storedName(param);
  int64_t rows = type.getShape()[0], k = type.getShape()[1];
  std::string declared;
  llvm::raw_string_ostream(declared) << sparsity;
  if (auto nm = dyn_cast<NMSparsityAttr>(sparsity)) {
    const rt::TensorView *idx = file.find(name + ".indices");
    if (!idx)
      return "";
    int64_t bits = llvm::Log2_64_Ceil(nm.getM()), perRow = k / nm.getM() * nm.getN();
    int64_t rowBytes = idx->shape.size() == 2 ? idx->shape[1] : 0;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0, prev = -1; i < perRow; ++i) {
        int64_t pos = 0;
        for (int64_t b = 0; b < bits; ++b) {
          int64_t bit = i * bits + b;
          pos |= int64_t(idx->data[r * rowBytes + (bit >> 3)] >> (bit & 7) & 1) << b;
        }
        if (i % nm.getN() == 0)
          prev = -1;
        if (pos <= prev || pos >= nm.getM())
          return "row " + std::to_string(r) + " breaks its declared " + declared +
                 ": the positions of run " + std::to_string(i / nm.getN()) +
                 " are not distinct and below M";
        prev = pos;
      }
    return "";
  }
  auto us = dyn_cast<UnstructuredSparsityAttr>(sparsity);
  if (!us)
    return "";
  if (const rt::TensorView *mask = file.find(name + ".mask")) {
    const rt::TensorView *ptr = file.find(name + ".row_ptr");
    int64_t maskBytes = (k + 7) / 8, total = 0;
    for (int64_t r = 0; r < rows; ++r) {
      int32_t begin, end;
      std::memcpy(&begin, ptr->data + 4 * r, 4);
      std::memcpy(&end, ptr->data + 4 * (r + 1), 4);
      int64_t count = 0;
      for (int64_t c = 0; c < k; ++c)
        count += mask->data[r * maskBytes + (c >> 3)] >> (c & 7) & 1;
      if (begin != total || end - begin != count)
        return "row " + std::to_string(r) + "'s offsets do not count its mask bits";
      total += count;
    }
    if (total != us.getNnz())
      return "breaks its declared " + declared + ": its mask keeps " + std::to_string(total);
    return "";
  }
  if (type.getFormat())
    return "";
  const rt::TensorView *t = file.find(name);
  if (!t)
    return "";
  int64_t nonzero = 0, elem = rt::dtypeSize(t->dtype);
  for (int64_t i = 0; i < t->numElements(); ++i) {
    bool zero = true;
    for (int64_t b = 0; b < elem; ++b) // +0 only; -0 counts as a value
      zero &= t->data[i * elem + b] == 0;
    nonzero += !zero;
  }
  if (nonzero > us.getNnz())
    return "breaks its declared " + declared + ": it holds " + std::to_string(nonzero) +
           " non-zero values";
  return "";
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
        llvm::none_of(module.getOps<ParamOp>(), [](ParamOp p) { return !p.getValue(); }))
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
