//===- GraphEvalTest.cpp - The importer's evaluator of ONNX bookkeeping ---===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// lib/Import/ONNX/GraphEval.h decides whether a mask is causal and whether rotary angles
// are of the positions, so its ops must compute what the ONNX specification says, and it
// must refuse, not crash on, what it cannot evaluate. Graphs are built here with the
// protobuf API; expected values follow the specification (and numpy for broadcasting).
//
//===----------------------------------------------------------------------===//

#include "lib/Import/ONNX/GraphEval.h"

#include <onnx/onnx_pb.h>

#include <gtest/gtest.h>

#include <cmath>
#include <initializer_list>
#include <limits>

using namespace midllama::onnx_import;
using namespace midllama::onnx_import::detail;

namespace {

class GraphEvalTest : public ::testing::Test {
protected:
  GraphEvalTest() {
    m.set_ir_version(8);
    auto *op = m.add_opset_import();
    op->set_version(18);
    g = m.mutable_graph();
    g->set_name("g");
    // input_ids [batch, seq] (the embedding's indices), position_ids [batch, seq].
    for (const char *name : {"input_ids", "position_ids"}) {
      auto *in = g->add_input();
      in->set_name(name);
      auto *tt = in->mutable_type()->mutable_tensor_type();
      tt->set_elem_type(onnx::TensorProto_DataType_INT64);
      tt->mutable_shape()->add_dim()->set_dim_param("batch");
      tt->mutable_shape()->add_dim()->set_dim_param("seq");
    }
    ints("table_shape", {32, 2});
    node("ConstantOfShape", {"table_shape"}, "table");
    node("Gather", {"table", "input_ids"}, "embedded");
  }

  onnx::NodeProto *node(const std::string &op, std::initializer_list<std::string> inputs,
                        const std::string &output) {
    onnx::NodeProto *n = g->add_node();
    n->set_op_type(op);
    n->set_name(output + "_node");
    for (const std::string &in : inputs)
      n->add_input(in);
    n->add_output(output);
    return n;
  }
  static void attr(onnx::NodeProto *n, const std::string &name, int64_t v) {
    auto *a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  void ints(const std::string &name, std::vector<int64_t> values, bool scalar = false) {
    onnx::TensorProto *t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto_DataType_INT64);
    if (!scalar)
      t->add_dims(int64_t(values.size()));
    for (int64_t v : values)
      t->add_int64_data(v);
  }
  void floats(const std::string &name, std::vector<float> values) {
    onnx::TensorProto *t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto_DataType_FLOAT);
    for (float v : values)
      t->add_float_data(v);
  }

  /// Evaluates `name` at `config`; `error` is empty on success.
  EvalTensor eval(const std::string &name, EvalConfig config, std::string &error) {
    std::string loadError;
    model = OnnxModel::loadFromMemory(m.SerializeAsString(), "t.onnx", "/tmp", loadError);
    EXPECT_TRUE(model) << loadError;
    producers.clear();
    for (const onnx::NodeProto &n : model->proto().graph().node())
      for (int i = 0; i < n.output_size(); ++i)
        producers[n.output(i)] = {&n, i};
    GraphEvaluator evaluator(*model, model->proto().graph(), producers, config);
    EvalTensor out;
    if (!evaluator.eval(name, out, error))
      return {};
    return out;
  }

  /// The decomposed causal mask: Where(Less(i, j), -inf, 0) over Range(seq).
  void causalMask() {
    ints("one", {1}, true);
    ints("zero", {0}, true);
    ints("ax0", {0});
    ints("ax1", {1});
    node("Shape", {"input_ids"}, "shape");
    node("Gather", {"shape", "one"}, "seq");
    node("Range", {"zero", "seq", "one"}, "r");
    node("Unsqueeze", {"r", "ax1"}, "ri");
    node("Unsqueeze", {"r", "ax0"}, "rj");
    node("Less", {"ri", "rj"}, "later");
    floats("ninf", {-std::numeric_limits<float>::infinity()});
    floats("zf", {0.0f});
    node("Where", {"later", "ninf", "zf"}, "mask");
  }

  onnx::ModelProto m;
  onnx::GraphProto *g;
  std::unique_ptr<OnnxModel> model;
  Producers producers;
};

TEST_F(GraphEvalTest, CausalMaskIsLowerTriangular) {
  causalMask();
  std::string error;
  EvalTensor mask = eval("mask", {0, 3}, error);
  ASSERT_EQ(error, "");
  ASSERT_EQ(mask.shape, (llvm::SmallVector<int64_t, 4>{3, 3}));
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      EXPECT_EQ(mask.data[i * 3 + j], j <= i ? 0.0 : -INFINITY) << i << "," << j;
}

TEST_F(GraphEvalTest, InputsAreBoundByRole) {
  std::string error;
  // The embedding's indices are not positions; position_ids are past .. past + seq - 1.
  EvalTensor ids = eval("input_ids", {4, 2}, error);
  ASSERT_EQ(error, "");
  EvalTensor pos = eval("position_ids", {4, 2}, error);
  ASSERT_EQ(error, "");
  EXPECT_EQ(pos.data, (std::vector<double>{4, 5}));
  EXPECT_NE(ids.data, pos.data);
}

TEST_F(GraphEvalTest, SliceFollowsTheSpecification) {
  ints("data", {0, 1, 2, 3, 4, 5, 6, 7});
  ints("starts", {-1});
  ints("ends", {std::numeric_limits<int64_t>::min()});
  ints("axes", {0});
  ints("steps", {-3});
  node("Slice", {"data", "starts", "ends", "axes", "steps"}, "reversed");
  ints("s2", {2});
  ints("e2", {std::numeric_limits<int64_t>::max()});
  node("Slice", {"data", "s2", "e2"}, "tail");
  std::string error;
  EXPECT_EQ(eval("reversed", {0, 3}, error).data, (std::vector<double>{7, 4, 1}));
  EXPECT_EQ(eval("tail", {0, 3}, error).data, (std::vector<double>{2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(error, "");
}

TEST_F(GraphEvalTest, TriluCumSumAndExpand) {
  ints("shape33", {3, 3});
  onnx::NodeProto *c = node("ConstantOfShape", {"shape33"}, "ones");
  auto *v = c->add_attribute();
  v->set_name("value");
  v->set_type(onnx::AttributeProto::TENSOR);
  v->mutable_t()->set_data_type(onnx::TensorProto_DataType_INT64);
  v->mutable_t()->add_dims(1);
  v->mutable_t()->add_int64_data(1);
  ints("k1", {1}, true);
  node("Trilu", {"ones", "k1"}, "upper"); // strictly above the diagonal
  ints("axis1", {1}, true);
  node("CumSum", {"upper", "axis1"}, "cum");
  ints("to", {2, 1, 1});
  node("Expand", {"upper", "to"}, "expanded");
  std::string error;
  EXPECT_EQ(eval("upper", {0, 3}, error).data,
            (std::vector<double>{0, 1, 1, 0, 0, 1, 0, 0, 0}));
  EXPECT_EQ(eval("cum", {0, 3}, error).data, (std::vector<double>{0, 1, 2, 0, 0, 1, 0, 0, 0}));
  EvalTensor e = eval("expanded", {0, 3}, error);
  EXPECT_EQ(e.shape, (llvm::SmallVector<int64_t, 4>{2, 3, 3}));
  EXPECT_EQ(error, "");
}

TEST_F(GraphEvalTest, RefusesWhatItDoesNotEvaluate) {
  node("Softmax", {"embedded"}, "probs");
  std::string error;
  eval("probs", {0, 3}, error);
  EXPECT_EQ(error, "node 'probs_node' (ai.onnx::Softmax): not an op the check evaluates");
}

TEST_F(GraphEvalTest, RefusesHugeAndCyclicGraphs) {
  ints("zero", {0}, true);
  ints("big", {int64_t(1) << 40}, true);
  ints("one", {1}, true);
  node("Range", {"zero", "big", "one"}, "huge");
  node("Add", {"loop", "one"}, "loop");
  ints("bad", {5});
  node("Gather", {"big", "bad"}, "oob");
  std::string error;
  eval("huge", {0, 3}, error);
  EXPECT_EQ(error, "node 'huge_node' (ai.onnx::Range): its result would be too large to evaluate");
  error.clear();
  eval("loop", {0, 3}, error);
  EXPECT_EQ(error, "node 'loop_node' (ai.onnx::Add) depends on its own output");
  error.clear();
  eval("oob", {0, 3}, error);
  EXPECT_EQ(error, "node 'oob_node' (ai.onnx::Gather): its axis is out of range");
}

} // namespace
