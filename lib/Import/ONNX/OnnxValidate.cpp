//===- OnnxValidate.cpp - SSA form and the graph's interface --------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The converter maps value names to values; if two nodes produced one name, the last would
// silently win, and a node output named like a graph input would replace the input. ONNX
// requires single static assignment and ONNX Runtime refuses such graphs, so do we, with
// the node named. libonnx's checker (OnnxChecker.cpp) repeats these checks; they are done
// here first because its messages are harder to read.
//
//===----------------------------------------------------------------------===//

#include "Validate.h"

#include <onnx/onnx_pb.h>

#include "llvm/ADT/StringMap.h"

using namespace midllama::onnx_import;

namespace {
std::string describe(const onnx::NodeProto &node, const onnx::GraphProto &graph) {
  std::string domain = node.domain().empty() ? "ai.onnx" : node.domain();
  return "node '" + node.name() + "' (" + domain + "::" + node.op_type() + ") in graph '" +
         graph.name() + "'";
}
} // namespace

bool midllama::onnx_import::detail::checkGraphStructure(const OnnxModel &model,
                                                        std::string &error) {
  const onnx::GraphProto &graph = model.proto().graph();
  std::string file = "'" + model.path().str() + "': ";
  if (graph.output_size() == 0) {
    error = file + "graph '" + graph.name() + "' has no outputs; there is nothing to import";
    return false;
  }
  llvm::StringMap<bool> inputs;
  for (const onnx::ValueInfoProto &in : graph.input()) {
    if (in.name().empty() || !inputs.try_emplace(in.name(), true).second) {
      error = file + "graph '" + graph.name() + "' has two inputs named '" + in.name() + "'";
      return false;
    }
  }
  llvm::StringMap<const onnx::NodeProto *> producer;
  for (const onnx::NodeProto &node : graph.node())
    for (const std::string &out : node.output()) {
      if (out.empty())
        continue;
      if (inputs.count(out)) {
        error = file + describe(node, graph) + ": its output '" + out +
                "' has the name of a graph input (values must be assigned once)";
        return false;
      }
      if (model.initializer(out)) {
        error = file + describe(node, graph) + ": its output '" + out +
                "' has the name of an initializer (values must be assigned once)";
        return false;
      }
      auto [it, inserted] = producer.try_emplace(out, &node);
      if (!inserted) {
        error = file + describe(node, graph) + ": its output '" + out +
                "' is also produced by " + describe(*it->second, graph) +
                " (values must be assigned once)";
        return false;
      }
    }
  llvm::StringMap<bool> outputs;
  for (const onnx::ValueInfoProto &out : graph.output()) {
    if (!outputs.try_emplace(out.name(), true).second) {
      error = file + "graph '" + graph.name() + "' lists output '" + out.name() + "' twice";
      return false;
    }
    if (!producer.count(out.name()) && !inputs.count(out.name()) &&
        !model.initializer(out.name())) {
      error = file + "graph output '" + out.name() + "' of graph '" + graph.name() +
              "' is not produced by any node";
      return false;
    }
  }
  return true;
}
