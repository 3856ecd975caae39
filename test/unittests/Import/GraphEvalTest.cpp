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
#include <memory>
#include <optional>

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
    if (values.size() != 1) // one value: a scalar
      t->add_dims(int64_t(values.size()));
    for (float v : values)
      t->add_float_data(v);
  }

  /// An evaluator of the graph built so far, at `config`.
  std::unique_ptr<GraphEvaluator> evaluator(EvalConfig config) {
    std::string loadError;
    model = OnnxModel::loadFromMemory(m.SerializeAsString(), "t.onnx", "/tmp", loadError);
    EXPECT_TRUE(model) << loadError;
    producers.clear();
    for (const onnx::NodeProto &n : model->proto().graph().node())
      for (int i = 0; i < n.output_size(); ++i)
        producers[n.output(i)] = {&n, i};
    return std::make_unique<GraphEvaluator>(*model, model->proto().graph(), producers, config);
  }

  /// Evaluates `name` at `config`; `error` is empty on success.
  EvalTensor eval(const std::string &name, EvalConfig config, std::string &error) {
    EvalTensor out;
    if (!evaluator(config)->eval(name, out, error))
      return {};
    return out;
  }

  /// A float initializer of `dims` too large for the evaluator to read (a weight).
  void weight(const std::string &name, std::vector<int64_t> dims) {
    onnx::TensorProto *t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto_DataType_FLOAT);
    int64_t n = 1;
    for (int64_t d : dims) {
      t->add_dims(d);
      n *= d;
    }
    t->set_raw_data(std::string(size_t(n) * 4, '\0'));
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

TEST_F(GraphEvalTest, MatMulAndFlattenFollowTheSpecification) {
  floats("a23", {1, 2, 3, 4, 5, 6});
  ints("s23", {2, 3});
  node("Reshape", {"a23", "s23"}, "a");
  floats("v3", {1, 0, -1});
  node("MatMul", {"a", "v3"}, "av"); // 1-D right operand: [2]
  ints("s213", {2, 1, 3});
  node("Reshape", {"a23", "s213"}, "batched");
  floats("b", {1, 10, 100, 1000, 2, 20});
  ints("s32", {3, 2});
  node("Reshape", {"b", "s32"}, "b32");
  node("MatMul", {"batched", "b32"}, "ab"); // [2,1,3] x [3,2] -> [2,1,2]
  attr(node("Flatten", {"ab"}, "flat"), "axis", 2);
  std::string error;
  EvalTensor av = eval("av", {0, 3}, error);
  EXPECT_EQ(av.shape, (llvm::SmallVector<int64_t, 4>{2}));
  EXPECT_EQ(av.data, (std::vector<double>{-2, -2}));
  EvalTensor ab = eval("ab", {0, 3}, error);
  EXPECT_EQ(ab.shape, (llvm::SmallVector<int64_t, 4>{2, 1, 2}));
  EXPECT_EQ(ab.data, (std::vector<double>{207, 2070, 516, 5160}));
  EXPECT_EQ(eval("flat", {0, 3}, error).shape, (llvm::SmallVector<int64_t, 4>{2, 2}));
  EXPECT_EQ(error, "");
}

TEST_F(GraphEvalTest, ShapesOfActivationsNeedNoWeights) {
  // TorchScript exports slice the rotary halves at Shape(q)[-1] / 2 and the mask at
  // Shape(k)[-2]; q and k come from weights the evaluator must not read.
  weight("embed", {1024, 512});
  weight("wq", {512, 64});
  node("Gather", {"embed", "input_ids"}, "h");
  floats("two", {2.0f});
  node("Pow", {"h", "two"}, "sq");
  attr(node("ReduceMean", {"sq"}, "ms"), "keepdims", 1);
  node("Mul", {"h", "ms"}, "normed");
  node("MatMul", {"normed", "wq"}, "q");
  ints("heads", {0, 0, 4, 16});
  node("Reshape", {"q", "heads"}, "q4");
  auto *t = node("Transpose", {"q4"}, "qt");
  auto *perm = t->add_attribute();
  perm->set_name("perm");
  perm->set_type(onnx::AttributeProto::INTS);
  for (int64_t p : {0, 2, 1, 3})
    perm->add_ints(p);
  node("Shape", {"qt"}, "qshape");
  ints("last", {-1}, true);
  node("Gather", {"qshape", "last"}, "d");
  ints("two_i", {2}, true);
  node("Div", {"d", "two_i"}, "half");
  std::string error;
  std::unique_ptr<GraphEvaluator> e = evaluator({0, 3});
  EvalTensor half;
  ASSERT_TRUE(e->eval("half", half, error)) << error;
  EXPECT_EQ(half.data, (std::vector<double>{8}));
  std::optional<llvm::SmallVector<int64_t, 4>> qt = e->shapeOf("qt", error);
  ASSERT_TRUE(qt) << error;
  EXPECT_EQ(*qt, (llvm::SmallVector<int64_t, 4>{1, 4, 3, 16}));
  // The values themselves still cannot be evaluated.
  EvalTensor q;
  EXPECT_FALSE(e->eval("q", q, error));
  EXPECT_NE(error.find("too large to be bookkeeping"), std::string::npos) << error;
}

TEST_F(GraphEvalTest, DeclaredPositionsMakeTheOtherInputTheMask) {
  // Without a KV cache attention_mask and position_ids have the same shape; once the
  // rotary embedding shows which one is the positions, the other is the padding mask.
  auto *in = g->add_input();
  in->set_name("attention_mask");
  auto *tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto_DataType_INT64);
  tt->mutable_shape()->add_dim()->set_dim_param("batch");
  tt->mutable_shape()->add_dim()->set_dim_param("seq");
  std::string error;
  std::unique_ptr<GraphEvaluator> e = evaluator({0, 3});
  e->setPositionsInput("position_ids");
  EvalTensor mask, pos;
  ASSERT_TRUE(e->eval("attention_mask", mask, error)) << error;
  ASSERT_TRUE(e->eval("position_ids", pos, error)) << error;
  EXPECT_EQ(mask.data, (std::vector<double>{1, 1, 1}));
  EXPECT_EQ(pos.data, (std::vector<double>{0, 1, 2}));
}

} // namespace
