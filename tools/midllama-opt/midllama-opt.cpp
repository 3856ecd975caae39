//===- midllama-opt.cpp - Run midllama passes and pipelines on llm IR -----===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// A thin MlirOptMain over InitAll, with midllama's file discipline (runtime/support/
// InputFile.h, OutputFile.h) around it:
//   - the input must be a regular file (or stdin), of bounded size;
//   - `-o FILE` is written when the IR is printed, as an OutputFile (a regular file replaced
//     atomically, a device written in place, never an input of this run);
//   - the whole run is one transaction: the files its passes write (`output=`) and the IR
//     replace their paths together at the end, or, when anything fails, none does;
//   - `llm.param_file` in the printed IR is relative to the directory of `-o`.
//
//===----------------------------------------------------------------------===//

#include "midllama/InitAll.h"
#include "midllama/Params/ParamFiles.h"
#include "runtime/support/InputFile.h"
#include "runtime/support/OutputFile.h"
#include "midllama/Support/FatalErrors.h"
#include "midllama/Support/InputGuard.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cerrno>
#include <cstring>
#include <unistd.h>

namespace {

llvm::cl::opt<int64_t> maxInputMB(
    "max-input-mb",
    llvm::cl::desc("Raise the size limit of every file read whole (IR, calibration text, "
                   "recipes, tokenizers) to this many MiB"),
    llvm::cl::init(0));

int fail(const std::string &message) {
  llvm::errs() << "midllama-opt: " << message << "\n";
  return EXIT_FAILURE;
}

/// Creates the output file only when the first byte is printed, so a run that fails
/// before printing leaves no temporary file, and a run killed early none either.
class LazyOutputStream : public llvm::raw_ostream {
public:
  explicit LazyOutputStream(std::string path) : path_(std::move(path)) {}
  ~LazyOutputStream() override { flush(); }

  /// Completes the file (creating it empty when nothing was printed).
  bool commit(std::string &error) {
    flush();
    if (!open())
      return (error = error_), false;
    return file_->commit(error);
  }

private:
  bool open() {
    if (!file_ && error_.empty())
      file_ = midllama::rt::OutputFile::create(path_, "-o", error_);
    return file_ != nullptr;
  }
  void write_impl(const char *ptr, size_t size) override {
    pos_ += size;
    if (open())
      file_->write(ptr, size); // a write error is reported by commit
  }
  uint64_t current_pos() const override { return pos_; }

  std::string path_, error_;
  std::unique_ptr<midllama::rt::OutputFile> file_;
  uint64_t pos_ = 0;
};

/// Records `llm.param_file` relative to the directory the IR is written to.
struct RebaseParamFilePass
    : mlir::PassWrapper<RebaseParamFilePass, mlir::OperationPass<mlir::ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(RebaseParamFilePass)
  explicit RebaseParamFilePass(std::string irPath) : irPath(std::move(irPath)) {}
  llvm::StringRef getArgument() const override { return "midllama-opt-rebase-param-file"; }
  void runOnOperation() override { midllama::rebaseParamFile(getOperation(), irPath); }
  std::string irPath;
};

/// Reads stdin up to `limit` bytes: `midllama-opt < /dev/zero` must end.
std::unique_ptr<llvm::MemoryBuffer> readStdin(int64_t limit, std::string &error) {
  std::string data;
  char chunk[1 << 16];
  while (true) {
    ssize_t n = ::read(STDIN_FILENO, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      error = std::string("standard input: ") + std::strerror(errno);
      return nullptr;
    }
    if (n == 0)
      break;
    data.append(chunk, size_t(n));
    if (int64_t(data.size()) > limit) {
      error = "standard input: more than the " + std::to_string(limit >> 20) +
              " MiB an IR file may have (raise the limit with --max-input-mb)";
      return nullptr;
    }
  }
  return llvm::MemoryBuffer::getMemBufferCopy(data, "<stdin>");
}

} // namespace

int main(int argc, char **argv) {
  midllama::installFatalExceptionHandler("midllama-opt");
  mlir::DialectRegistry registry;
  midllama::registerAllDialects(registry);
  midllama::registerAllPasses();

  auto [inputFilename, outputFilename] = mlir::registerAndParseCLIOptions(
      argc, argv, "midllama-opt: passes and pipelines of the midllama compiler", registry);
  mlir::MlirOptMainConfig config = mlir::MlirOptMainConfig::createFromCLOptions();
  // Listings read no file and write none: MLIR's own driver does them.
  if (config.shouldShowDialects() || config.shouldListPasses())
    return mlir::asMainReturnCode(
        mlir::MlirOptMain(argc, argv, inputFilename, outputFilename, registry));
  llvm::InitLLVM init(argc, argv);
  if (maxInputMB < 0)
    return fail("--max-input-mb must not be negative");
  midllama::rt::setInputLimitOverride(maxInputMB * midllama::rt::kMiB);

  midllama::rt::OutputTransaction transaction;
  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> input;
  if (inputFilename == "-") {
    input = readStdin(midllama::rt::effectiveInputLimit(midllama::rt::kIRInputLimit), error);
  } else if (midllama::rt::checkInputFile(inputFilename, "input IR",
                                          midllama::rt::kIRInputLimit, error)) {
    auto buffer = llvm::MemoryBuffer::getFile(inputFilename, /*IsText=*/true);
    if (buffer)
      input = std::move(*buffer);
    else
      error = "input IR '" + inputFilename + "': " + buffer.getError().message();
  }
  if (!input)
    return fail(error);
  // Input the MLIR parser would abort on instead of reporting (midllama/Support/InputGuard.h).
  if (std::string bad = midllama::findOversizedResultNumber(input->getBuffer(),
                                                             input->getBufferIdentifier());
      !bad.empty())
    return fail(bad);
  if (outputFilename != "-" && !midllama::rt::checkOutputPath(outputFilename, "-o", error,
                                                                  /*declare=*/true))
    return fail(error);

  // The pipeline as given, then the one step that depends on where the IR goes.
  mlir::MlirOptMainConfig given = config;
  config.setPassPipelineSetupFn([given, out = outputFilename](mlir::PassManager &pm) {
    if (mlir::failed(given.setupPassPipeline(pm)))
      return mlir::failure();
    pm.addPass(std::make_unique<RebaseParamFilePass>(out));
    return mlir::success();
  });

  if (outputFilename == "-") {
    if (mlir::failed(mlir::MlirOptMain(llvm::outs(), std::move(input), registry, config)))
      return EXIT_FAILURE;
    llvm::outs().flush();
  } else {
    LazyOutputStream out(outputFilename);
    if (mlir::failed(mlir::MlirOptMain(out, std::move(input), registry, config)))
      return EXIT_FAILURE; // the transaction's destructor discards every output
    if (!out.commit(error))
      return fail(error);
  }
  if (!transaction.commit(error))
    return fail(error);
  return EXIT_SUCCESS;
}
