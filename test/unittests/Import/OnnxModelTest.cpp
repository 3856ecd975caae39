//===- OnnxModelTest.cpp - Loading ONNX models, and refusing hostile ones -===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Models are built here with the ONNX protobuf API, so each case controls exactly the
// field under test.
//
//===----------------------------------------------------------------------===//

#include "midllama/Import/ONNX/OnnxModel.h"

#include <onnx/onnx_pb.h>

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <unistd.h>

using namespace midllama::onnx_import;

namespace {

class OnnxModelTest : public ::testing::Test {
protected:
  void SetUp() override {
    char tmpl[] = "/tmp/midllama-onnx-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root = tmpl;
    ASSERT_EQ(mkdir((root + "/model").c_str(), 0755), 0);
    dir = root + "/model";
  }
  void TearDown() override { std::system(("rm -rf '" + root + "'").c_str()); }

  static void writeFile(const std::string &path, const std::string &bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
  }

  /// A minimal valid model: opset `opset`, one Identity node.
  static onnx::ModelProto baseModel(int64_t opset = 17) {
    onnx::ModelProto m;
    m.set_ir_version(8);
    auto *op = m.add_opset_import();
    op->set_domain("");
    op->set_version(opset);
    onnx::GraphProto *g = m.mutable_graph();
    g->set_name("g");
    auto *node = g->add_node();
    node->set_op_type("Identity");
    node->add_input("w");
    node->add_output("y");
    return m;
  }

  static onnx::TensorProto *addExternal(onnx::ModelProto &m, const std::string &name,
                                        std::vector<int64_t> dims, const std::string &location,
                                        const std::string &offset, const std::string &length) {
    onnx::TensorProto *t = m.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto_DataType_FLOAT);
    for (int64_t d : dims)
      t->add_dims(d);
    t->set_data_location(onnx::TensorProto_DataLocation_EXTERNAL);
    auto add = [&](const char *k, const std::string &v) {
      if (v.empty())
        return;
      auto *e = t->add_external_data();
      e->set_key(k);
      e->set_value(v);
    };
    add("location", location);
    add("offset", offset);
    add("length", length);
    return t;
  }

  /// Saves `m` as model/model.onnx and returns the load error ("" on success).
  std::string loadError(const onnx::ModelProto &m) {
    writeFile(dir + "/model.onnx", m.SerializeAsString());
    std::string error;
    model = OnnxModel::load(dir + "/model.onnx", error);
    if (model)
      EXPECT_TRUE(error.empty());
    return model ? "" : error;
  }

  std::string root, dir;
  std::unique_ptr<OnnxModel> model;
};

TEST_F(OnnxModelTest, ReadsRawTypedAndExternalData) {
  onnx::ModelProto m = baseModel();
  // raw_data, fp16
  onnx::TensorProto *raw = m.mutable_graph()->add_initializer();
  raw->set_name("raw");
  raw->set_data_type(onnx::TensorProto_DataType_FLOAT16);
  raw->add_dims(2);
  raw->set_raw_data(std::string("\x00\x3c\x00\xc0", 4));
  // typed float_data
  onnx::TensorProto *typed = m.mutable_graph()->add_initializer();
  typed->set_name("typed");
  typed->set_data_type(onnx::TensorProto_DataType_FLOAT);
  typed->add_dims(3);
  for (float v : {1.0f, -2.5f, 3.0f})
    typed->add_float_data(v);
  // fp16 in int32_data, as some exporters write it
  onnx::TensorProto *half = m.mutable_graph()->add_initializer();
  half->set_name("half");
  half->set_data_type(onnx::TensorProto_DataType_FLOAT16);
  half->add_dims(1);
  half->add_int32_data(0x3c00);
  // external data at an offset, in a subfolder
  ASSERT_EQ(mkdir((dir + "/weights").c_str(), 0755), 0);
  std::string blob(16, '\0');
  float ext[2] = {0.5f, 4.0f};
  std::memcpy(&blob[8], ext, 8);
  writeFile(dir + "/weights/model.onnx.data", blob);
  addExternal(m, "ext", {2}, "weights/model.onnx.data", "8", "8");

  ASSERT_EQ(loadError(m), "");
  EXPECT_EQ(*model->opsetVersion(""), 17);
  ASSERT_EQ(model->initializers().size(), 4u);
  const OnnxTensor *r = model->initializer("raw");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->bytes.size(), 4u);
  EXPECT_EQ(r->bytes[1], 0x3c);
  const OnnxTensor *t = model->initializer("typed");
  float values[3];
  std::memcpy(values, t->bytes.data(), 12);
  EXPECT_EQ(values[1], -2.5f);
  const OnnxTensor *h = model->initializer("half");
  EXPECT_EQ(h->bytes.size(), 2u);
  EXPECT_EQ(h->bytes[0], 0x00);
  EXPECT_EQ(h->bytes[1], 0x3c);
  const OnnxTensor *e = model->initializer("ext");
  EXPECT_TRUE(e->external);
  float loaded[2];
  std::memcpy(loaded, e->bytes.data(), 8);
  EXPECT_EQ(loaded[0], 0.5f);
  EXPECT_EQ(loaded[1], 4.0f);
}

TEST_F(OnnxModelTest, ReadsTheThirdPartyGenAIExport) {
  // The ONNX Runtime GenAI export committed as a fixture (MIT, see its folder).
  std::string found = std::string(MIDLLAMA_SOURCE_DIR) +
                      "/test/Import/ONNX/Inputs/ortgenai-tiny-random-llama-fp16/model.onnx";
  std::string error;
  auto genai = OnnxModel::load(found, error);
  ASSERT_TRUE(genai) << error;
  EXPECT_EQ(*genai->opsetVersion(""), 14);
  EXPECT_EQ(*genai->opsetVersion("com.microsoft"), 1);
  const OnnxTensor *embed = genai->initializer("model.embed_tokens.weight");
  ASSERT_TRUE(embed);
  EXPECT_TRUE(embed->external);
  EXPECT_EQ(embed->dims, (std::vector<int64_t>{32000, 16}));
  EXPECT_EQ(embed->bytes.size(), 32000u * 16 * 2);
}

TEST_F(OnnxModelTest, ReadsEveryCommittedFixture) {
  // test/Import/ONNX/Inputs: exports of stories260K by torch and by the GenAI builder.
  std::string inputs = std::string(MIDLLAMA_SOURCE_DIR) + "/test/Import/ONNX/Inputs/";
  struct Fixture {
    const char *folder;
    int64_t opset;
    bool contrib;
  } fixtures[] = {{"stories260K-torch-fp32", 18, false},
                  {"stories260K-torch-kv-fp32", 18, false},
                  {"stories260K-torch-kv-fp16", 18, false},
                  {"stories260K-genai-fp32", 22, true},
                  {"stories260K-genai-fp16", 22, true},
                  {"stories260K-genai-int4", 22, true},
                  {"synthetic-hd16-genai-fp32", 22, true},
                  {"synthetic-hd16-genai-int4", 22, true}};
  for (const Fixture &f : fixtures) {
    std::string error;
    auto m = OnnxModel::load(inputs + f.folder + "/model.onnx", error);
    ASSERT_TRUE(m) << error;
    EXPECT_EQ(*m->opsetVersion(""), f.opset) << f.folder;
    EXPECT_EQ(m->opsetVersion("com.microsoft").has_value(), f.contrib) << f.folder;
    int64_t external = 0, bytes = 0;
    for (const OnnxTensor &t : m->initializers()) {
      external += t.external;
      bytes += t.bytes.size();
    }
    EXPECT_GT(external, 0) << f.folder << " keeps its weights as external data";
    // stories260K fp32 holds the 260032 weights (1040128 bytes) plus rotary tables; int4
    // far fewer.
    if (llvm::StringRef(f.folder).starts_with("stories") &&
        llvm::StringRef(f.folder).ends_with("fp32"))
      EXPECT_GE(bytes, 1040128) << f.folder;
    if (llvm::StringRef(f.folder).ends_with("int4"))
      EXPECT_LT(bytes, 400000) << f.folder;
  }
}

TEST_F(OnnxModelTest, RejectsFilesThatAreNotModels) {
  writeFile(dir + "/text.onnx", "this is not a protobuf at all, just text\n");
  std::string error;
  EXPECT_FALSE(OnnxModel::load(dir + "/text.onnx", error));
  EXPECT_NE(error.find("text.onnx': not an ONNX model"), std::string::npos) << error;

  // A real model cut in half.
  onnx::ModelProto m = baseModel();
  onnx::TensorProto *t = m.mutable_graph()->add_initializer();
  t->set_name("w");
  t->set_data_type(onnx::TensorProto_DataType_FLOAT);
  t->add_dims(64);
  t->set_raw_data(std::string(256, '\x01'));
  std::string bytes = m.SerializeAsString();
  writeFile(dir + "/cut.onnx", bytes.substr(0, bytes.size() / 2));
  EXPECT_FALSE(OnnxModel::load(dir + "/cut.onnx", error));
  EXPECT_NE(error.find("truncated or corrupt"), std::string::npos) << error;

  EXPECT_FALSE(OnnxModel::load(dir + "/absent.onnx", error));
  EXPECT_NE(error.find("absent.onnx': No such file or directory"), std::string::npos) << error;
}

TEST_F(OnnxModelTest, RejectsUnsupportedOpsets) {
  EXPECT_NE(loadError(baseModel(23)).find("default-domain opset 23 is not supported"),
            std::string::npos);
  EXPECT_NE(loadError(baseModel(12)).find("default-domain opset 12 is not supported (13 to 22)"),
            std::string::npos);
  onnx::ModelProto m = baseModel();
  m.mutable_opset_import(0)->set_domain("com.microsoft");
  EXPECT_NE(loadError(m).find("imports no opset of the default ONNX domain"),
            std::string::npos);
}

TEST_F(OnnxModelTest, ChecksSizesBeforeReading) {
  onnx::ModelProto m = baseModel();
  onnx::TensorProto *t = m.mutable_graph()->add_initializer();
  t->set_name("w");
  t->set_data_type(onnx::TensorProto_DataType_FLOAT);
  t->add_dims(4);
  t->set_raw_data(std::string(12, '\0'));
  EXPECT_NE(loadError(m).find("tensor 'w' has 12 bytes of raw data but its dims need 16"),
            std::string::npos);

  t->set_raw_data(std::string(16, '\0'));
  t->add_dims(-3);
  EXPECT_NE(loadError(m).find("tensor 'w' has a negative dimension (-3)"), std::string::npos);

  t->clear_dims();
  t->add_dims(int64_t(1) << 31);
  t->add_dims(int64_t(1) << 31);
  EXPECT_NE(loadError(m).find("absurd dimensions"), std::string::npos);

  t->clear_dims();
  t->add_dims(3);
  t->clear_raw_data();
  t->add_float_data(1.0f);
  EXPECT_NE(loadError(m).find("tensor 'w' holds 1 values but its dims need 3"),
            std::string::npos);

  // Dims that promise 2^39 floats with one value given: refused before any allocation (the
  // fuzzer found the loader reserving first).
  t->clear_dims();
  t->add_dims(int64_t(1) << 39);
  EXPECT_NE(loadError(m).find("tensor 'w' holds 1 values but its dims need 549755813888"),
            std::string::npos);

  t->set_data_type(onnx::TensorProto_DataType_STRING);
  EXPECT_NE(loadError(m).find("element type midllama does not read (STRING)"),
            std::string::npos);

  onnx::ModelProto dup = baseModel();
  for (int i = 0; i < 2; ++i) {
    onnx::TensorProto *d = dup.mutable_graph()->add_initializer();
    d->set_name("same");
    d->set_data_type(onnx::TensorProto_DataType_FLOAT);
    d->add_dims(0); // empty, so the only problem is the name
  }
  EXPECT_NE(loadError(dup).find("initializer 'same' is defined twice"), std::string::npos);
}

TEST_F(OnnxModelTest, RefusesExternalDataOutsideTheModelFolder) {
  writeFile(root + "/secret.bin", std::string(64, 's'));
  writeFile(dir + "/ok.bin", std::string(64, '\0'));
  auto errorFor = [&](const std::string &location) {
    onnx::ModelProto m = baseModel();
    addExternal(m, "w", {4}, location, "0", "16");
    return loadError(m);
  };
  EXPECT_NE(errorFor(root + "/secret.bin").find("outside the model's folder; refused"),
            std::string::npos);
  EXPECT_NE(errorFor("../secret.bin").find("outside the model's folder; refused"),
            std::string::npos);
  EXPECT_NE(errorFor("sub/../../secret.bin").find("outside the model's folder; refused"),
            std::string::npos);
  EXPECT_NE(errorFor("..\\secret.bin").find("outside the model's folder; refused"),
            std::string::npos);
  EXPECT_NE(errorFor("C:\\secret.bin").find("outside the model's folder; refused"),
            std::string::npos);
  ASSERT_EQ(symlink((root + "/secret.bin").c_str(), (dir + "/link.bin").c_str()), 0);
  EXPECT_NE(errorFor("link.bin").find("outside the model's folder (a symlink?); refused"),
            std::string::npos);
  EXPECT_NE(errorFor("missing.bin").find("external data file 'missing.bin' not found"),
            std::string::npos);
  EXPECT_EQ(errorFor("ok.bin"), "");
  // A symlink that stays inside the folder is fine.
  ASSERT_EQ(symlink("ok.bin", (dir + "/alias.bin").c_str()), 0);
  EXPECT_EQ(errorFor("alias.bin"), "");
}

TEST_F(OnnxModelTest, ChecksExternalOffsetsAndLengths) {
  writeFile(dir + "/w.bin", std::string(20, '\0'));
  auto errorFor = [&](const std::string &offset, const std::string &length) {
    onnx::ModelProto m = baseModel();
    addExternal(m, "w", {4}, "w.bin", offset, length);
    return loadError(m);
  };
  EXPECT_EQ(errorFor("4", "16"), "");
  EXPECT_EQ(errorFor("", ""), "");
  EXPECT_NE(errorFor("8", "16").find("runs past the end of 'w.bin' (offset 8 + 16 bytes > 20)"),
            std::string::npos);
  EXPECT_NE(errorFor("18446744073709551615", "16").find("runs past the end"),
            std::string::npos);
  EXPECT_NE(errorFor("0", "12").find("external-data length 12 does not match its dims, which "
                                     "need 16 bytes"),
            std::string::npos);
  EXPECT_NE(errorFor("-4", "16").find("invalid external-data offset '-4'"), std::string::npos);
  EXPECT_NE(errorFor("0x10", "16").find("invalid external-data offset"), std::string::npos);
}

} // namespace
