//===- ParamFiles.cpp - A module's parameter file, for passes -------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Transforms/ParamFiles.h"

#include "midllama/Dialect/LLM/IR/LLMDialect.h"
#include "mlir/IR/SymbolTable.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "runtime/support/InputFile.h"
#include "runtime/support/OutputFile.h"

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

std::unique_ptr<midllama::rt::ParamFile>
midllama::openModuleParams(ModuleOp module, llvm::StringRef override, std::string &error) {
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
  return rt::ParamFile::open(path, error);
}

std::string midllama::storedName(mlir::Operation *param) {
  if (auto stored = param->getAttrOfType<mlir::StringAttr>(llm::LLMDialect::kStoredAsAttrName))
    return stored.str();
  return mlir::SymbolTable::getSymbolName(param).str();
}
