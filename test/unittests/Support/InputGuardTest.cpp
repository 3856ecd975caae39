//===- InputGuardTest.cpp - Input the MLIR parser would abort on ----------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Support/InputGuard.h"
#include "runtime/support/Memory.h"

#include <gtest/gtest.h>

#include <climits>

using namespace midllama;

namespace {

TEST(InputGuardTest, FindsAResultNumberTheParserWouldAbortOn) {
  std::string text = "func.func @f() {\n  %0:2 = \"x.op\"() : () -> (i32, i32)\n"
                     "  \"x.use\"(%0#2147483648) : (i32) -> ()\n}\n";
  EXPECT_EQ(findOversizedResultNumber(text, "in.mlir"),
            "in.mlir:3:11: result number 2147483648 of '%0' is above 1048576 (the MLIR parser "
            "would abort on it; see docs/known-limits.md)");
  // Longer than any integer type: still found, not overflowed into a small number.
  std::string huge = "%x#" + std::string(40, '9');
  EXPECT_NE(findOversizedResultNumber(huge, "in.mlir"), "");
}

TEST(InputGuardTest, LeavesOrdinaryTextAlone) {
  EXPECT_EQ(findOversizedResultNumber("%0#1 %a.b#1048576 %#5 #map = 7", "in.mlir"), "");
  // Inside a string literal or a comment it is not a use.
  EXPECT_EQ(findOversizedResultNumber("\"%0#99999999999\" // %0#99999999999\n", "in.mlir"), "");
  EXPECT_EQ(findOversizedResultNumber("\"a \\\" %0#99999999999\"", "in.mlir"), "");
}

TEST(MemoryTest, SaturatesInsteadOfOverflowing) {
  EXPECT_EQ(rt::saturatingMul(1 << 20, 1 << 20), int64_t(1) << 40);
  EXPECT_EQ(rt::saturatingMul(INT64_MAX / 2, 3), INT64_MAX);
  EXPECT_EQ(rt::saturatingMul(0, INT64_MAX), 0);
  EXPECT_EQ(rt::formatMemory(int64_t(3) << 20), "3 MiB");
  EXPECT_EQ(rt::formatMemory(int64_t(12) << 30), "12 GiB");
  EXPECT_GT(rt::availableMemoryBytes(), 0); // Linux: /proc/meminfo
}

} // namespace
