//===- Memory.h - How much memory a request may take -------------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Sizes that come from options or inputs (calibration windows, KV caches for a context,
// batches) are checked against the memory the machine has before anything is allocated:
// with overcommit, an allocation that is too large often succeeds and the process is killed
// later, when the pages are touched, with no message at all.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_SUPPORT_MEMORY_H
#define MIDLLAMA_RUNTIME_SUPPORT_MEMORY_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

namespace midllama::rt {

/// Bytes this process can still allocate and use: MemAvailable of /proc/meminfo (else free
/// physical pages), less when an address-space limit (ulimit -v) leaves less; -1 if unknown.
int64_t availableMemoryBytes();

/// a * b, or INT64_MAX when that overflows (for sizes computed from untrusted counts).
int64_t saturatingMul(int64_t a, int64_t b);

/// `bytes` for a message: "1234 MiB" (or "12 GiB" from 10 GiB up).
std::string formatMemory(int64_t bytes);

/// Hands the whole pages inside [data, data + bytes) back to the system (MADV_DONTNEED):
/// a private file mapping's pages are re-read from the file when touched again, private
/// anonymous ones read as zeros. Pages only partly inside are kept (neighbours may be in
/// use). Returns the range handed back, [first, last); empty when there is none or the
/// system refused.
std::pair<const uint8_t *, const uint8_t *> dropWholePages(const void *data, size_t bytes);

} // namespace midllama::rt

#endif // MIDLLAMA_RUNTIME_SUPPORT_MEMORY_H
