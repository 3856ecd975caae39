//===- HugePageArenaTest.cpp - Tiled weights' memory on huge pages ---------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The loader tiles weights into a HugePageArena (Model.cpp): pieces must be zeroed, 64-byte
// aligned and disjoint, pieces larger than a chunk must work, and where the system honours
// MADV_HUGEPAGE a piece's memory must be on huge pages once touched (that is the point:
// decode streams it; SmolLM2 Q8_0 decode 96-99 -> 127-142 tok/s on this VM).
//
//===----------------------------------------------------------------------===//

#include "runtime/support/HugePageArena.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

using midllama::rt::HugePageArena;

namespace {

TEST(HugePageArenaTest, PiecesAreZeroedAlignedAndDisjoint) {
  HugePageArena arena;
  std::vector<std::pair<uint8_t *, size_t>> pieces;
  // Small ones sharing a chunk, one larger than a chunk (32 MiB), then small ones again.
  for (size_t bytes : {size_t(1), size_t(100), size_t(4096), size_t(40) << 20, size_t(777),
                       size_t(3) << 20})
    pieces.emplace_back(arena.allocate(bytes), bytes);
  for (auto [p, bytes] : pieces) {
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
    EXPECT_TRUE(std::all_of(p, p + bytes, [](uint8_t b) { return b == 0; })) << bytes;
    std::memset(p, 0xab, bytes); // writable, all of it
  }
  std::sort(pieces.begin(), pieces.end());
  for (size_t i = 0; i + 1 < pieces.size(); ++i)
    EXPECT_LE(pieces[i].first + pieces[i].second, pieces[i + 1].first);
  EXPECT_GE(arena.allocatedBytes(), (size_t(43) << 20) + 4096 + 100 + 777 + 1);
}

/// AnonHugePages of this process, in kB (/proc/self/smaps_rollup), -1 if unreadable.
long anonHugeKiB() {
  std::ifstream f("/proc/self/smaps_rollup");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("AnonHugePages:", 0) == 0)
      return std::stol(line.substr(14));
  return -1;
}

TEST(HugePageArenaTest, TouchedMemoryIsOnHugePagesWhereTheSystemAllowsIt) {
  std::ifstream setting("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  std::getline(setting, line);
  const long before = anonHugeKiB();
  if (line.find("[never]") != std::string::npos || line.empty() || before < 0)
    GTEST_SKIP() << "transparent huge pages off or not reported here: '" << line << "'";
  HugePageArena arena;
  const size_t bytes = size_t(16) << 20;
  uint8_t *p = arena.allocate(bytes);
  ASSERT_NE(p, nullptr);
  std::memset(p, 1, bytes);
  // Fragmented physical memory may deny some huge pages: at least one 2 MiB page.
  EXPECT_GE(anonHugeKiB() - before, 2048) << "setting '" << line << "'";
}

} // namespace
