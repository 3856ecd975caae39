//===- ZeroedBufferTest.cpp - Zero-filled buffers that cost what is touched -===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// clear() must leave every element zero (the partial pages at either end too) and hand the
// whole pages back: calibration relies on it to hold one layer's KV cache at a time.
//
//===----------------------------------------------------------------------===//

#include "runtime/support/ZeroedBuffer.h"

#include <gtest/gtest.h>

#include <sys/mman.h>
#include <unistd.h>

#include <vector>

using midllama::rt::ZeroedBuffer;

namespace {

/// Pages of [data, data + bytes) resident in this process (mincore on anonymous memory).
size_t residentPages(const void *data, size_t bytes) {
  const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  uintptr_t first = uintptr_t(data) / page * page;
  uintptr_t end = uintptr_t(data) + bytes;
  std::vector<unsigned char> in((end - first + page - 1) / page);
  if (mincore(reinterpret_cast<void *>(first), end - first, in.data()) != 0)
    return SIZE_MAX;
  size_t n = 0;
  for (unsigned char c : in)
    n += c & 1;
  return n;
}

TEST(ZeroedBufferTest, ClearZeroesEveryElementAndHandsThePagesBack) {
  // 3 MB and a bit: larger than malloc's mmap threshold, with a partial last page.
  const size_t count = 3 * 1024 * 1024 / 4 + 123;
  ZeroedBuffer buffer(count);
  for (size_t i = 0; i < count; ++i)
    EXPECT_EQ(buffer.data()[i], 0.0f) << i;
  for (size_t i = 0; i < count; ++i)
    buffer.data()[i] = float(i % 97) + 1.0f;
  const size_t bytes = count * sizeof(float);
  const size_t pages = bytes / size_t(sysconf(_SC_PAGESIZE));
  ASSERT_GE(residentPages(buffer.data(), bytes), pages);
  buffer.clear();
  // Before reading it back: a read maps the kernel's zero page, which mincore counts.
  EXPECT_LE(residentPages(buffer.data(), bytes), 2u); // at most the two partial ends
  for (size_t i = 0; i < count; ++i)
    ASSERT_EQ(buffer.data()[i], 0.0f) << i;
  buffer.data()[count - 1] = 5.0f; // still usable
  EXPECT_EQ(buffer.data()[count - 1], 5.0f);
}

TEST(ZeroedBufferTest, ClearOfASmallBufferZeroesIt) {
  ZeroedBuffer buffer(10); // within one page: nothing to hand back, only zeroed
  for (size_t i = 0; i < 10; ++i)
    buffer.data()[i] = 1.0f;
  buffer.clear();
  for (size_t i = 0; i < 10; ++i)
    EXPECT_EQ(buffer.data()[i], 0.0f);
}

} // namespace
