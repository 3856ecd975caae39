//===- ParamFiles.h - A module's parameter file, for passes -----*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Passes that read or rewrite weights find the module's parameter file the same way:
// `llm.param_file` is relative to the directory of the IR file (taken from the module's
// location), and a pass option may override it.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_TRANSFORMS_PARAMFILES_H
#define MIDLLAMA_TRANSFORMS_PARAMFILES_H

#include "mlir/IR/BuiltinOps.h"
#include "runtime/params/ParamFile.h"

#include <memory>
#include <string>

namespace midllama {

/// `path` resolved against the directory of the file `module` was parsed from (unchanged if
/// absolute, or if the module has no file location).
std::string resolveAgainstModule(mlir::ModuleOp module, llvm::StringRef path);

/// Opens `override`, or else the module's `llm.param_file`. Returns null and sets `error`
/// (naming the file) on failure, and also when there is no file to open.
std::unique_ptr<rt::ParamFile> openModuleParams(mlir::ModuleOp module,
                                                llvm::StringRef override,
                                                std::string &error);

/// The name under which `param`'s tensors are stored in the module's parameter file: its
/// `llm.stored_as` when it was renamed since (--llm-name-weights), else its own.
std::string storedName(mlir::Operation *param);

} // namespace midllama

#endif // MIDLLAMA_TRANSFORMS_PARAMFILES_H
