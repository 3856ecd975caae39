//===- ParamFiles.cpp - A module's parameter file, for passes -------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Transforms/ParamFiles.h"

#include "midllama/Dialect/LLM/IR/LLMDialect.h"
#include "midllama/Dialect/LLM/IR/LLMOps.h"
#include "midllama/Dialect/LLM/IR/WeightLayout.h"
#include "mlir/IR/SymbolTable.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

std::string midllama::resolveAgainstModule(ModuleOp module, llvm::StringRef path) {
  if (path.empty() || llvm::sys::path::is_absolute(path))
    return path.str();
  auto loc = dyn_cast<FileLineColLoc>(module.getLoc());
  if (!loc)
    return path.str();
  llvm::SmallString<256> full(loc.getFilename().getValue());
  llvm::sys::path::remove_filename(full);
  llvm::sys::path::append(full, path);
  return std::string(full);
}

std::unique_ptr<midllama::rt::ParamFile>
midllama::openModuleParams(ModuleOp module, llvm::StringRef override, std::string &error,
                           bool checkDeclared) {
  std::string path = override.str();
  if (path.empty()) {
    auto attr = module->getAttrOfType<StringAttr>(llm::LLMDialect::kParamFileAttrName);
    if (!attr) {
      error = "the module has no '" + llm::LLMDialect::kParamFileAttrName.str() +
              "' attribute (or pass param-file=PATH)";
      return nullptr;
    }
    path = resolveAgainstModule(module, attr.getValue());
  }
  std::unique_ptr<rt::ParamFile> file = rt::ParamFile::open(path, error);
  if (!file || !checkDeclared)
    return file;
  std::vector<std::string> problems;
  for (llm::ParamOp param : module.getOps<llm::ParamOp>()) {
    declaredTensorProblems(param, *file, problems);
    if (!problems.empty()) {
      error = problems.front() + " (--llm-verify-params lists every problem)";
      return nullptr;
    }
  }
  return file;
}

namespace {
std::string shapeString(llvm::ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}
} // namespace

void midllama::declaredTensorProblems(Operation *op, const rt::ParamFile &file,
                                      std::vector<std::string> &problems) {
  auto param = dyn_cast<llm::ParamOp>(op);
  if (!param || param.getValue())
    return;
  std::string typeText;
  llvm::raw_string_ostream(typeText) << param.getWeightType();
  for (const llm::WeightComponent &c : llm::getWeightLayout(param.getWeightType()).components) {
    std::string name = storedName(param) + c.suffix;
    const rt::TensorView *t = file.find(name);
    std::string prefix = "parameter '" + param.getSymName().str() + "': tensor '" + name + "'";
    if (!t) {
      problems.push_back(prefix + " is missing from '" + file.path() + "'");
      continue;
    }
    std::vector<int64_t> shape(c.shape.begin(), c.shape.end());
    if (t->dtype != c.dtype || t->shape != shape)
      problems.push_back(prefix + " in '" + file.path() + "' is " + std::string(rt::dtypeName(t->dtype)) +
                         shapeString(t->shape) + ", but " + typeText + " needs " +
                         std::string(rt::dtypeName(c.dtype)) + shapeString(shape));
  }
}

std::string midllama::storedName(mlir::Operation *param) {
  if (auto stored = param->getAttrOfType<mlir::StringAttr>(llm::LLMDialect::kStoredAsAttrName))
    return stored.str();
  return mlir::SymbolTable::getSymbolName(param).str();
}
