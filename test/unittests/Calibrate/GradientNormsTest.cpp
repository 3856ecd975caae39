//===- GradientNormsTest.cpp - The backward pass against finite differences -===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// With one calibration sample and α = 1, GBLM's gradient norm is |∂L/∂W|. The check is
// independent of the backward pass's own forward: central differences of the loss as the
// compiled CPU runtime computes it (Session forward, cross-entropy of the shifted tokens),
// with the weight entry changed in the runtime model.
//
//===----------------------------------------------------------------------===//

#include "midllama/Calibrate/GradientNorms.h"
#include "midllama/Import/ONNX/OnnxToLLM.h"
#include "midllama/Pipelines/ImportOnnx.h"
#include "midllama/InitAll.h"
#include "../TempDirTest.h"

#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <numeric>
#include <unistd.h>

using namespace midllama;

/// stories260K imported from its ONNX export into a fresh directory, removed afterwards.
class GradientNorms : public midllama::testing::TempDirTest {
protected:
  void SetUp() override {
    TempDirTest::SetUp();
    registerAllDialects(registry);
    registerAllPasses(); // calibration runs midllama-lower-cpu by its registered name
    context = std::make_unique<mlir::MLIRContext>(registry);
    std::string src = MIDLLAMA_SOURCE_DIR;
    std::vector<std::string> unused;
    module = onnx_import::importOnnx(
        src + "/test/Import/ONNX/Inputs/stories260K-torch-fp32/model.onnx", dir + "/m.mlir",
        dir + "/m.safetensors", context.get(), unused, error);
    ASSERT_TRUE(module) << error;
  }
  void TearDown() override {
    module = nullptr;
    TempDirTest::TearDown();
  }

  std::string error;
  mlir::DialectRegistry registry;
  std::unique_ptr<mlir::MLIRContext> context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
};

TEST_F(GradientNorms, EqualFiniteDifferencesOfTheRuntimeLoss) {
  std::vector<int32_t> tokens = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426};
  {
    std::ofstream out(dir + "/one.tokens");
    for (int32_t t : tokens)
      out << t << " ";
  }
  calib::CalibrationOptions options(dir + "/one.tokens", 1, int64_t(tokens.size()), 0, 1, "",
                                    false);
  std::map<std::string, std::vector<float>> norms;
  double loss = 0;
  ASSERT_TRUE(calib::computeGradientNorms(*module, options, 1.0, calib::GradientNorm::L2, norms,
                                          loss, error))
      << error;
  EXPECT_EQ(norms.size(), 35u);
  // With one sample both norms are |α g|: L1 (with α = 3) is 3 × L2 (α = 1), entry by entry.
  std::map<std::string, std::vector<float>> l1;
  double l1Loss = 0;
  ASSERT_TRUE(calib::computeGradientNorms(*module, options, 3.0, calib::GradientNorm::L1, l1,
                                          l1Loss, error))
      << error;
  EXPECT_EQ(l1Loss, loss);
  for (const auto &[name, g] : norms)
    for (size_t i = 0; i < g.size(); i += 97)
      EXPECT_NEAR(l1.at(name)[i], 3.0f * g[i], 1e-5f * (1 + 3.0f * g[i])) << name;

  std::vector<int64_t> layerOfWeight;
  auto model = calib::compileForCalibration(*module, "", layerOfWeight, error);
  ASSERT_TRUE(model) << error;
  const int64_t T = int64_t(tokens.size()), vocab = model->vocabSize();
  auto runtimeLoss = [&] {
    rt::Session session(*model, T, T, 1);
    std::string why;
    const float *logits = session.forward(tokens.data(), T, 0, false, why);
    double total = 0;
    for (int64_t t = 0; t + 1 < T; ++t) {
      const float *z = logits + t * vocab;
      double m = *std::max_element(z, z + vocab), sum = 0;
      for (int64_t i = 0; i < vocab; ++i)
        sum += std::exp(double(z[i]) - m);
      total += std::log(sum) + m - z[tokens[size_t(t + 1)]];
    }
    return total / double(T - 1);
  };
  EXPECT_NEAR(runtimeLoss(), loss, 1e-4 * loss); // the backward pass's forward agrees

  for (const char *name : {"model.layers.0.self_attn.q_proj.weight",
                           "model.layers.1.self_attn.v_proj.weight",
                           "model.layers.4.mlp.down_proj.weight"}) {
    const std::vector<float> &g = norms.at(name);
    int64_t index = model->weightIndex(name);
    ASSERT_GE(index, 0) << name;
    const std::vector<int64_t> &shape = model->program().weights[size_t(index)].shape;
    std::vector<float> values;
    // The weight as fp32 row-major: from the module's parameter file.
    std::unique_ptr<rt::ParamFile> file = rt::ParamFile::open(dir + "/m.safetensors", error);
    ASSERT_TRUE(file) << error;
    const rt::TensorView *t = file->find(name);
    ASSERT_TRUE(t) << name;
    values.assign(reinterpret_cast<const float *>(t->data),
                  reinterpret_cast<const float *>(t->data) + t->numElements());
    // The three entries with the largest gradient.
    std::vector<size_t> order(g.size());
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + 3, order.end(),
                      [&](size_t a, size_t b) { return g[a] > g[b]; });
    for (int i = 0; i < 3; ++i) {
      size_t e = order[size_t(i)];
      const float h = 1e-2f;
      float saved = values[e];
      values[e] = saved + h;
      model->replaceWeight(index, values.data(), shape[0], shape[1]);
      double plus = runtimeLoss();
      values[e] = saved - h;
      model->replaceWeight(index, values.data(), shape[0], shape[1]);
      double minus = runtimeLoss();
      values[e] = saved;
      model->replaceWeight(index, values.data(), shape[0], shape[1]);
      double numeric = std::fabs((plus - minus) / (2 * h));
      EXPECT_NEAR(g[e], numeric, 0.05 * numeric + 2e-3) << name << " [" << e << "]";
    }
  }
}

// With one two-token sample only position 0 is predicted, so position 1's gradients are
// zero: each projection's weight gradient is g xᵀ (g its output gradient at position 0, x
// its input there) and its output Fisher is g²/2. Row i of the weight gradient then has
// squared norm g_i² |x|² = 2 |x|² F_i: the same multiple of F_i for every row.
// (At a single position the attention's softmax is constant: k gets no gradient at all.)
TEST_F(GradientNorms, OutputFisherIsTheSquaredOutputGradient) {
  std::ofstream(dir + "/two.tokens") << "1 403 ";
  calib::CalibrationOptions options(dir + "/two.tokens", 1, 2, 0, 1, "", false);
  std::map<std::string, std::vector<float>> norms;
  std::map<std::string, std::vector<double>> fisher;
  double loss = 0, fisherLoss = 0;
  ASSERT_TRUE(calib::computeGradientNorms(*module, options, 1.0, calib::GradientNorm::L2, norms,
                                          loss, error))
      << error;
  ASSERT_TRUE(calib::computeOutputFisher(*module, options, fisher, fisherLoss, error)) << error;
  EXPECT_EQ(fisherLoss, loss);
  ASSERT_EQ(fisher.size(), norms.size());
  for (const auto &[name, f] : fisher) {
    const std::vector<float> &g = norms.at(name);
    ASSERT_EQ(g.size() % f.size(), 0u) << name;
    size_t k = g.size() / f.size();
    double largest = *std::max_element(f.begin(), f.end()), ratio = 0;
    if (largest == 0) { // k: one position's softmax over itself does not depend on k
      EXPECT_EQ(*std::max_element(g.begin(), g.end()), 0.0f) << name;
      continue;
    }
    for (size_t i = 0; i < f.size(); ++i) {
      if (f[i] < 1e-3 * largest)
        continue;
      double rowSq = 0;
      for (size_t j = 0; j < k; ++j)
        rowSq += double(g[i * k + j]) * double(g[i * k + j]);
      if (ratio == 0)
        ratio = rowSq / f[i];
      EXPECT_NEAR(rowSq / f[i], ratio, 1e-3 * ratio) << name << " row " << i;
    }
  }
}
