//===- LLMStats.cpp - Parameter counts, bytes and weight memory -----------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The first lines of the memory report: where the parameters are, what storage they take and
// how much memory the weights need. Bytes come from WeightLayout, the same code that decides
// what the parameter files hold, so the report cannot drift from what is stored.
//
//===----------------------------------------------------------------------===//

#include "OptionChecks.h"

#include "midllama/Dialect/LLM/IR/LLMOps.h"
#include "midllama/Dialect/LLM/IR/WeightLayout.h"
#include "midllama/Params/ParamFiles.h"
#include "midllama/Transforms/Passes.h"
#include "runtime/support/OutputFile.h"

#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/SmallSet.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <map>

namespace midllama {
#define GEN_PASS_DEF_LLMSTATS
#include "midllama/Transforms/Passes.h.inc"
} // namespace midllama

using namespace mlir;
using namespace midllama;
using namespace midllama::llm;

namespace {

/// Where a parameter is used: one decoder layer, outside all layers, several places, or
/// nowhere. Layers sort first, by index.
struct Group {
  enum Kind { Layer, Outside, Shared, Unused } kind;
  int64_t layer = -1;

  bool operator<(const Group &o) const {
    return std::tie(kind, layer) < std::tie(o.kind, o.layer);
  }
  std::string name() const {
    switch (kind) {
    case Layer:
      return "layer " + std::to_string(layer);
    case Outside:
      return "outside layers";
    case Shared:
      return "shared";
    case Unused:
      return "unused";
    }
    llvm_unreachable("unknown group");
  }
};

struct Tally {
  int64_t tensors = 0; // parameters declared
  int64_t params = 0;  // logical weights
  int64_t bytes = 0;
  int64_t alignedBytes = 0;

  void add(const Tally &o) {
    tensors += o.tensors;
    params += o.params;
    bytes += o.bytes;
    alignedBytes += o.alignedBytes;
  }
  double bitsPerParam() const { return params ? 8.0 * bytes / params : 0.0; }
};

struct ParamInfo {
  std::string name;
  std::string format;
  Group group;
  Tally tally;
};

Group classify(const llvm::SmallSet<int64_t, 4> &uses) {
  // -1 stands for a use outside any decoder layer.
  if (uses.empty())
    return {Group::Unused};
  if (uses.size() > 1)
    return {Group::Shared};
  int64_t only = *uses.begin();
  return only < 0 ? Group{Group::Outside} : Group{Group::Layer, only};
}

void printTable(llvm::raw_ostream &os, ArrayRef<ParamInfo> params,
                const std::map<Group, Tally> &groups,
                const llvm::MapVector<StringRef, Tally> &formats, const Tally &total,
                bool perParam) {
  // The first column is as wide as its longest label, so long parameter names stay aligned.
  std::vector<std::string> paramLabels;
  size_t width = 24;
  for (const auto &[format, tally] : formats)
    width = std::max(width, format.size() + 2);
  if (perParam) {
    for (const ParamInfo &p : params) {
      paramLabels.push_back(p.name + " [" + p.format + "]");
      width = std::max(width, paramLabels.back().size() + 2);
    }
  }
  auto header = [&](StringRef first) {
    os << "  " << llvm::left_justify(first, width) << llvm::right_justify("tensors", 8)
       << llvm::right_justify("params", 14) << llvm::right_justify("bytes", 14)
       << llvm::right_justify("bits/param", 12) << "\n";
  };
  auto row = [&](StringRef label, const Tally &t) {
    os << "  " << llvm::left_justify(label, width)
       << llvm::right_justify(std::to_string(t.tensors), 8)
       << llvm::right_justify(std::to_string(t.params), 14)
       << llvm::right_justify(std::to_string(t.bytes), 14)
       << llvm::format("%12.3f", t.bitsPerParam()) << "\n";
  };
  os << "midllama weight statistics\n";
  header("group");
  for (const auto &[group, tally] : groups)
    row(group.name(), tally);
  row("total", total);
  os << "\n";
  header("storage format");
  for (const auto &[format, tally] : formats)
    row(format, tally);
  if (perParam) {
    os << "\n";
    header("parameter [format]");
    for (auto [p, label] : llvm::zip(params, paramLabels))
      row(label, p.tally);
  }
  os << "\nweight memory: " << total.bytes << " bytes stored, " << total.alignedBytes
     << " bytes mapped (" << llvm::format("%.2f", total.alignedBytes / 1048576.0)
     << " MiB, tensors aligned to " << kParamAlignment << " bytes)\n"
     << "vs fp16: " << 2 * total.params << " bytes, stored/fp16 = "
     << llvm::format("%.3f", total.params ? total.bytes / (2.0 * total.params) : 0.0)
     << "\n";
}

llvm::json::Object toJSON(const Tally &t) {
  return llvm::json::Object{{"tensors", t.tensors},
                            {"params", t.params},
                            {"bytes", t.bytes},
                            {"aligned_bytes", t.alignedBytes},
                            {"bits_per_param", t.bitsPerParam()}};
}

void printJSON(llvm::raw_ostream &os, ArrayRef<ParamInfo> params,
               const std::map<Group, Tally> &groups,
               const llvm::MapVector<StringRef, Tally> &formats, const Tally &total) {
  llvm::json::Array groupArray, formatArray, paramArray;
  for (const auto &[group, tally] : groups) {
    llvm::json::Object o = toJSON(tally);
    o["group"] = group.name();
    if (group.kind == Group::Layer)
      o["layer"] = group.layer;
    groupArray.push_back(std::move(o));
  }
  for (const auto &[format, tally] : formats) {
    llvm::json::Object o = toJSON(tally);
    o["format"] = format;
    formatArray.push_back(std::move(o));
  }
  for (const ParamInfo &p : params) {
    llvm::json::Object o = toJSON(p.tally);
    o.erase("tensors");
    o["name"] = p.name;
    o["format"] = p.format;
    o["group"] = p.group.name();
    paramArray.push_back(std::move(o));
  }
  llvm::json::Object root{{"groups", std::move(groupArray)},
                          {"formats", std::move(formatArray)},
                          {"parameters", std::move(paramArray)},
                          {"total", toJSON(total)},
                          {"alignment", kParamAlignment},
                          {"fp16_bytes", 2 * total.params}};
  os << llvm::formatv("{0:2}", llvm::json::Value(std::move(root))) << "\n";
}

struct LLMStatsPass : CheckedOptionsPass<LLMStatsPass, midllama::impl::LLMStatsBase> {
  using CheckedOptionsPass::CheckedOptionsPass;

  std::string checkOptions() const {
    OptionChecker c("llm-stats");
    c.oneOf("format", format, {"table", "json"})
        .nonEmpty("output", output, "the report file, or - for stdout");
    return c.message();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();

    // Which layers read each parameter.
    llvm::StringMap<llvm::SmallSet<int64_t, 4>> uses;
    module.walk([&](WeightOp op) {
      auto layer = op->getParentOfType<DecoderLayerOp>();
      uses[op.getName()].insert(layer ? layer.getIndex() : -1);
    });

    std::vector<ParamInfo> params;
    std::map<Group, Tally> groups;
    llvm::MapVector<StringRef, Tally> formats;
    std::vector<std::string> formatNames; // owns the StringRefs used as keys above
    llvm::StringMap<size_t> formatIndex;
    Tally total;
    for (ParamOp param : module.getOps<ParamOp>()) {
      WeightType type = param.getWeightType();
      WeightLayout layout = getWeightLayout(type);
      ParamInfo info;
      info.name = param.getSymName().str();
      info.format = getStorageFormatName(type);
      info.group = classify(uses.lookup(param.getSymName()));
      info.tally = {1, type.getNumElements(), layout.getNumBytes(),
                    layout.getAlignedNumBytes()};
      groups[info.group].add(info.tally);
      total.add(info.tally);
      params.push_back(info);
    }
    // Formats in order of first appearance, with stable storage for their names.
    formatNames.reserve(params.size());
    for (const ParamInfo &p : params) {
      auto [it, inserted] = formatIndex.try_emplace(p.format, formatNames.size());
      if (inserted)
        formatNames.push_back(p.format);
      formats[formatNames[it->second]].add(p.tally);
    }

    std::string report;
    llvm::raw_string_ostream os(report);
    if (format == "json")
      printJSON(os, params, groups, formats, total);
    else
      printTable(os, params, groups, formats, total, perParam);

    if (output == "-") {
      llvm::outs() << report;
      llvm::outs().flush();
      return;
    }
    // As every output (runtime/support/OutputFile.h): a regular file replaced atomically,
    // a device or pipe written in place.
    // Relative to the IR file's directory, as every pass's output= (ParamFiles.h).
    std::string error;
    if (!rt::writeOutputFile(resolveAgainstModule(module, output), "llm-stats output", report,
                             error)) {
      mlir::emitError(module.getLoc()) << "llm-stats: " << error;
      return signalPassFailure();
    }
  }
};

} // namespace
