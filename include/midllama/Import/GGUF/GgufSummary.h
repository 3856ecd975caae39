//===- GgufSummary.h - What a GGUF file holds, in words ---------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_IMPORT_GGUF_GGUFSUMMARY_H
#define MIDLLAMA_IMPORT_GGUF_GGUFSUMMARY_H

#include "midllama/Import/GGUF/GgufFile.h"

#include <string>

namespace midllama::gguf {

/// The header, every metadata entry (strings past 64 characters and arrays past 6
/// elements shortened, control characters escaped) and every tensor (type, ggml shape,
/// bytes, data offset), one per line: what `midllama-import --list` prints.
std::string summarize(const GgufFile &file);

} // namespace midllama::gguf

#endif // MIDLLAMA_IMPORT_GGUF_GGUFSUMMARY_H
