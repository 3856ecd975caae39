//===- OnnxImportTest.cpp - ONNX import against the llama2.c original -----===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The fp32 fixtures in test/Import/ONNX/Inputs are the embedded llama2.c model exported
// through transformers, then by the GenAI builder (fused QKV, contrib ops) and by
// torch.onnx (decomposed ops, with and without a KV cache); [in, out] MatMul weights, q/k
// rows permuted to half-split rotary. Importing any of them must give back the original
// fp32 weights bit for bit, each in its [out, in] place and under its Hugging Face name: a
// value-level check of every transpose, split, pattern and role name.
//
//===----------------------------------------------------------------------===//

#include "midllama/Import/Llama2C.h"
#include "midllama/Import/ONNX/OnnxToLLM.h"
#include "midllama/Pipelines/ImportOnnx.h"
#include "midllama/InitAll.h"
#include "runtime/params/ParamFile.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

#include <cstring>
#include <unistd.h>

using namespace midllama;

namespace {

class FP32ExportTest : public ::testing::TestWithParam<const char *> {};

TEST_P(FP32ExportTest, GivesBackTheOriginalWeights) {
  char tmpl[] = "/tmp/midllama-onnx-import-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl, src = MIDLLAMA_SOURCE_DIR;

  mlir::DialectRegistry registry;
  registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  std::vector<std::string> unused;
  std::string error;
  auto module = onnx_import::importOnnx(
      src + "/test/Import/ONNX/Inputs/" + GetParam() + "/model.onnx", dir + "/onnx.mlir",
      dir + "/onnx.safetensors", &context, unused, error);
  ASSERT_TRUE(module) << error;

  auto ckpt = Llama2CCheckpoint::open(src + "/models/stories260K/stories260K.bin", error);
  ASSERT_TRUE(ckpt) << error;
  rt::ParamFileWriter writer;
  ASSERT_TRUE(ckpt->addWeights(writer, error)) << error;
  ASSERT_TRUE(writer.commit(dir + "/l2c.safetensors", error)) << error;

  auto onnx = rt::ParamFile::open(dir + "/onnx.safetensors", error);
  auto l2c = rt::ParamFile::open(dir + "/l2c.safetensors", error);
  ASSERT_TRUE(onnx && l2c) << error;

  auto tensor = [](const rt::ParamFile &f, const std::string &name) {
    const rt::TensorView *t = f.find(name);
    EXPECT_TRUE(t) << name;
    return t;
  };
  auto same = [&](const std::string &onnxName, const std::string &l2cName) {
    const rt::TensorView *a = tensor(*onnx, onnxName), *b = tensor(*l2c, l2cName);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->shape, b->shape) << onnxName;
    EXPECT_EQ(a->numBytes, b->numBytes) << onnxName;
    EXPECT_EQ(std::memcmp(a->data, b->data, a->numBytes), 0) << onnxName << " vs " << l2cName;
  };
  // llama2.c rotates pairs (2i, 2i+1); the export permuted q/k rows so that pair i is
  // (i, i + d/2): exported row h*d + e*d/2 + i is original row h*d + 2i + e.
  auto permuted = [&](const std::string &onnxName, const std::string &l2cName, int64_t d) {
    const rt::TensorView *a = tensor(*onnx, onnxName), *b = tensor(*l2c, l2cName);
    ASSERT_TRUE(a && b);
    ASSERT_EQ(a->shape, b->shape) << onnxName;
    int64_t rows = a->shape[0], cols = a->shape[1];
    for (int64_t r = 0; r < rows; ++r) {
      int64_t h = r / d, e = (r % d) / (d / 2), i = r % (d / 2);
      int64_t original = h * d + 2 * i + e;
      ASSERT_EQ(std::memcmp(a->data + r * cols * 4, b->data + original * cols * 4, cols * 4), 0)
          << onnxName << " row " << r;
    }
  };

  same("model.embed_tokens.weight", "model.embed_tokens.weight");
  same("model.norm.weight", "model.norm.weight");
  for (int l = 0; l < 5; ++l) {
    std::string o = "model.layers." + std::to_string(l) + ".";
    for (const char *role : {"input_layernorm", "post_attention_layernorm", "self_attn.v_proj",
                             "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj",
                             "mlp.down_proj"})
      same(o + role + ".weight", o + role + ".weight");
    permuted(o + "self_attn.q_proj.weight", o + "self_attn.q_proj.weight", 8);
    permuted(o + "self_attn.k_proj.weight", o + "self_attn.k_proj.weight", 8);
  }
  // Nothing else: the original's 47 tensors, no leftover initializer.
  EXPECT_EQ(onnx->tensors().size(), l2c->tensors().size());
  std::system(("rm -rf '" + dir + "'").c_str());
}

INSTANTIATE_TEST_SUITE_P(Exports, FP32ExportTest,
                         ::testing::Values("stories260K-genai-fp32", "stories260K-torch-fp32",
                                           "stories260K-torch-kv-fp32"),
                         [](const auto &info) {
                           std::string name = info.param;
                           for (char &c : name)
                             if (!isalnum(c))
                               c = '_';
                           return name;
                         });

/// Dequantizes row `r` of a `#llm.affine<bits = 4, group_size = g, symmetric = true>` weight
/// stored as `name.qweight` / `name.scales`: w = (q - 8) * scale, codes low nibble first.
std::vector<float> dequantizeRow(const rt::ParamFile &f, const std::string &name, int64_t r,
                                 int64_t k, int64_t g, std::vector<float> &rowScales) {
  const rt::TensorView *q = f.find(name + ".qweight"), *s = f.find(name + ".scales");
  EXPECT_TRUE(q && s) << name;
  std::vector<float> out(k);
  if (!q || !s)
    return out;
  int64_t rowBytes = q->shape[1], groups = s->shape[1];
  const float *scales = reinterpret_cast<const float *>(s->data) + r * groups;
  rowScales.assign(scales, scales + groups);
  for (int64_t c = 0; c < k; ++c) {
    uint8_t byte = q->data[r * rowBytes + c / 2];
    int code = c % 2 ? byte >> 4 : byte & 0xf;
    out[c] = (code - 8) * scales[c / g];
  }
  return out;
}

TEST(OnnxImportTest, MatMulNBitsWeightsStayQuantizedAndMatchTheOriginal) {
  char tmpl[] = "/tmp/midllama-onnx-int4-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl, src = MIDLLAMA_SOURCE_DIR;
  mlir::DialectRegistry registry;
  registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  std::vector<std::string> unused;
  std::string error;
  auto module = onnx_import::importOnnx(
      src + "/test/Import/ONNX/Inputs/stories260K-genai-int4/model.onnx", dir + "/q.mlir",
      dir + "/q.safetensors", &context, unused, error);
  ASSERT_TRUE(module) << error;
  auto ckpt = Llama2CCheckpoint::open(src + "/models/stories260K/stories260K.bin", error);
  ASSERT_TRUE(ckpt) << error;
  rt::ParamFileWriter writer;
  ASSERT_TRUE(ckpt->addWeights(writer, error) && writer.commit(dir + "/l2c.safetensors", error))
      << error;
  auto q = rt::ParamFile::open(dir + "/q.safetensors", error);
  auto l2c = rt::ParamFile::open(dir + "/l2c.safetensors", error);
  ASSERT_TRUE(q && l2c) << error;

  // 4-bit symmetric round-to-nearest with absmax scales: each weight within one step of
  // its original, and most within half a step. A wrong nibble order or zero point would be
  // off by many steps.
  int64_t total = 0, withinHalf = 0;
  auto check = [&](const std::string &qName, const std::string &origName, int64_t rowOffset,
                   int64_t rows, int64_t k, bool permuted) {
    const rt::TensorView *o = l2c->find(origName);
    ASSERT_TRUE(o) << origName;
    const float *orig = reinterpret_cast<const float *>(o->data);
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<float> scales;
      std::vector<float> deq = dequantizeRow(*q, qName, r, k, 32, scales);
      int64_t d = 8, h = r / d, e = (r % d) / (d / 2), i = r % (d / 2);
      int64_t origRow = permuted ? h * d + 2 * i + e : r;
      for (int64_t c = 0; c < k; ++c) {
        float step = std::abs(scales[c / 32]);
        float diff = std::abs(deq[c] - orig[(rowOffset + origRow) * k + c]);
        ASSERT_LE(diff, step * 1.001f + 1e-7f) << qName << " [" << r << ", " << c << "]";
        ++total;
        withinHalf += diff <= step * 0.5f + 1e-7f;
      }
    }
  };
  check("model.embed_tokens.weight", "model.embed_tokens.weight", 0, 512, 64, false);
  for (int l = 0; l < 5; ++l) {
    std::string o = "model.layers." + std::to_string(l) + ".";
    check(o + "self_attn.q_proj.weight", o + "self_attn.q_proj.weight", 0, 64, 64, true);
    check(o + "self_attn.k_proj.weight", o + "self_attn.k_proj.weight", 0, 32, 64, true);
    check(o + "self_attn.v_proj.weight", o + "self_attn.v_proj.weight", 0, 32, 64, false);
    check(o + "self_attn.o_proj.weight", o + "self_attn.o_proj.weight", 0, 64, 64, false);
    check(o + "mlp.gate_proj.weight", o + "mlp.gate_proj.weight", 0, 172, 64, false);
    check(o + "mlp.up_proj.weight", o + "mlp.up_proj.weight", 0, 172, 64, false);
    // K = 172 is not a multiple of 32: the last group's padding was dropped.
    check(o + "mlp.down_proj.weight", o + "mlp.down_proj.weight", 0, 64, 172, false);
  }
  EXPECT_EQ(total, 260032 - 11 * 64); // every linear and the embedding, not the norms
  EXPECT_GT(double(withinHalf) / total, 0.95);
  std::system(("rm -rf '" + dir + "'").c_str());
}

} // namespace
