//===- CalibrationData.h - Token samples for calibration --------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Calibration reads `samples` windows of `length` tokens from a text file (tokenized whole
// with the model's tokenizer, no BOS, as the perplexity protocol does) or from a token file
// (`.tokens`: token ids separated by white space). Window starts are drawn uniformly with a
// seeded SplitMix64, so a seed gives the same samples on every machine (std::
// uniform_int_distribution would not).
//
// Named calibration sets: a bare name (letters, digits, '-') that is not a file is the
// set data/NAME/calib.txt of the project's data folder (MIDLLAMA_DATA_DIR in the environment,
// else the source tree's data/ this was built from): `calib=wikitext2-train` (general
// English, for general-domain models) or `calib=tinystories` (stories260K's domain).
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_CALIBRATE_CALIBRATIONDATA_H
#define MIDLLAMA_CALIBRATE_CALIBRATIONDATA_H

#include "runtime/tokenizer/Tokenizer.h"

#include <cstdint>
#include <string>
#include <vector>

namespace midllama::calib {

/// The file `calib` names: itself, or a named set's calib.txt. False with `error` when a
/// bare name is neither a file nor a set (the message lists the sets there are).
bool resolveCalibrationData(const std::string &calib, std::string &path, std::string &error);

/// Reads the samples (from `path` as resolveCalibrationData resolves it); false with `error` (naming the file) when it is missing or empty, has
/// fewer tokens than one sample, or is text without a tokenizer.
bool sampleCalibrationTokens(const std::string &path, const rt::Tokenizer *tokenizer,
                             int64_t vocabSize, int64_t samples, int64_t length, uint64_t seed,
                             std::vector<std::vector<int32_t>> &out, std::string &error);

} // namespace midllama::calib

#endif // MIDLLAMA_CALIBRATE_CALIBRATIONDATA_H
