//===- OnnxModelFuzzer.cpp - libFuzzer target for the ONNX loader ---------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Feeds arbitrary bytes to OnnxModel::loadFromMemory and reads every byte of every tensor it
// accepts, so AddressSanitizer sees any out-of-bounds view. External data is looked up in
// the folder named by MIDLLAMA_FUZZ_DIR, where the runner puts a small `w.bin`.
// test/fuzz/onnx-model.test builds it with clang and runs it for a bounded time.
//
//===----------------------------------------------------------------------===//

#include "midllama/Import/ONNX/OnnxModel.h"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *dir = std::getenv("MIDLLAMA_FUZZ_DIR");
  std::string error;
  auto model = midllama::onnx_import::OnnxModel::loadFromMemory(
      llvm::StringRef(reinterpret_cast<const char *>(data), size), "fuzz.onnx",
      dir ? dir : ".", error);
  if (!model) {
    if (error.empty())
      __builtin_trap(); // every refusal must say why
    return 0;
  }
  volatile uint8_t sink = 0;
  for (const auto &tensor : model->initializers())
    for (uint8_t byte : tensor.bytes)
      sink ^= byte;
  return 0;
}
