//===- OptionChecks.h - Pass options checked before the module is touched -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// A bad pass option (bits=9, pattern=4:0, sparsity=nan, an empty output=) must be refused
// as one line naming the pass and the option, before any IR is rewritten or any file read.
// MLIR's hook for that is Pass::initializeOptions, which the pass registry calls when it
// parses `--pass="..."` or a textual pipeline; passes built in C++ (recipes, pipelines)
// never go through it, so Pass::initialize runs the same check before the first operation.
// Each pass states its rules once, in `std::string checkOptions() const`, with an
// OptionChecker; CheckedOptionsPass wires that function into both hooks.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_PASSES_TRANSFORMS_OPTIONCHECKS_H
#define MIDLLAMA_PASSES_TRANSFORMS_OPTIONCHECKS_H

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Location.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/Pass.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <string>

namespace midllama {

/// Collects the first broken rule of a pass's options as "<pass>: <option> must ... (got
/// <value>)". Every rule after the first failure is skipped.
class OptionChecker {
public:
  explicit OptionChecker(llvm::StringRef pass) : pass(pass.str()) {}

  /// An integer in [lo, hi].
  OptionChecker &inRange(llvm::StringRef option, int64_t value, int64_t lo, int64_t hi);
  /// An integer at least `lo`.
  OptionChecker &atLeast(llvm::StringRef option, int64_t value, int64_t lo);
  /// A finite real in the interval from lo to hi, each end open or closed.
  OptionChecker &inInterval(llvm::StringRef option, double value, double lo, bool loOpen,
                            double hi, bool hiOpen);
  /// A finite real at least `lo`.
  OptionChecker &atLeast(llvm::StringRef option, double value, double lo);
  /// A string that may not be empty (required, or given as `option=`): `what` says what it
  /// names ("the parameter file to write").
  OptionChecker &nonEmpty(llvm::StringRef option, const std::string &value,
                          llvm::StringRef what);
  /// One of `allowed`.
  OptionChecker &oneOf(llvm::StringRef option, const std::string &value,
                       llvm::ArrayRef<llvm::StringRef> allowed);
  /// An ECMAScript regular expression std::regex accepts (empty allowed).
  OptionChecker &regex(llvm::StringRef option, const std::string &value);
  /// A string option that may be left out but not given empty (`tokenizer=`); `given`:
  /// CheckedOptionsPass::given.
  OptionChecker &notGivenEmpty(llvm::StringRef option, const std::string &value, bool given,
                               llvm::StringRef what) {
    if (given && value.empty())
      nonEmpty(option, "", what);
    return *this;
  }
  /// What every calibrated pass shares: `calib` required, at least one window of at least
  /// two tokens, a batch of at least one window. The memory the windows need is checked
  /// once the model's width is known (lib/Calibrate).
  OptionChecker &calibration(const std::string &calib, int64_t samples, int64_t seqLen,
                             int64_t batch);
  /// A rule of its own: `why` is the message after "<pass>: ".
  OptionChecker &require(bool ok, const std::string &why);

  bool ok() const { return error.empty(); }
  /// The message of the first broken rule, or empty.
  const std::string &message() const { return error; }

private:
  void fail(llvm::StringRef option, const std::string &rule, const std::string &got);
  std::string pass, error;
};

/// `value` as an option would print it (shortest round-trip form; nan, inf).
std::string formatOptionValue(double value);

/// Hooks `Derived::checkOptions()` into the pass's option parsing (registry and textual
/// pipelines: the error goes to MLIR's option error handler) and into Pass::initialize (passes
/// built in C++: a diagnostic without an operation, so no IR is printed with it).
template <typename Derived, template <typename> class GeneratedBase>
struct CheckedOptionsPass : GeneratedBase<Derived> {
  using PassBase = GeneratedBase<Derived>;
  using PassBase::PassBase;

  llvm::LogicalResult initializeOptions(
      llvm::StringRef options,
      llvm::function_ref<llvm::LogicalResult(const llvm::Twine &)> errorHandler) override {
    if (mlir::failed(PassBase::initializeOptions(options, errorHandler)))
      return mlir::failure();
    fromText = true;
    std::string bad = static_cast<const Derived *>(this)->checkOptions();
    return bad.empty() ? mlir::success() : errorHandler(bad);
  }

  /// Whether `option` was written in the pass's textual options (`sparsity=0.7`). Passes
  /// built from an options struct mark every option as set, so only text can tell.
  template <typename Option> bool given(const Option &option) const {
    return fromText && option.hasValue();
  }

  /// `bits` and `group-size` as AffineOptions (Passes.td) declares them.
  OptionChecker &checkAffine(OptionChecker &c) const {
    return c.inRange("bits", this->bits, 2, 8).atLeast("group-size", int64_t(this->groupSize), 1);
  }

  /// `include`, `exclude`, `output` as WeightSelectionOptions (Passes.td) declares them:
  /// regular expressions std::regex accepts, and a parameter file to write.
  OptionChecker &checkWeightSelection(OptionChecker &c) const {
    return c.regex("include", this->include)
        .regex("exclude", this->exclude)
        .nonEmpty("output", this->output, "the parameter file to write");
  }

  /// `calib` ... `tokenizer` as CalibrationOptions (Passes.td) declares them.
  OptionChecker &checkCalibration(OptionChecker &c) const {
    return c.calibration(this->calib, this->samples, this->seqLen, this->calibBatch)
        .notGivenEmpty("tokenizer", this->tokenizer, given(this->tokenizer),
                       "the tokenizer of text calibration data");
  }

  /// Reports `message` (one line, naming the pass) and fails the pass. The diagnostic is at
  /// the module's location with no operation attached: it would print the whole module.
  void failPass(const llvm::Twine &message) {
    mlir::emitError(this->getOperation().getLoc()) << message;
    this->signalPassFailure();
  }

  llvm::LogicalResult initialize(mlir::MLIRContext *context) override {
    std::string bad = static_cast<const Derived *>(this)->checkOptions();
    if (bad.empty())
      return mlir::success();
    mlir::emitError(mlir::UnknownLoc::get(context)) << bad;
    return mlir::failure();
  }

private:
  bool fromText = false;
};

} // namespace midllama

#endif // MIDLLAMA_PASSES_TRANSFORMS_OPTIONCHECKS_H
