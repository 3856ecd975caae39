//===- GgufFuzzer.cpp - libFuzzer target for the GGUF reader ---------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Parses each input as a GGUF file (lib/Import/GGUF/GgufFile.cpp) and, when it is
// accepted, reads every byte each tensor is said to occupy and summarizes the metadata, so
// that AddressSanitizer sees any range the reader let through that the input does not
// hold. It must never crash, hang or leak; a refusal must say why (an empty error traps).
// Seeds: the files of test/Import/GGUF/make-gguf.py (test/fuzz/gguf.test).
//
//===----------------------------------------------------------------------===//

#include "midllama/Import/GGUF/GgufFile.h"
#include "midllama/Import/GGUF/GgufSummary.h"

#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string error;
  auto file = midllama::gguf::GgufFile::parse(data, int64_t(size), "fuzz.gguf", error);
  if (!file) {
    if (error.empty())
      __builtin_trap(); // every refusal must say why
    return 0;
  }
  unsigned sum = 0;
  for (const midllama::gguf::TensorInfo &t : file->tensors())
    for (int64_t i = 0; i < t.numBytes; ++i)
      sum += t.data[i];
  static volatile unsigned sink; // the reads must happen
  sink = sum + unsigned(midllama::gguf::summarize(*file).size());
  return 0;
}
