//===- OnnxToLLM.cpp - Convert an ONNX graph to flat llm IR ---------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Import/ONNX/OnnxToLLM.h"

#include "Converter.h"
#include "Validate.h"

#include "midllama/Dialect/LLM/IR/LLMOps.h"
#include "runtime/params/Half.h"

#include <onnx/onnx_pb.h>

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"

#include <algorithm>
#include <cmath>
#include <cstring>

using namespace mlir;
using namespace midllama;
using namespace midllama::llm;
using namespace midllama::onnx_import;

namespace midllama::onnx_import::detail {


/// Element `i` of a float tensor as fp32.
float floatAt(const OnnxTensor &t, int64_t i) {
  if (t.dataType == int32_t(OnnxDType::Float16)) {
    uint16_t h;
    std::memcpy(&h, t.bytes.data() + 2 * i, 2);
    return rt::halfToFloat(h);
  }
  float f;
  std::memcpy(&f, t.bytes.data() + 4 * i, 4);
  return f;
}


Type Converter::elementType(int32_t onnxType) {
  switch (OnnxDType(onnxType)) {
  case OnnxDType::Float:
    return b.getF32Type();
  case OnnxDType::Float16:
    return b.getF16Type();
  case OnnxDType::BFloat16:
    return b.getBF16Type();
  case OnnxDType::Int64:
    return b.getI64Type();
  case OnnxDType::Int32:
    return b.getI32Type();
  default:
    return {};
  }
}

/// Positions of the new tokens, for rotary embeddings: the graph's `position_ids` input if
/// it has one, else an input this importer adds (GroupQueryAttention derives positions from
/// sequence lengths; llm.rotary takes them explicitly).
Value Converter::positions() {
  if (positionsArg)
    return positionsArg;
  for (const onnx::ValueInfoProto &in : graph.input())
    if (in.name() == "position_ids")
      return positionsArg = input("position_ids");
  auto type = RankedTensorType::get({kDyn, kDyn}, b.getI64Type());
  (void)func.insertArgument(func.getNumArguments(), type,
                            b.getDictionaryAttr(b.getNamedAttr(
                                LLMDialect::kNameAttrName, b.getStringAttr("position_ids"))),
                            loc);
  positionsArg = entry->getArguments().back();
  return positionsArg;
}

Value Converter::transposed(Value w) {
  if (Value t = transposes.lookup(w))
    return t;
  auto wt = cast<WeightType>(w.getType());
  auto type = WeightType::get(b.getContext(), {wt.getShape()[1], wt.getShape()[0]},
                              wt.getElementType());
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointAfterValue(w);
  Value t = WeightTransposeOp::create(b, loc, type, w, StringAttr());
  transposes[w] = t;
  return t;
}

Value Converter::input(const std::string &name) {
  if (Value v = values.lookup(name))
    return v;
  if (model.initializer(name))
    return fail("initializer '" + name + "' of graph '" + graph.name() +
                "' is used as an activation operand outside the patterns raised to llm ops "
                "(RMSNorm, rotary, attention)");
  const onnx::NodeProto *node = producer(name);
  if (!node)
    return fail("value '" + name + "' in graph '" + graph.name() +
                "' is neither a graph input nor produced by a node");
  // A graph is acyclic and its conversion depth bounded; a hostile file gets an error,
  // not a stack overflow.
  if (!converting.insert(node).second)
    return fail(where(*node) + " depends on its own output (the graph has a cycle)");
  if (converting.size() > 4096) // about 10 per decoder layer in real models
    return fail(where(*node) + ": the graph is nested too deeply to convert");
  // The ops a node becomes carry its name, so that a verifier error names the node.
  Location outer = loc;
  loc = NameLoc::get(b.getStringAttr(node->name()), outer);
  bool converted = convertNode(*node);
  loc = outer;
  converting.erase(node);
  if (!converted)
    return {};
  Value v = values.lookup(name);
  if (!v)
    return fail("output '" + name + "' of " + where(*node) + " is not supported");
  return v;
}

Value Converter::weight(const std::string &name, int64_t rank, const onnx::NodeProto &user) {
  Value v = weightOfAnyRank(name);
  if (!v)
    return {};
  int64_t actual = cast<WeightType>(v.getType()).getRank();
  if (actual != rank)
    return fail(where(user) + ": its weight '" + name + "' must be " + std::to_string(rank) +
                "-D, but it is " + std::to_string(actual) + "-D");
  return v;
}

Value Converter::weightOfAnyRank(const std::string &name) {
  if (Value v = weights.lookup(name))
    return v;
  if (const onnx::NodeProto *node = producer(name)) {
    // An initializer passed through Identity is that initializer.
    if (node->op_type() == "Identity" && node->domain().empty() && node->input_size() == 1) {
      Value v = weightOfAnyRank(node->input(0));
      if (v)
        weights[name] = v;
      return v;
    }
    // A transposed initializer (the GenAI builder's tied embedding table).
    if (node->op_type() != "Transpose" || !node->domain().empty())
      return fail("weight operand '" + name + "' comes from " + where(*node) +
                  "; only initializers and their transposes are supported");
    // Without perm, Transpose reverses the axes: [1, 0] for the 2-D weight checked below
    // (optimum's tied lm_head writes it so).
    const onnx::AttributeProto *perm = attr(*node, "perm");
    if (perm && (perm->ints_size() != 2 || perm->ints(0) != 1 || perm->ints(1) != 0))
      return fail(where(*node) + ": only the 2-D transpose perm=[1, 0] of a weight is supported");
    Value in = weight(node->input(0), 2, *node);
    if (!in)
      return {};
    Value v = transposed(in);
    weights[name] = v;
    return v;
  }
  const OnnxTensor *init = model.initializer(name);
  if (!init)
    return fail("weight '" + name + "' is not an initializer of graph '" + graph.name() + "'");
  Type elem = elementType(init->dataType);
  if (!elem || !isa<FloatType>(elem) || init->dims.empty() || init->dims.size() > 2)
    return fail("initializer '" + name + "' is not a rank-1 or rank-2 float weight (" +
                onnxDTypeName(init->dataType).str() + ")");
  auto type = WeightType::get(b.getContext(), init->dims, elem);
  if (!declared.count(name)) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(func);
    ParamOp::create(b, loc, name, type, /*value=*/nullptr);
    declared[name] = true;
    rt::DType dtype = elem.isF32() ? rt::DType::F32 : elem.isF16() ? rt::DType::F16 : rt::DType::BF16;
    std::string writeError;
    OnnxModel *source = &model;
    if (!writer.addBorrowed(name, dtype, init->dims, init->bytes.data(), init->bytes.size(),
                            writeError, [source, init] { source->evict(*init); }))
      return fail(writeError);
  }
  Value v = WeightOp::create(b, loc, type, FlatSymbolRefAttr::get(b.getContext(), name));
  weights[name] = v;
  return v;
}


/// The fewest inputs each op this converter looks into must have: model files are
/// hostile, and the converters and pattern matchers index inputs directly.
static int minimumInputs(const onnx::NodeProto &node) {
  static const llvm::StringMap<int> standard = {
      {"Add", 2},    {"Cast", 1},       {"Concat", 1},     {"Cos", 1},       {"Div", 2},
      {"Expand", 2}, {"Gather", 2},     {"Identity", 1},   {"IsNaN", 1},     {"MatMul", 2},
      {"Mul", 2},    {"Neg", 1},        {"Pow", 2},        {"Reciprocal", 1}, {"ReduceMean", 1},
      {"Reshape", 2}, {"Sigmoid", 1},   {"Sin", 1},        {"Slice", 3},     {"Softmax", 1},
      {"Sqrt", 1},   {"Transpose", 1},  {"Unsqueeze", 1},  {"Where", 3},
      {"SimplifiedLayerNormalization", 2}};
  static const llvm::StringMap<int> microsoft = {
      {"SimplifiedLayerNormalization", 2}, {"SkipSimplifiedLayerNormalization", 3},
      {"RotaryEmbedding", 4},              {"MatMulNBits", 3},
      {"GatherBlockQuantized", 3},         {"GroupQueryAttention", 1},
      {"MultiHeadAttention", 1}};
  const llvm::StringMap<int> *table = node.domain().empty() || node.domain() == "ai.onnx"
                                          ? &standard
                                      : node.domain() == "com.microsoft" ? &microsoft
                                                                          : nullptr;
  if (!table)
    return 0;
  auto it = table->find(node.op_type());
  return it == table->end() ? 0 : it->second;
}

OwningOpRef<ModuleOp> Converter::run(StringRef paramFile, std::string &errorOut) {
  OwningOpRef<ModuleOp> owned = ModuleOp::create(loc);
  module = *owned;
  module->setAttr(LLMDialect::kParamFileAttrName, b.getStringAttr(paramFile));
  for (const onnx::NodeProto &node : graph.node()) {
    int need = minimumInputs(node);
    if (node.input_size() < need || node.output_size() < 1) {
      errorOut = "'" + model.path().str() + "': " + where(node) + " has " +
                 std::to_string(node.input_size()) + " inputs and " +
                 std::to_string(node.output_size()) + " outputs; it needs at least " +
                 std::to_string(need) + " inputs and one output";
      return nullptr;
    }
    if (std::string why = unsupportedAttribute(node); !why.empty()) {
      errorOut = "'" + model.path().str() + "': " + where(node) + ": " + why;
      return nullptr;
    }
    for (int i = 0; i < node.output_size(); ++i)
      if (!node.output(i).empty())
        producers[node.output(i)] = {&node, i};
  }

  // Graph inputs (initializers listed as inputs by old exporters are weights, not inputs).
  SmallVector<Type> argTypes;
  SmallVector<std::string> argNames;
  for (const onnx::ValueInfoProto &in : graph.input()) {
    if (model.initializer(in.name()))
      continue;
    const onnx::TypeProto_Tensor &tt = in.type().tensor_type();
    Type elem = elementType(tt.elem_type());
    if (!in.type().has_tensor_type() || !elem) {
      errorOut = "graph input '" + in.name() + "' has an unsupported type (" +
                 onnxDTypeName(tt.elem_type()).str() + ")";
      return nullptr;
    }
    SmallVector<int64_t> shape;
    for (const onnx::TensorShapeProto_Dimension &d : tt.shape().dim())
      shape.push_back(d.has_dim_value() && d.dim_value() > 0 ? d.dim_value() : kDyn);
    argTypes.push_back(RankedTensorType::get(shape, elem));
    argNames.push_back(in.name());
  }
  b.setInsertionPointToEnd(module.getBody());
  func = func::FuncOp::create(b, loc, "forward", b.getFunctionType(argTypes, {}));
  entry = func.addEntryBlock();
  for (auto [i, name] : llvm::enumerate(argNames)) {
    func.setArgAttr(i, LLMDialect::kNameAttrName, b.getStringAttr(name));
    values[name] = entry->getArgument(i);
  }
  b.setInsertionPointToEnd(entry);

  // Updated KV caches are made by the attention that reads them, so they are converted
  // last, after the outputs that lead to those attentions.
  SmallVector<Value> results;
  SmallVector<std::string> resultNames;
  for (bool caches : {false, true})
    for (const onnx::ValueInfoProto &out : graph.output())
      if (isCacheConcat(out.name()) == caches && !input(out.name())) {
        errorOut = "'" + model.path().str() + "': " + error;
        return nullptr;
      }
  for (const onnx::ValueInfoProto &out : graph.output()) {
    results.push_back(values.lookup(out.name()));
    resultNames.push_back(out.name());
  }
  func::ReturnOp::create(b, loc, results);
  func.setType(b.getFunctionType(entry->getArgumentTypes(), TypeRange(results)));
  for (auto [i, name] : llvm::enumerate(resultNames))
    func.setResultAttr(i, LLMDialect::kNameAttrName, b.getStringAttr(name));

  // The llm verifiers check what the ONNX graph only declares (shapes of inputs, heads of
  // caches); a disagreement is the model's, reported as one line naming the node.
  std::string diagnostic;
  const onnx::NodeProto *culprit = nullptr;
  {
    ScopedDiagnosticHandler capture(b.getContext(), [&](Diagnostic &d) {
      if (diagnostic.empty()) {
        diagnostic = d.str();
        if (auto name = dyn_cast<NameLoc>(d.getLocation()))
          for (const onnx::NodeProto &node : graph.node())
            if (node.name() == name.getName().getValue())
              culprit = &node;
      }
      return success();
    });
    if (succeeded(verify(module)))
      return owned;
  }
  errorOut = "'" + model.path().str() + "': " +
             (culprit ? where(*culprit) : "graph '" + graph.name() + "'") +
             ": the model's shapes are inconsistent (" + diagnostic + ")";
  return nullptr;
}

} // namespace midllama::onnx_import::detail

OwningOpRef<ModuleOp> midllama::onnx_import::convertToLLM(OnnxModel &model,
                                                          MLIRContext *context,
                                                          rt::ParamFileWriter &writer,
                                                          StringRef paramFile, Location loc,
                                                          std::string &error) {
  context->loadDialect<LLMDialect, func::FuncDialect>();
  // A graph ONNX Runtime would refuse is refused before anything is read from it.
  if (!detail::checkGraphStructure(model, error) || !detail::checkWithOnnx(model, error))
    return nullptr;
  model.elideIdentities();
  detail::Converter converter(model, context, writer, loc);
  OwningOpRef<ModuleOp> module = converter.run(paramFile, error);
  if (module && converter.matMulNBitsAskForInt8())
    (*module)->setAttr(LLMDialect::kActivationsAttrName,
                       StringAttr::get(context, "int8-weight-groups"));
  return module;
}
