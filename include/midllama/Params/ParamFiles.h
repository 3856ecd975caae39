//===- ParamFiles.h - A module's parameter file --------------------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Passes that read or rewrite weights, the artifact writer and calibration find the
// module's parameter file the same way (which is why this lives in lib/, below both):
// `llm.param_file` is relative to the directory of the IR file (taken from the module's
// location), and a pass option may override it.
//
// One rule for the files passes write (docs/files.md): a relative `output=` is resolved
// like `llm.param_file`, against the directory of the IR file being read. While a pipeline
// runs, `llm.param_file` holds the written file's absolute path (later passes find it
// wherever the IR goes); the tool that writes the IR then records it relative to the
// directory of the IR file it writes (rebaseParamFile), so the pair can be moved together.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_PARAMS_PARAMFILES_H
#define MIDLLAMA_PARAMS_PARAMFILES_H

#include "mlir/IR/BuiltinOps.h"
#include "runtime/params/ParamFile.h"

#include <memory>
#include <string>
#include <vector>

namespace midllama {

/// `path` resolved against the directory of the file `module` was parsed from (unchanged if
/// absolute; against the current directory if the module has no file location), made
/// absolute.
std::string resolveAgainstModule(mlir::ModuleOp module, llvm::StringRef path);

/// Checks, before a pass does any work, that it may write `output` (resolved as above):
/// rt::checkOutputPath's rules, and not the module's own IR or parameter file. Returns false
/// with `error` ("output '...' ...": the caller names the pass) otherwise.
bool checkPassOutput(mlir::ModuleOp module, llvm::StringRef output, std::string &error);

/// Points `llm.param_file` at `absolutePath`, the file a pass has just written.
void setModuleParamFile(mlir::ModuleOp module, llvm::StringRef absolutePath);

/// Rewrites an absolute `llm.param_file` relative to the directory of `irPath`, the IR file
/// about to be written ("-": the current directory), when the parameter file is inside it;
/// otherwise it stays absolute.
void rebaseParamFile(mlir::ModuleOp module, llvm::StringRef irPath);

/// Whether some parameter of `module` is stored in a parameter file (not every one given
/// inline, as small test modules may): only then is there a file to open.
bool hasStoredParams(mlir::ModuleOp module);

/// Opens `override`, or else the module's `llm.param_file`. Returns null and sets `error`
/// (naming the file) on failure, and also when there is no file to open. With
/// `checkDeclared`, the file must also hold every component tensor of every declared
/// parameter with the dtype and shape its !llm.weight type implies (the first problem is
/// the error): a pass must not quantize F32 bytes the IR calls f16, nor the compiler pack
/// int4 codes for a type that says 8 bits.
std::unique_ptr<rt::ParamFile> openModuleParams(mlir::ModuleOp module,
                                                llvm::StringRef override,
                                                std::string &error,
                                                bool checkDeclared = true);

/// One line per component tensor of `param` (an llm.param without an inline value) that
/// `file` lacks or holds with another dtype or shape than its type implies, each naming
/// the parameter, the tensor, both dtypes and shapes, and the file. --llm-verify-params
/// reports them all; openModuleParams refuses the first.
void declaredTensorProblems(mlir::Operation *param, const rt::ParamFile &file,
                            std::vector<std::string> &problems);

/// The name under which `param`'s tensors are stored in the module's parameter file: its
/// `llm.stored_as` when it was renamed since (--llm-name-weights), else its own.
std::string storedName(mlir::Operation *param);

} // namespace midllama

#endif // MIDLLAMA_PARAMS_PARAMFILES_H
