//===- TokenizerDiscovery.cpp - Find the tokenizer a module goes with -----===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Exports put the tokenizer beside the model; our IR and parameter files are written
// elsewhere, so the search follows the module back to where it came from. Shared by
// midllama-compile (which embeds it) and calibration (which tokenizes text with it).
//
//===----------------------------------------------------------------------===//

#include "midllama/Dialect/LLM/IR/LLMDialect.h"
#include "midllama/Target/Artifact.h"
#include "midllama/Params/ParamFiles.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

using namespace llvm;

/// A tokenizer in the folder of `path`, if there is one.
static std::string tokenizerBeside(StringRef path) {
  if (path.empty())
    return "";
  SmallString<256> dir(path);
  sys::path::remove_filename(dir);
  for (const char *name : {"tokenizer.json", "tokenizer.model", "tokenizer.bin", "tok512.bin"}) {
    SmallString<256> candidate(dir);
    sys::path::append(candidate, name);
    if (sys::fs::exists(candidate))
      return std::string(candidate);
  }
  return "";
}

std::string midllama::findTokenizerFor(mlir::ModuleOp module, StringRef irPath) {
  if (std::string found = tokenizerBeside(irPath); !found.empty())
    return found;
  if (auto file = module->getAttrOfType<mlir::StringAttr>(llm::LLMDialect::kParamFileAttrName))
    if (std::string found = tokenizerBeside(resolveAgainstModule(module, file.getValue()));
        !found.empty())
      return found;
  if (auto source = module->getAttrOfType<mlir::StringAttr>(llm::LLMDialect::kSourceAttrName))
    return tokenizerBeside(source.getValue());
  return "";
}
