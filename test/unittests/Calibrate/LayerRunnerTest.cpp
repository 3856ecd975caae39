//===- LayerRunnerTest.cpp - Layer by layer equals all at once ------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Cutting the program at layer boundaries and carrying only the live slots across must
// give every linear layer exactly the input a whole forward pass gives it; and a weight
// replaced in layer 0 must reach the layers after it, not the one before.
//
//===----------------------------------------------------------------------===//

#include "midllama/Calibrate/Calibrator.h"
#include "midllama/Calibrate/LayerRunner.h"
#include "midllama/Import/ONNX/OnnxToLLM.h"
#include "midllama/Pipelines/ImportOnnx.h"
#include "midllama/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <unistd.h>

using namespace midllama;

namespace {

/// KiB of the mapping holding `address` resident in this process (/proc/self/smaps), or -1.
long residentKiB(const void *address) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    unsigned long begin, end;
    char dash;
    std::istringstream header(line);
    if (line.find(':') > line.find(' ') && (header >> std::hex >> begin >> dash >> end) &&
        dash == '-') {
      inside = uintptr_t(address) >= begin && uintptr_t(address) < end;
      continue;
    }
    if (inside && line.rfind("Rss:", 0) == 0)
      return std::stol(line.substr(4));
  }
  return -1;
}

class LayerRunnerTest : public ::testing::Test {
protected:
  void SetUp() override {
    char tmpl[] = "/tmp/midllama-layer-runner-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
    std::string src = MIDLLAMA_SOURCE_DIR, error;
    registerAllDialects(registry);
    registerAllPasses(); // calibration runs midllama-lower-cpu by its registered name
    context = std::make_unique<mlir::MLIRContext>(registry);
    std::vector<std::string> unused;
    module = onnx_import::importOnnx(
        src + "/test/Import/ONNX/Inputs/stories260K-torch-fp32/model.onnx", dir + "/m.mlir",
        dir + "/m.safetensors", context.get(), unused, error);
    ASSERT_TRUE(module) << error;
    model = calib::compileForCalibration(*module, "", layerOfWeight, error);
    ASSERT_TRUE(model) << error;
    // Three samples of 24 tokens: batches of 2 leave a padded last batch.
    for (int s = 0; s < 3; ++s) {
      std::vector<int32_t> tokens;
      for (int t = 0; t < 24; ++t)
        tokens.push_back(int32_t((s * 97 + t * 31 + 5) % 512));
      samples.push_back(tokens);
    }
  }
  void TearDown() override { std::system(("rm -rf " + dir).c_str()); }

  /// The input of every linear call of a whole forward pass of sample `s`, by call.
  std::map<size_t, std::vector<float>> wholeForward(int s) {
    rt::Session session(*model, 24, 24, 1);
    std::string error;
    EXPECT_TRUE(session.setInputs(samples[size_t(s)].data(), 24, 0, error)) << error;
    std::map<size_t, std::vector<float>> inputs;
    session.runCalls(0, model->program().calls.size(), false,
                     [&](size_t call, const float *x, int64_t rows) {
                       const rt::Call &c = model->program().calls[call];
                       int64_t in = c.op == rt::OpCode::MatMul
                                        ? rt::calls::MatMul::decode(c).in
                                        : rt::calls::GateUpSwiGLU::decode(c).in;
                       int64_t k = model->program().slotWidths[size_t(in)];
                       inputs[call].assign(x, x + rows * k);
                     });
    return inputs;
  }

  std::string dir;
  mlir::DialectRegistry registry;
  std::unique_ptr<mlir::MLIRContext> context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  std::vector<int64_t> layerOfWeight;
  std::unique_ptr<rt::Model> model;
  std::vector<std::vector<int32_t>> samples;
};

TEST_F(LayerRunnerTest, EveryLayerSeesWhatTheWholeForwardPassGivesIt) {
  std::string error;
  auto runner = calib::LayerRunner::create(*model, samples, layerOfWeight, 2, error);
  ASSERT_TRUE(runner) << error;
  ASSERT_EQ(runner->numSegments(), model->numLayers() + 1);
  std::vector<std::map<size_t, std::vector<float>>> whole;
  for (int s = 0; s < 3; ++s)
    whole.push_back(wholeForward(s));

  const rt::Program &prog = model->program();
  for (int64_t seg = 0; seg < runner->numSegments(); ++seg) {
    const auto &groups = runner->inputGroups(seg);
    if (seg < model->numLayers()) {
      EXPECT_EQ(groups.size(), 4u) << "q/k/v, o, gate/up, down in layer " << seg;
    }
    std::vector<std::vector<float>> seen(groups.size());
    runner->observe(seg, [&](int64_t g, const float *x, int64_t rows) {
      seen[size_t(g)].insert(seen[size_t(g)].end(), x,
                             x + rows * prog.weights[size_t(groups[size_t(g)][0])].shape[1]);
    });
    for (size_t g = 0; g < groups.size(); ++g) {
      // The whole pass's input of the first call reading this group's first weight.
      std::vector<float> expected;
      for (int s = 0; s < 3; ++s)
        for (const auto &[call, x] : whole[size_t(s)]) {
          const rt::Call &c = prog.calls[call];
          int64_t first = c.op == rt::OpCode::MatMul ? rt::calls::MatMul::decode(c).weight
                                                     : rt::calls::GateUpSwiGLU::decode(c).gate;
          if (first == groups[g][0]) {
            expected.insert(expected.end(), x.begin(), x.end());
            break;
          }
        }
      ASSERT_EQ(seen[g].size(), expected.size()) << "segment " << seg << " group " << g;
      EXPECT_EQ(seen[g], expected) << "segment " << seg << " group " << g;
    }
    runner->advance(seg);
  }
}

TEST_F(LayerRunnerTest, ReplacedWeightsReachOnlyLaterLayers) {
  std::string error;
  auto runner = calib::LayerRunner::create(*model, samples, layerOfWeight, 3, error);
  ASSERT_TRUE(runner) << error;
  const rt::Program &prog = model->program();
  auto inputsOf = [&](int64_t seg) {
    std::vector<std::vector<float>> out(runner->inputGroups(seg).size());
    runner->observe(seg, [&](int64_t g, const float *x, int64_t rows) {
      int64_t k = prog.weights[size_t(runner->inputGroups(seg)[size_t(g)][0])].shape[1];
      out[size_t(g)].assign(x, x + rows * k);
    });
    return out;
  };
  auto before = inputsOf(0);
  // Zero layer 0's down projection.
  int64_t down = runner->inputGroups(0).back()[0];
  const auto &shape = prog.weights[size_t(down)].shape;
  std::vector<float> zero(static_cast<size_t>(shape[0] * shape[1]), 0.0f);
  ASSERT_TRUE(model->replaceWeight(down, zero.data(), shape[0], shape[1]));
  EXPECT_FALSE(model->replaceWeight(down, zero.data(), shape[1], shape[0]));
  EXPECT_EQ(inputsOf(0), before); // its own inputs do not move
  std::vector<std::vector<float>> nextBefore;
  {
    // Layer 1's input as the original model gives it, from a runner over a fresh model.
    auto fresh = calib::compileForCalibration(*module, "", layerOfWeight, error);
    ASSERT_TRUE(fresh) << error;
    auto r2 = calib::LayerRunner::create(*fresh, samples, layerOfWeight, 3, error);
    ASSERT_TRUE(r2) << error;
    r2->advance(0);
    r2->observe(1, [&](int64_t g, const float *x, int64_t rows) {
      if (g == 0)
        nextBefore.emplace_back(x, x + rows * 64);
    });
  }
  runner->advance(0);
  std::vector<std::vector<float>> nextAfter;
  runner->observe(1, [&](int64_t g, const float *x, int64_t rows) {
    if (g == 0)
      nextAfter.emplace_back(x, x + rows * 64);
  });
  ASSERT_EQ(nextBefore.size(), nextAfter.size());
  EXPECT_NE(nextBefore, nextAfter);
}

TEST_F(LayerRunnerTest, CalibrationHoldsOneLayersWeightPagesAtATime) {
  // The load's checksum reads the whole file and each layer's run its weights: a layer done
  // hands its pages back, so the model's mapping never stays resident whole.
  const rt::ParamFile &file = model->file();
  const void *base = file.tensors().front().data;
  const long fileKiB = long(file.fileSize() / 1024);
  ASSERT_GT(fileKiB, 512) << "stories260K's artifact is about 1 MB";
  std::string error;
  auto runner = calib::LayerRunner::create(*model, samples, layerOfWeight, 2, error);
  ASSERT_TRUE(runner) << error;
  long afterPrologue = residentKiB(base);
  ASSERT_GE(afterPrologue, 0) << "no /proc/self/smaps entry for the model's mapping";
  EXPECT_LT(afterPrologue, fileKiB / 4);
  wholeForward(0); // touches every weight
  EXPECT_GT(residentKiB(base), fileKiB / 2);
  for (int64_t seg = 0; seg + 1 < runner->numSegments(); ++seg) {
    runner->advance(seg);
    EXPECT_LT(residentKiB(base), fileKiB / 4) << "after layer " << seg;
  }
}

} // namespace
