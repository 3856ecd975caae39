//===- midllama-opt.cpp - Run midllama passes and pipelines on llm IR -----===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// A thin MlirOptMain over InitAll. One addition: `-o FILE` is written to a temporary file in
// the same directory and renamed over FILE only on success, so a failing run never truncates
// or deletes what was there (including the input, when it is also the output).
//
//===----------------------------------------------------------------------===//

#include "midllama/InitAll.h"
#include "midllama/Support/FatalErrors.h"
#include "midllama/Support/InputGuard.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

int main(int argc, char **argv) {
  midllama::installFatalExceptionHandler("midllama-opt");
  mlir::DialectRegistry registry;
  midllama::registerAllDialects(registry);
  midllama::registerAllPasses();

  auto [inputFilename, outputFilename] = mlir::registerAndParseCLIOptions(
      argc, argv, "midllama-opt: passes and pipelines of the midllama compiler", registry);

  // Input the MLIR parser would abort on instead of reporting (midllama/Support/InputGuard.h).
  if (std::string bad = midllama::checkMLIRInputFile(inputFilename); !bad.empty()) {
    llvm::errs() << "midllama-opt: " << bad << "\n";
    return EXIT_FAILURE;
  }

  if (outputFilename == "-")
    return mlir::asMainReturnCode(
        mlir::MlirOptMain(argc, argv, inputFilename, outputFilename, registry));

  llvm::SmallString<256> tmpPath;
  int fd = -1;
  if (std::error_code ec = llvm::sys::fs::createUniqueFile(
          outputFilename + ".tmp-%%%%%%", fd, tmpPath)) {
    llvm::errs() << "midllama-opt: cannot create a temporary file next to '"
                 << outputFilename << "': " << ec.message() << "\n";
    return EXIT_FAILURE;
  }
  llvm::sys::fs::closeFile(fd);
  mlir::LogicalResult result =
      mlir::MlirOptMain(argc, argv, inputFilename, tmpPath, registry);
  if (mlir::failed(result)) {
    llvm::sys::fs::remove(tmpPath);
    return EXIT_FAILURE;
  }
  if (std::error_code ec = llvm::sys::fs::rename(tmpPath, outputFilename)) {
    llvm::errs() << "midllama-opt: cannot write '" << outputFilename
                 << "': " << ec.message() << "\n";
    llvm::sys::fs::remove(tmpPath);
    return EXIT_FAILURE;
  }
  return EXIT_SUCCESS;
}
