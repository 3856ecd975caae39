//===- ParamFiles.cpp - A module's parameter file -------------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Params/ParamFiles.h"

#include "midllama/Dialect/LLM/IR/LLMDialect.h"
#include "midllama/Dialect/LLM/IR/LLMOps.h"
#include "midllama/Dialect/LLM/IR/WeightLayout.h"
#include "mlir/IR/SymbolTable.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "runtime/support/InputFile.h"
#include "runtime/support/OutputFile.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

std::string midllama::resolveAgainstModule(ModuleOp module, llvm::StringRef path) {
  llvm::SmallString<256> full;
  if (!path.empty() && !llvm::sys::path::is_absolute(path))
    if (auto loc = dyn_cast<FileLineColLoc>(module.getLoc());
        loc && loc.getFilename().getValue() != "-" && loc.getFilename().getValue() != "<stdin>") {
      full = loc.getFilename().getValue();
      llvm::sys::path::remove_filename(full);
    }
  llvm::sys::path::append(full, path);
  if (!path.empty())
    llvm::sys::fs::make_absolute(full);
  llvm::sys::path::remove_dots(full, /*remove_dot_dot=*/true);
  return std::string(full);
}

bool midllama::checkPassOutput(ModuleOp module, llvm::StringRef output, std::string &error) {
  auto fail = [&](const std::string &message) {
    error = message;
    return false;
  };
  if (output.empty())
    return fail("output (the parameter file to write) is required");
  std::string path = resolveAgainstModule(module, output);
  std::string why;
  if (!rt::checkOutputPath(path, "output", why))
    return fail(why);
  rt::FileIdentity target = rt::identify(path);
  if (!target.exists)
    return true;
  // The IR will refer to it and the compiler map it: a device or pipe would lose the bytes.
  bool exists = false;
  if (std::string kind = rt::describeNonRegular(path, exists); !kind.empty())
    return fail("output '" + output.str() + "' is " + kind +
                "; a parameter file must be a regular file (the IR refers to it)");
  if (auto loc = dyn_cast<FileLineColLoc>(module.getLoc()))
    if (rt::identify(loc.getFilename().str()) == target)
      return fail("output '" + output.str() + "' is the IR file being read; write to another file");
  if (auto attr = module->getAttrOfType<StringAttr>(llm::LLMDialect::kParamFileAttrName))
    if (rt::identify(resolveAgainstModule(module, attr.getValue())) == target)
      return fail("output '" + output.str() +
                  "' is the parameter file the module reads; write to another file");
  return true;
}

void midllama::setModuleParamFile(ModuleOp module, llvm::StringRef absolutePath) {
  module->setAttr(llm::LLMDialect::kParamFileAttrName,
                  StringAttr::get(module.getContext(), absolutePath));
}

void midllama::rebaseParamFile(ModuleOp module, llvm::StringRef irPath) {
  auto attr = module->getAttrOfType<StringAttr>(llm::LLMDialect::kParamFileAttrName);
  if (!attr || !llvm::sys::path::is_absolute(attr.getValue()))
    return;
  llvm::SmallString<256> dir(irPath == "-" ? llvm::StringRef(".") : irPath);
  llvm::sys::fs::make_absolute(dir);
  if (irPath != "-")
    llvm::sys::path::remove_filename(dir);
  llvm::sys::path::remove_dots(dir, /*remove_dot_dot=*/true);
  llvm::StringRef params = attr.getValue();
  std::string prefix = std::string(dir) + "/";
  if (params.starts_with(prefix))
    module->setAttr(llm::LLMDialect::kParamFileAttrName,
                    StringAttr::get(module.getContext(), params.drop_front(prefix.size())));
}

bool midllama::hasStoredParams(ModuleOp module) {
  return llvm::any_of(module.getOps<llm::ParamOp>(),
                      [](llm::ParamOp p) { return !p.getValue(); });
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
