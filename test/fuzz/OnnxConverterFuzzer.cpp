//===- OnnxConverterFuzzer.cpp - libFuzzer target for ONNX -> llm IR ------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Runs the whole converter (load, structural and libonnx checks, conversion, the semantic
// checks that evaluate masks and positions) on each input and verifies the module it
// returns. Wrong-result bugs live in the converter, and byte-level mutations of a protobuf
// rarely get past its parser, so LLVMFuzzerCustomMutator mutates models the way a hostile
// or broken exporter would, through the onnx protobuf API: op types, attributes, which
// value a node reads or writes, initializer values (NaN, inf) and dims, Constant values,
// the graph's inputs and outputs. Seeds are the committed fixtures with their external
// data inlined (test/fuzz/onnx-converter.test).
//
// It must never crash, hang or leak; a refusal must say why (an empty error traps); a
// module that does not verify traps (the converter built invalid IR).
//
//===----------------------------------------------------------------------===//

#include "midllama/Dialect/LLM/IR/LLMDialect.h"
#include "midllama/Import/ONNX/OnnxToLLM.h"

#include <onnx/onnx_pb.h>

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

extern "C" size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t maxSize);

namespace {

using Rng = std::mt19937_64;

template <typename T> const T &pick(Rng &rng, const std::vector<T> &v) {
  return v[rng() % v.size()];
}

/// Every value name in the graph: what a rewired input or output may be set to.
std::vector<std::string> valueNames(const onnx::GraphProto &g) {
  std::vector<std::string> names = {""};
  for (const auto &in : g.input())
    names.push_back(in.name());
  for (const auto &t : g.initializer())
    names.push_back(t.name());
  for (const auto &n : g.node())
    for (const auto &o : n.output())
      names.push_back(o);
  return names;
}

const std::vector<std::string> kOps = {
    "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Equal", "Where", "Add", "Sub",
    "Mul", "Div", "Neg", "Concat", "Expand", "Reshape", "Unsqueeze", "Squeeze", "Transpose",
    "Cast", "Identity", "Range", "Shape", "Gather", "Slice", "Softmax", "MatMul", "Cos",
    "Sin", "Trilu", "CumSum", "ReduceSum", "Tile", "ConstantOfShape", "Max", "Not", "And",
    "Sigmoid", "Sqrt", "Reciprocal", "Pow", "ReduceMean", "IsNaN", "GroupQueryAttention",
    "RotaryEmbedding", "SimplifiedLayerNormalization", "SkipSimplifiedLayerNormalization",
    "MatMulNBits", "MultiHeadAttention", "GatherBlockQuantized", "Constant"};
const std::vector<std::string> kAttrNames = {
    "axis", "perm", "to", "keepdims", "axes", "smooth_softmax", "softcap", "scale",
    "local_window_size", "do_rotary", "rotary_interleaved", "num_heads", "kv_num_heads",
    "unidirectional", "interleaved", "epsilon", "bits", "block_size", "K", "N", "start",
    "end", "exclusive", "upper", "batch_dims", "allowzero", "qk_output", "made_up"};

double specialValue(Rng &rng, double old) {
  const double values[] = {NAN, INFINITY, -INFINITY, 0.0, -0.0, 1.0, -1.0, 2.0, 1e30,
                           -3.4028234663852886e38, -65504.0, old * 2, -old, old + 1};
  return values[rng() % (sizeof(values) / sizeof(values[0]))];
}

int64_t specialInt(Rng &rng, int64_t old) {
  // Wrapping arithmetic: the old value may be INT64_MAX.
  const int64_t values[] = {0, 1, -1, 2, 3, -2, 4, 8, 16, 32, 1 << 20, INT64_MAX, INT64_MIN,
                            int64_t(uint64_t(old) + 1), int64_t(uint64_t(old) - 1),
                            int64_t(0 - uint64_t(old))};
  return values[rng() % (sizeof(values) / sizeof(values[0]))];
}

/// Overwrites one element of raw little-endian tensor data.
void mutateRaw(Rng &rng, onnx::TensorProto &t) {
  std::string &raw = *t.mutable_raw_data();
  if (raw.empty())
    return;
  switch (t.data_type()) {
  case onnx::TensorProto::FLOAT: {
    size_t n = raw.size() / 4;
    if (!n)
      return;
    size_t i = rng() % n;
    float f;
    std::memcpy(&f, &raw[4 * i], 4);
    f = float(specialValue(rng, f));
    std::memcpy(&raw[4 * i], &f, 4);
    return;
  }
  case onnx::TensorProto::FLOAT16: {
    size_t n = raw.size() / 2;
    if (!n)
      return;
    const uint16_t values[] = {0x7e00, 0x7c00, 0xfc00, 0x0000, 0x3c00, 0xbc00, 0xfbff};
    uint16_t h = values[rng() % 7];
    std::memcpy(&raw[2 * (rng() % n)], &h, 2);
    return;
  }
  case onnx::TensorProto::INT64: {
    size_t n = raw.size() / 8;
    if (!n)
      return;
    size_t i = rng() % n;
    int64_t v;
    std::memcpy(&v, &raw[8 * i], 8);
    v = specialInt(rng, v);
    std::memcpy(&raw[8 * i], &v, 8);
    return;
  }
  default:
    raw[rng() % raw.size()] = char(rng());
  }
}

void mutateAttribute(Rng &rng, onnx::NodeProto &node) {
  unsigned choice = rng() % 4;
  if (choice == 0 || node.attribute_size() == 0) { // add one
    onnx::AttributeProto *a = node.add_attribute();
    a->set_name(pick(rng, kAttrNames));
    if (rng() % 2) {
      a->set_type(onnx::AttributeProto::INT);
      a->set_i(specialInt(rng, 0));
    } else {
      a->set_type(onnx::AttributeProto::FLOAT);
      a->set_f(float(specialValue(rng, 1.0)));
    }
    return;
  }
  int index = int(rng() % node.attribute_size());
  if (choice == 1) { // remove one
    node.mutable_attribute()->DeleteSubrange(index, 1);
    return;
  }
  onnx::AttributeProto &a = *node.mutable_attribute(index);
  switch (a.type()) {
  case onnx::AttributeProto::INT:
    a.set_i(specialInt(rng, a.i()));
    break;
  case onnx::AttributeProto::FLOAT:
    a.set_f(float(specialValue(rng, a.f())));
    break;
  case onnx::AttributeProto::INTS:
    if (a.ints_size() && rng() % 3)
      a.set_ints(int(rng() % a.ints_size()), specialInt(rng, a.ints(0)));
    else if (rng() % 2)
      a.add_ints(specialInt(rng, 0));
    else
      a.clear_ints();
    break;
  case onnx::AttributeProto::TENSOR:
    mutateRaw(rng, *a.mutable_t());
    break;
  default:
    a.set_name(pick(rng, kAttrNames));
  }
}

void mutateModel(Rng &rng, onnx::ModelProto &model) {
  onnx::GraphProto &g = *model.mutable_graph();
  std::vector<std::string> names = valueNames(g);
  auto node = [&]() -> onnx::NodeProto * {
    return g.node_size() ? g.mutable_node(int(rng() % g.node_size())) : nullptr;
  };
  switch (rng() % 14) {
  case 0:
    if (onnx::NodeProto *n = node())
      n->set_op_type(pick(rng, kOps));
    return;
  case 1:
  case 2:
  case 3:
    if (onnx::NodeProto *n = node())
      mutateAttribute(rng, *n);
    return;
  case 4:
    if (onnx::NodeProto *n = node(); n && n->input_size())
      n->set_input(int(rng() % n->input_size()), pick(rng, names));
    return;
  case 5:
    if (onnx::NodeProto *n = node(); n && n->input_size() > 1) {
      int a = int(rng() % n->input_size()), b = int(rng() % n->input_size());
      std::swap(*n->mutable_input(a), *n->mutable_input(b));
    }
    return;
  case 6:
    if (onnx::NodeProto *n = node(); n && n->output_size())
      n->set_output(int(rng() % n->output_size()), pick(rng, names));
    return;
  case 7:
  case 8:
    if (g.initializer_size())
      mutateRaw(rng, *g.mutable_initializer(int(rng() % g.initializer_size())));
    return;
  case 9:
    if (g.initializer_size()) {
      onnx::TensorProto &t = *g.mutable_initializer(int(rng() % g.initializer_size()));
      if (t.dims_size() && rng() % 3)
        t.set_dims(int(rng() % t.dims_size()), specialInt(rng, t.dims(0)));
      else if (rng() % 2)
        t.add_dims(1);
      else
        t.clear_dims();
    }
    return;
  case 10:
    if (g.node_size() && rng() % 2)
      g.mutable_node()->DeleteSubrange(int(rng() % g.node_size()), 1);
    else if (onnx::NodeProto *n = node())
      *g.add_node() = onnx::NodeProto(*n);
    return;
  case 11:
    if (g.output_size() && rng() % 2)
      g.mutable_output()->DeleteSubrange(int(rng() % g.output_size()), 1);
    else
      g.add_output()->set_name(pick(rng, names));
    return;
  case 12:
    if (g.input_size()) {
      onnx::ValueInfoProto &in = *g.mutable_input(int(rng() % g.input_size()));
      auto *tt = in.mutable_type()->mutable_tensor_type();
      if (rng() % 2)
        tt->set_elem_type(int32_t(rng() % 17));
      else if (tt->shape().dim_size())
        tt->mutable_shape()->mutable_dim(int(rng() % tt->shape().dim_size()))
            ->set_dim_value(specialInt(rng, 1));
    }
    return;
  case 13:
    if (onnx::NodeProto *n = node())
      n->set_domain(rng() % 2 ? "com.microsoft" : "");
    return;
  }
}

} // namespace

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t maxSize,
                                          unsigned int seed) {
  Rng rng(seed);
  onnx::ModelProto model;
  // Some byte-level mutations too, to keep exercising the parser and the loader.
  if (rng() % 8 == 0 || !model.ParseFromArray(data, int(size)))
    return LLVMFuzzerMutate(data, size, maxSize);
  for (unsigned n = 1 + rng() % 3; n > 0; --n)
    mutateModel(rng, model);
  std::string out;
  if (!model.SerializeToString(&out) || out.size() > maxSize)
    return LLVMFuzzerMutate(data, size, maxSize);
  std::memcpy(data, out.data(), out.size());
  return out.size();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace midllama::onnx_import;
  static const char *dir = std::getenv("MIDLLAMA_FUZZ_DIR");
  std::string error;
  auto model = OnnxModel::loadFromMemory(
      llvm::StringRef(reinterpret_cast<const char *>(data), size), "fuzz.onnx",
      dir ? dir : ".", error);
  if (!model) {
    if (error.empty())
      __builtin_trap(); // every refusal must say why
    return 0;
  }
  mlir::MLIRContext context(mlir::MLIRContext::Threading::DISABLED);
  // Diagnostics of a failed verification are the finding, not noise to print per run.
  mlir::ScopedDiagnosticHandler quiet(&context, [](mlir::Diagnostic &) { return mlir::success(); });
  midllama::rt::ParamFileWriter writer;
  auto module = convertToLLM(*model, &context, writer, "fuzz.safetensors",
                             mlir::UnknownLoc::get(&context), error);
  if (!module) {
    if (error.empty())
      __builtin_trap();
    return 0;
  }
  if (mlir::failed(mlir::verify(*module)))
    __builtin_trap(); // the converter accepted the model but built invalid IR
  return 0;
}
