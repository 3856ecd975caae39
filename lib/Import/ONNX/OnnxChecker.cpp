//===- OnnxChecker.cpp - libonnx's checker and shape inference ------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// libonnx (Debian's 1.12) validates a model the way ONNX Runtime's loader does: the
// checker (SSA, topological order, each standard node against its schema: arity,
// attribute names and types) and shape inference (types and shapes of every standard
// node). Both throw C++ exceptions, so this file is built with them (a plain library, see
// CMakeLists.txt) and turns every exception into one line. libonnx also crashes on some
// hostile graphs, so all of it runs in a child process (checkWithOnnx at the end).
//
// These things are adapted, all on a copy of the graph, never on the model:
// - Nodes are sorted topologically, as ONNX Runtime does (some exporters do not sort).
// - ONNX Runtime's ops (com.microsoft, and SimplifiedLayerNormalization in the default
//   domain) have no schemas in libonnx. The checker fails on unknown ops of the default
//   domain, and shape inference stops reporting errors after the first op it cannot infer.
//   They are given permissive schemas (any inputs, any attributes, outputs typed like the
//   activation input, sizes unknown) through a registry that wraps libonnx's: the
//   converter checks their attributes against its own table (ContribAttributes.cpp).
// - libonnx 1.12 knows IR version 8 and opset 17; newer files (IR 9, 10) add nothing these
//   checks read, so the copy says 8. Standard ops whose signature changed in opsets 18-22
//   (ReduceMean's axes became an input...) get permissive schemas too.
// - value_info and declared output shapes are dropped: they are hints, and exporters write
//   stale ones that ONNX Runtime only warns about.
// - Large initializers are declared as inputs of their type and shape instead of copied;
//   small ones (shapes, axes, constants) keep their values, which inference propagates.
// Symbolic input sizes are bound to small concrete ones (batch 1, a decode step after 4),
// so inference computes static shapes and finds mismatches instead of skipping them.
//
//===----------------------------------------------------------------------===//

#include "Validate.h"

#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/shape_inference/implementation.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <map>
#include <unordered_map>
#include <vector>
#include <memory>
#include <string>

using namespace midllama::onnx_import;
using midllama::onnx_import::detail::kMaxTensorRank;

namespace {

constexpr const char *kMicrosoft = "com.microsoft";
/// What the rank bound (Registry::rankBounded) stopped first: why, and which node, as the
/// op and how many nodes of that op inference had met before it (it visits nodes in graph
/// order, and its context does not name the node). The checks run single-threaded in a
/// child process of their own.
struct RankBound {
  std::string why;
  std::string op;
  int occurrence = 0;
  std::map<std::string, int> seen; // nodes inferred so far, by op
};
RankBound &rankBound() {
  static RankBound state;
  return state;
}

/// Permissive schemas for the ops ONNX Runtime adds; libonnx's for the rest.
class Registry final : public onnx::ISchemaRegistry {
public:
  const onnx::OpSchema *GetSchema(const std::string &key, const int maxInclusiveVersion,
                                  const std::string &domain) const override {
    bool standard = domain.empty() || domain == "ai.onnx";
    bool changed = standard && maxInclusiveVersion > kLastKnownOpset && changedSince(key);
    if (!changed)
      if (const onnx::OpSchema *s =
              onnx::OpSchemaRegistry::Instance()->GetSchema(key, maxInclusiveVersion, domain))
        return rankBounded(*s);
    if (!changed && !isRuntimeOp(key, domain))
      return nullptr;
    std::string id = domain + "::" + key;
    auto it = schemas.find(id);
    if (it == schemas.end()) {
      auto schema = std::make_unique<onnx::OpSchema>(key, "midllama", 0);
      schema->SetDomain(domain)
          .SinceVersion(1)
          .AllowUncheckedAttributes()
          .Input(0, "inputs", "", "T", onnx::OpSchema::Variadic, /*is_homogeneous=*/false,
                 /*min_arity=*/0)
          .Output(0, "outputs", "", "T", onnx::OpSchema::Variadic, /*is_homogeneous=*/false,
                  /*min_arity=*/0)
          .TypeConstraint("T", onnx::OpSchema::all_tensor_types_with_bfloat(), "any tensor")
          .TypeAndShapeInferenceFunction([source = typeSource(key)](onnx::InferenceContext &ctx) {
            // Element types only, so that the nodes reading the outputs are still checked;
            // sizes stay unknown.
            if (ctx.getNumInputs() <= source || !ctx.getInputType(source) ||
                !ctx.getInputType(source)->has_tensor_type())
              return;
            for (size_t i = 0; i < ctx.getNumOutputs(); ++i)
              onnx::propagateElemTypeFromInputToOutput(ctx, source, i);
          });
      schema->Finalize();
      it = schemas.emplace(id, std::move(schema)).first;
    }
    return it->second.get();
  }

private:
  /// libonnx's schema with its inference bounded to tensors of rank kMaxTensorRank. An
  /// output's rank can come from another tensor's length (Expand, Reshape, ConstantOfShape
  /// take it from their shape input), and libonnx creates one symbolic dimension per axis
  /// for every node downstream: a Reshape to a 1M-entry shape feeding one Expand took 40 s
  /// of inference (test/fuzz found it). The converter supports no rank above the bound, so
  /// such a graph is refused (runChecks reports rankBound()). The node is not failed with
  /// an InferenceError: strict mode would go on with its outputs untyped, and libonnx
  /// 1.12's inference of the next node dereferences the missing type. Its outputs keep
  /// their element types and lose their shapes, so nothing downstream is large.
  const onnx::OpSchema *rankBounded(const onnx::OpSchema &original) const {
    if (!original.has_type_and_shape_inference_function())
      return &original; // inferred through its function body, op by op
    std::string id = original.domain() + "::" + original.Name() + "@" +
                     std::to_string(original.SinceVersion());
    auto it = schemas.find(id);
    if (it != schemas.end())
      return it->second.get();
    auto schema = std::make_unique<onnx::OpSchema>(original);
    int shapeInput = original.Name() == "ConstantOfShape" ? 0
                     : original.Name() == "Expand" || original.Name() == "Reshape" ? 1
                                                                                   : -1;
    schema->TypeAndShapeInferenceFunction([infer = original.GetTypeAndShapeInferenceFunction(),
                                           shapeInput, op = original.Name()](
                                              onnx::InferenceContext &ctx) {
      int occurrence = rankBound().seen[op]++;
      std::string why = inputRankProblem(ctx, shapeInput);
      if (why.empty()) {
        infer(ctx);
        for (size_t i = 0; i < ctx.getNumOutputs() && why.empty(); ++i)
          if (int rank = rankOf(ctx.getOutputType(i)); rank > kMaxTensorRank)
            why = "output " + std::to_string(i) + " would have rank " + std::to_string(rank);
      } else if (ctx.getNumInputs() > 0 && ctx.getInputType(0) &&
                 ctx.getInputType(0)->has_tensor_type()) {
        for (size_t i = 0; i < ctx.getNumOutputs(); ++i)
          onnx::propagateElemTypeFromInputToOutput(ctx, 0, i);
      }
      if (why.empty())
        return;
      why += ", above " + std::to_string(kMaxTensorRank) + ", the highest rank supported";
      if (rankBound().why.empty())
        rankBound() = {why, op, occurrence, {}};
      for (size_t i = 0; i < ctx.getNumOutputs(); ++i)
        if (onnx::TypeProto *out = ctx.getOutputType(i); out && out->has_tensor_type())
          out->mutable_tensor_type()->clear_shape();
    });
    return schemas.emplace(id, std::move(schema)).first->second.get();
  }
  /// Why a node's inputs would make inference build a tensor above the rank bound.
  static std::string inputRankProblem(onnx::InferenceContext &ctx, int shapeInput) {
    for (size_t i = 0; i < ctx.getNumInputs(); ++i)
      if (int rank = rankOf(ctx.getInputType(i)); rank > kMaxTensorRank)
        return "input " + std::to_string(i) + " has rank " + std::to_string(rank);
    if (shapeInput < 0 || size_t(shapeInput) >= ctx.getNumInputs())
      return {};
    const onnx::TypeProto *t = ctx.getInputType(shapeInput);
    if (rankOf(t) != 1 || !t->tensor_type().shape().dim(0).has_dim_value())
      return {};
    int64_t entries = t->tensor_type().shape().dim(0).dim_value();
    if (entries <= kMaxTensorRank)
      return {};
    return "its shape input has " + std::to_string(entries) +
           " entries: the output would have that rank";
  }
  static int rankOf(const onnx::TypeProto *type) {
    if (!type || !type->has_tensor_type() || !type->tensor_type().has_shape())
      return -1;
    return type->tensor_type().shape().dim_size();
  }
  /// The newest default-domain opset libonnx 1.12 has schemas for.
  static constexpr int kLastKnownOpset = 17;
  /// Standard ops whose inputs or attributes changed in opsets 18 to 22 (not only their
  /// type lists): libonnx's older schema would refuse a correct node, so they are checked
  /// permissively (the converter reads the ones it uses itself).
  static bool changedSince(const std::string &op) {
    static const char *const ops[] = {
        "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean",
        "ReduceMin", "ReduceProd", "ReduceSumSquare", "Split", "Pad", "Resize", "ScatterND",
        "ScatterElements", "CenterCropPad", "Col2Im", "GroupNormalization", "LpPool", "Mish",
        "BitwiseAnd", "BitwiseOr", "BitwiseXor", "BitwiseNot", "AffineGrid", "Gelu",
        "GridSample", "ImageDecoder", "DeformConv", "RegexFullMatch", "StringConcat",
        "StringSplit", "AveragePool", "Attention", "RMSNormalization", "RotaryEmbedding",
        "TensorScatter", "Swish"};
    for (const char *o : ops)
      if (op == o)
        return true;
    return false;
  }
  /// The input whose element type every output has: the activation for all these ops but
  /// GatherBlockQuantized, whose rows have the scales' type.
  static size_t typeSource(const std::string &op) {
    return op == "GatherBlockQuantized" ? 2 : 0;
  }
  static bool isRuntimeOp(const std::string &op, const std::string &domain) {
    // Every com.microsoft op: the converter refuses those it does not know by name. In the
    // default domain, only the one ONNX Runtime registers there.
    return domain == kMicrosoft || ((domain.empty() || domain == "ai.onnx") &&
                                    op == "SimplifiedLayerNormalization");
  }
  mutable std::map<std::string, std::unique_ptr<onnx::OpSchema>> schemas;
};

/// One line from a libonnx message: what precedes the checker's appended context, with
/// line breaks and the repeated "[ShapeInferenceError]" tags removed.
std::string oneLine(std::string message) {
  if (size_t context = message.find("\n\n==> Context"); context != std::string::npos)
    message.resize(context);
  std::string out;
  for (char c : message) {
    if (c == '\n' || c == '\r' || c == '\t')
      c = ' ';
    if (c == ' ' && (out.empty() || out.back() == ' '))
      continue;
    out += c;
  }
  for (const std::string tag : {"[ShapeInferenceError] ", "[TypeInferenceError] "})
    for (size_t p; (p = out.find(tag)) != std::string::npos;)
      out.erase(p, tag.size());
  // Strict shape inference lists every failing node; the first is the cause (the others
  // mostly follow from it), and its node is named by the caller.
  const std::string list = "Shape inference error(s): ";
  if (out.compare(0, list.size(), list) == 0)
    out.erase(0, list.size());
  if (out.compare(0, 9, "(op_type:") == 0)
    if (size_t end = out.find("): "); end != std::string::npos)
      out.erase(0, end + 3);
  if (size_t next = out.find(" (op_type:"); next != std::string::npos)
    out.resize(next);
  while (!out.empty() && out.back() == ' ')
    out.pop_back();
  return out;
}

/// The node a libonnx message is about, found by the name it quotes.
const onnx::NodeProto *nodeNamed(const onnx::GraphProto &graph, const std::string &message,
                                 const std::string &before, const std::string &after) {
  size_t start = message.find(before);
  if (start == std::string::npos)
    return nullptr;
  start += before.size();
  size_t end = message.find(after, start);
  if (end == std::string::npos)
    return nullptr;
  std::string name = message.substr(start, end - start);
  for (const onnx::NodeProto &node : graph.node())
    if (node.name() == name && !name.empty())
      return &node;
  return nullptr;
}

/// Concrete sizes for symbolic input dimensions, by the role of the dimension (the same
/// binding GraphEval.h uses): axis 0 is the batch (1), axis 2 of a 4-D input the cached
/// positions (4), axis 1 of a 2-D input the new tokens (1 with a cache, else 3), or the
/// whole sequence (5) for a 2-D input whose length differs from the token ids'
/// (attention_mask) in a model with a cache. Other symbols stay symbolic.
void bindSizes(onnx::GraphProto &graph, const OnnxModel &model) {
  std::string idsLength;
  bool cache = false;
  for (const onnx::ValueInfoProto &in : graph.input()) {
    if (model.initializer(in.name()))
      continue;
    const onnx::TensorShapeProto &shape = in.type().tensor_type().shape();
    if (shape.dim_size() == 4)
      cache = true;
  }
  for (const onnx::NodeProto &node : graph.node())
    if (node.op_type() == "Gather" && node.input_size() >= 2 && idsLength.empty())
      for (const onnx::ValueInfoProto &in : graph.input())
        if (in.name() == node.input(1) && in.type().tensor_type().shape().dim_size() == 2)
          idsLength = in.type().tensor_type().shape().dim(1).dim_param();
  std::map<std::string, int64_t> sizes;
  for (onnx::ValueInfoProto &in : *graph.mutable_input()) {
    if (model.initializer(in.name()) || !in.type().has_tensor_type())
      continue;
    onnx::TensorShapeProto *shape = in.mutable_type()->mutable_tensor_type()->mutable_shape();
    int rank = shape->dim_size();
    for (int i = 0; i < rank; ++i) {
      onnx::TensorShapeProto_Dimension *d = shape->mutable_dim(i);
      if (d->has_dim_value() || d->dim_param().empty())
        continue;
      bool total = cache && !idsLength.empty() && d->dim_param() != idsLength;
      int64_t size = i == 0                ? 1
                     : rank == 4 && i == 2 ? 4
                     : rank == 2 && i == 1 ? (total ? 5 : cache ? 1 : 3)
                                           : -1;
      auto [it, inserted] = sizes.try_emplace(d->dim_param(), size);
      if (!inserted && it->second != size)
        it->second = -1; // one symbol in two roles: leave it symbolic
    }
  }
  for (onnx::ValueInfoProto &in : *graph.mutable_input()) {
    if (model.initializer(in.name()) || !in.type().has_tensor_type())
      continue;
    onnx::TensorShapeProto *shape = in.mutable_type()->mutable_tensor_type()->mutable_shape();
    for (int i = 0; i < shape->dim_size(); ++i) {
      onnx::TensorShapeProto_Dimension *d = shape->mutable_dim(i);
      if (d->has_dim_value() || d->dim_param().empty())
        continue;
      int64_t size = sizes[d->dim_param()];
      if (size > 0)
        d->set_dim_value(size);
    }
  }
}

/// libonnx 1.12's shape inference trusts some attribute values and crashes on hostile ones
/// (found by test/fuzz/onnx-converter.test). They are checked here first, in the words of
/// the ONNX specification; the error names the node.
std::string untrustedAttributes(const onnx::NodeProto &node) {
  bool standard = node.domain().empty() || node.domain() == "ai.onnx";
  if (!standard)
    return {};
  for (const onnx::AttributeProto &a : node.attribute()) {
    if (node.op_type() == "Transpose" && a.name() == "perm") {
      // A permutation of 0 .. rank - 1 (out-of-range entries are read out of bounds).
      std::vector<bool> seen(a.ints_size(), false);
      for (int64_t p : a.ints()) {
        if (p < 0 || p >= a.ints_size() || seen[p])
          return "perm is not a permutation of the input's axes";
        seen[p] = true;
      }
    }
  }
  return {};
}

/// Nodes in dependency order, as ONNX Runtime sorts them before running a graph (real
/// exports are not always sorted; the checker insists). Nodes on a cycle keep their place,
/// for the checker to report.
void sortTopologically(onnx::GraphProto &graph) {
  int n = graph.node_size();
  std::unordered_map<std::string, int> producer;
  for (int i = 0; i < n; ++i)
    for (const std::string &out : graph.node(i).output())
      if (!out.empty())
        producer.emplace(out, i);
  std::vector<int> order, state(n, 0); // 0 new, 1 on the stack, 2 placed
  order.reserve(n);
  for (int root = 0; root < n; ++root) {
    if (state[root])
      continue;
    // Iterative depth-first search: (node, next input to visit).
    std::vector<std::pair<int, int>> stack = {{root, 0}};
    state[root] = 1;
    while (!stack.empty()) {
      auto &[node, next] = stack.back();
      const onnx::NodeProto &proto = graph.node(node);
      if (next < proto.input_size()) {
        auto it = producer.find(proto.input(next++));
        if (it != producer.end() && state[it->second] == 0) {
          state[it->second] = 1;
          stack.push_back({it->second, 0});
        }
        continue;
      }
      state[node] = 2;
      order.push_back(node);
      stack.pop_back();
    }
  }
  google::protobuf::RepeatedPtrField<onnx::NodeProto> sorted;
  for (int i : order)
    *sorted.Add() = graph.node(i);
  graph.mutable_node()->Swap(&sorted);
}

/// The copy the checks run on (see the file comment).
std::unique_ptr<onnx::ModelProto> checkableCopy(const OnnxModel &model) {
  const onnx::ModelProto &proto = model.proto();
  const onnx::GraphProto &graph = proto.graph();
  auto copy = std::make_unique<onnx::ModelProto>();
  copy->set_ir_version(std::min<int64_t>(proto.ir_version(), onnx::Version::IR_VERSION));
  *copy->mutable_opset_import() = proto.opset_import();
  *copy->mutable_functions() = proto.functions();
  onnx::GraphProto *g = copy->mutable_graph();
  g->set_name(graph.name());
  *g->mutable_node() = graph.node();
  sortTopologically(*g);
  *g->mutable_input() = graph.input();
  // Declared output sizes and intermediate value_info are advisory (ONNX Runtime warns
  // when they disagree with inference); their element types are not.
  *g->mutable_output() = graph.output();
  for (onnx::ValueInfoProto &out : *g->mutable_output())
    if (out.type().has_tensor_type())
      for (onnx::TensorShapeProto_Dimension &d :
           *out.mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim())
        d.Clear(); // the rank stays
  // Graph inputs that repeat an initializer (old exporters) are dropped, then every
  // initializer is added back: small ones with their values, large ones as inputs.
  auto *inputs = g->mutable_input();
  for (int i = inputs->size() - 1; i >= 0; --i)
    if (model.initializer(inputs->Get(i).name()))
      inputs->DeleteSubrange(i, 1);
  bindSizes(*g, model);
  for (const OnnxTensor &t : model.initializers()) {
    if (t.numElements() <= 1024) {
      onnx::TensorProto *init = g->add_initializer();
      init->set_name(t.name);
      init->set_data_type(t.dataType);
      for (int64_t d : t.dims)
        init->add_dims(d);
      init->set_raw_data(t.bytes.data(), t.bytes.size());
      continue;
    }
    onnx::ValueInfoProto *in = g->add_input();
    in->set_name(t.name);
    onnx::TypeProto_Tensor *tt = in->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(t.dataType);
    for (int64_t d : t.dims)
      tt->mutable_shape()->add_dim()->set_dim_value(d);
  }
  return copy;
}

std::string where(const onnx::NodeProto &node, const onnx::GraphProto &graph) {
  std::string domain = node.domain().empty() ? "ai.onnx" : node.domain();
  return "node '" + node.name() + "' (" + domain + "::" + node.op_type() + ") in graph '" +
         graph.name() + "'";
}

} // namespace

namespace {
/// The node the rank bound stopped at: the occurrence-th node of its op in the copy's
/// order, which is the order inference visits.
std::string rankBoundCulprit(const onnx::GraphProto &copy) {
  int occurrence = rankBound().occurrence;
  for (const onnx::NodeProto &node : copy.node())
    if (node.op_type() == rankBound().op && occurrence-- == 0)
      return where(node, copy);
  return "graph '" + copy.name() + "'";
}

/// The registry, with libonnx's own schemas registered: built once per process, before
/// the first fork, so that each child inherits it instead of registering ~200 schemas
/// again (most of a child's time on a small model).
const Registry &schemaRegistry() {
  static const Registry *registry = [] {
    onnx::OpSchemaRegistry::Schema("Add", 17, ""); // registers libonnx's schemas
    return new Registry();
  }();
  return *registry;
}

/// The checks themselves, in this process.
bool runChecks(const OnnxModel &model, std::string &error) {
  const onnx::GraphProto &graph = model.proto().graph();
  std::string file = "'" + model.path().str() + "': ";
  const Registry &registry = schemaRegistry();
  std::string stage = "the ONNX checker";
  try {
    std::unique_ptr<onnx::ModelProto> copy = checkableCopy(model);
    onnx::checker::CheckerContext ctx;
    ctx.set_ir_version(int(copy->ir_version()));
    std::unordered_map<std::string, int> opsets;
    for (const onnx::OperatorSetIdProto &o : copy->opset_import())
      opsets[o.domain()] = int(o.version());
    ctx.set_opset_imports(opsets);
    ctx.set_schema_registry(&registry);
    onnx::checker::LexicalScopeContext lex;
    onnx::checker::check_graph(copy->graph(), ctx, lex);
    for (const onnx::NodeProto &node : graph.node())
      if (std::string why = untrustedAttributes(node); !why.empty()) {
        error = file + where(node, graph) + ": " + why;
        return false;
      }

    stage = "ONNX shape inference";
    rankBound() = {}; // one model's inference (each check runs in a fresh child anyway)
    onnx::ShapeInferenceOptions options(/*check_type=*/true, /*strict_mode=*/1,
                                        /*data_prop=*/true);
    onnx::shape_inference::InferShapes(*copy, &registry, options);
    if (!rankBound().why.empty()) {
      error = file + rankBoundCulprit(copy->graph()) + ": " + stage +
              " refuses it: " + rankBound().why;
      return false;
    }
    return true;
  } catch (const std::exception &e) {
    std::string message = e.what();
    const onnx::NodeProto *node = nodeNamed(graph, message, "Name: ", " OpType:");
    if (!node)
      node = nodeNamed(graph, message, "name: ", " OpType:");
    if (!node)
      node = nodeNamed(graph, message, "node name: ", "):");
    error = file + (node ? where(*node, graph) : "graph '" + graph.name() + "'") + ": " +
            stage + " refuses it: " + oneLine(message);
  } catch (...) {
    error = file + "graph '" + graph.name() + "': " + stage + " failed";
  }
  return false;
}
} // namespace

bool midllama::onnx_import::detail::checkWithOnnx(const OnnxModel &model, std::string &error) {
  // libonnx 1.12 is not hardened against hostile graphs: its shape inference dereferences
  // null on some out-of-range shape data and attribute values (found by the converter
  // fuzzer). The checks run in a child process, so that a crash there is a refusal, not
  // a crash of the importer; the child's result comes back through a pipe.
  std::string prefix = "'" + model.path().str() + "': graph '" + model.proto().graph().name() +
                       "': ";
  (void)schemaRegistry();
  int fds[2];
  if (pipe(fds) != 0) {
    error = prefix + "cannot run the ONNX checks: " + std::strerror(errno);
    return false;
  }
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    error = prefix + "cannot run the ONNX checks: " + std::strerror(errno);
    return false;
  }
  if (pid == 0) {
    // The child: no sanitizer or fuzzer crash handling and no output of its own; it dies
    // of the signal if libonnx crashes.
    close(fds[0]);
    if (int devnull = open("/dev/null", O_WRONLY); devnull >= 0)
      dup2(devnull, STDERR_FILENO);
    for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL})
      signal(sig, SIG_DFL);
    std::string message;
    std::string out = runChecks(model, message) ? "1" : "0" + message;
    for (size_t done = 0; done < out.size();) {
      ssize_t n = write(fds[1], out.data() + done, out.size() - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        _exit(2);
      done += size_t(n);
    }
    _exit(0);
  }
  close(fds[1]);
  std::string result;
  char buffer[4096];
  for (;;) {
    ssize_t n = read(fds[0], buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    result.append(buffer, size_t(n));
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && !result.empty()) {
    if (result[0] == '1')
      return true;
    error = result.substr(1);
    return false;
  }
  error = prefix + "libonnx's checker or shape inference crashed on it (" +
          (WIFSIGNALED(status) ? "signal " + std::to_string(WTERMSIG(status))
                               : "exit status " + std::to_string(WEXITSTATUS(status))) +
          "): the model is malformed in a way libonnx 1.12 does not report; refused";
  return false;
}
