//===- ParamFiles.cpp - A module's parameter file, for passes -------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Transforms/ParamFiles.h"

#include "midllama/Dialect/LLM/IR/LLMDialect.h"
#include "mlir/IR/SymbolTable.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Path.h"

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
