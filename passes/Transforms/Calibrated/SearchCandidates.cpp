//===- SearchCandidates.cpp - What --llm-search-recipe may pick -----------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/Calibrated/SearchCandidates.h"

#include "midllama/Dialect/LLM/IR/LLMOps.h"
#include "midllama/Quantize/AWQ.h"
#include "midllama/Quantize/NF4.h"
#include "runtime/params/Half.h"

#include <algorithm>
#include <cstdlib>
#include <sstream>

using namespace midllama;
using namespace midllama::llm;

namespace {

/// Reads a positive integer at `text[at]`, advancing `at`.
bool number(const std::string &text, size_t &at, int64_t &value) {
  size_t start = at;
  while (at < text.size() && std::isdigit(uint8_t(text[at])))
    ++at;
  if (at == start || at - start > 9)
    return false;
  value = std::atoll(text.substr(start, at - start).c_str());
  return value > 0;
}

bool parseOne(const std::string &name, SearchCandidate &c) {
  c = SearchCandidate();
  c.name = name;
  if (name == "keep") {
    c.method = "keep";
    return true;
  }
  if (name == "fp16" || name == "bf16") {
    c.method = "cast";
    c.dtype = name == "fp16" ? "f16" : "bf16";
    return true;
  }
  size_t at = 0;
  int64_t a = 0, b = 0;
  auto suffix = [&](const char *s) {
    std::string t = s;
    if (name.compare(at, t.size(), t) != 0)
      return false;
    at += t.size();
    return true;
  };
  for (const char *m : {"rtn", "gptq"})
    if (name.rfind(std::string(m) + "-w", 0) == 0) {
      c.method = m;
      at = c.method.size() + 2;
      if (!number(name, at, a) || a < 2 || a > 8 || !suffix("g") || !number(name, at, b))
        return false;
      c.bits = int(a);
      c.groupSize = b;
      c.symmetric = suffix("-sym");
      c.actOrder = c.method == "gptq" && suffix("-act");
      return at == name.size();
    }
  if (name.rfind("nf4-b", 0) == 0) {
    c.method = "nf4";
    at = 5;
    if (!number(name, at, b) || b < 32 || b > 4096 || (b & (b - 1)))
      return false;
    c.blockSize = b;
    c.doubleQuant = suffix("-dq");
    return at == name.size();
  }
  return false;
}

} // namespace

bool midllama::parseSearchCandidates(const std::string &list,
                                     std::vector<SearchCandidate> &candidates,
                                     std::string &error) {
  candidates.clear();
  std::stringstream in(list);
  std::string name;
  while (std::getline(in, name, ',')) {
    SearchCandidate c;
    if (!parseOne(name, c)) {
      error = "unknown candidate '" + name + "' (keep, fp16, bf16, rtn-w<2-8>g<group>[-sym], "
              "gptq-w<2-8>g<group>[-sym][-act], nf4-b<32..4096, a power of two>[-dq])";
      return false;
    }
    for (const SearchCandidate &d : candidates)
      if (d.name == c.name) {
        error = "candidate '" + name + "' is listed twice";
        return false;
      }
    candidates.push_back(c);
  }
  if (candidates.empty()) {
    error = "no candidates given";
    return false;
  }
  return true;
}

std::vector<std::pair<std::string, std::string>>
SearchCandidate::recipeOptions() const {
  if (method == "nf4")
    return {{"block-size", std::to_string(blockSize)},
            {"double-quant", doubleQuant ? "true" : "false"}};
  if (method == "keep")
    return {};
  if (method == "cast")
    return {{"dtype", dtype}};
  std::vector<std::pair<std::string, std::string>> options = {
      {"bits", std::to_string(bits)},
      {"group-size", std::to_string(groupSize)},
      {"symmetric", symmetric ? "true" : "false"}};
  if (method == "gptq")
    options.push_back({"act-order", actOrder ? "true" : "false"});
  return options;
}

WeightType midllama::candidateType(const SearchCandidate &c, WeightType type) {
  mlir::MLIRContext *ctx = type.getContext();
  int64_t k = type.getShape()[1];
  if (c.method == "nf4")
    return type.withFormat(NF4Attr::get(ctx, c.blockSize, c.doubleQuant, 256));
  if (c.method == "cast")
    return WeightType::get(ctx, type.getShape(),
                           c.dtype == "f16" ? mlir::Type(mlir::Float16Type::get(ctx))
                                            : mlir::Type(mlir::BFloat16Type::get(ctx)));
  if (c.method == "rtn" || c.method == "gptq")
    return type.withFormat(AffineQuantAttr::get(ctx, unsigned(c.bits),
                                                std::min(c.groupSize, k), c.symmetric,
                                                /*act_order=*/false));
  return type;
}

bool midllama::candidateValues(const SearchCandidate &c, const std::vector<float> &w,
                               int64_t n, int64_t k, const quant::GPTQHessian *hessian,
                               std::vector<float> &out, std::string &error) {
  quant::AffineParams p{c.bits, std::min(c.groupSize, k), c.symmetric};
  if (c.method == "keep") {
    out = w;
  } else if (c.method == "cast") { // the values llm-cast-weights stores
    out.resize(w.size());
    for (size_t i = 0; i < w.size(); ++i)
      out[i] = c.dtype == "f16" ? rt::halfToFloat(rt::floatToHalf(w[i]))
                                : rt::bf16ToFloat(rt::floatToBF16(w[i]));
  } else if (c.method == "rtn") {
    out = quant::roundTrip(w.data(), n, k, p);
  } else if (c.method == "gptq") {
    quant::GPTQOptions o;
    o.affine = p;
    o.damp = kSearchGPTQDamp;
    o.actOrder = c.actOrder;
    quant::GPTQResult r;
    if (!hessian || !quant::quantizeGPTQ(w.data(), n, k, *hessian, o, r, error))
      return false;
    out = std::move(r.dequantized);
  } else {
    quant::NF4Tensor t = quant::quantizeNF4(w.data(), n * k, c.blockSize, c.doubleQuant);
    std::vector<float> absmax = quant::nf4Absmax(t);
    out.resize(size_t(n * k));
    for (int64_t i = 0; i < n * k; ++i)
      out[size_t(i)] = quant::nf4Value(t, absmax, i, c.blockSize);
  }
  return true;
}
