//===- DeviceProbeTest.cpp - GPU probe and its fallback reason ------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/DeviceProbe.h"

#include <gtest/gtest.h>

namespace {

TEST(DeviceProbeTest, ExplainsWhyThereIsNoGpu) {
  midllama::rt::GpuProbe probe = midllama::rt::probeGpu();
  if (probe.usable) {
    EXPECT_TRUE(probe.reason.empty());
    return;
  }
  // The CPU fallback prints this reason, so it must say something.
  EXPECT_FALSE(probe.reason.empty());
}

TEST(DeviceProbeTest, UsableGpuRunsOurKernel) {
  midllama::rt::GpuProbe probe = midllama::rt::probeGpu();
  if (!probe.usable)
    GTEST_SKIP() << "no usable GPU: " << probe.reason;
  EXPECT_GE(probe.deviceCount, 1);
  EXPECT_FALSE(probe.name.empty());
  EXPECT_GE(probe.computeMajor, 7);
  EXPECT_GT(probe.totalMemoryBytes, 0u);
}

} // namespace
