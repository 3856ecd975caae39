//===- Pruning.cpp - What the pruning passes share ------------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/Pruning.h"
#include "passes/Transforms/OptionChecks.h"
#include "passes/Transforms/SparseEncoding.h"

#include <sstream>

using namespace midllama;
using namespace midllama::llm;


bool midllama::parsePattern(const std::string &pass, double sparsity, const std::string &pattern,
                            const std::string &tail, sparse::Pattern &p, std::string &error) {
  auto fail = [&](const std::string &why) {
    error = pass + ": " + why;
    return false;
  };
  p = sparse::Pattern();
  p.ratio = sparsity;
  if (tail != "error" && tail != "proportional")
    return fail("tail must be error or proportional (got '" + tail + "')");
  p.proportionalTail = tail == "proportional";
  if (pattern != "unstructured") {
    long long n = 0, m = 0;
    char colon = 0, extra = 0;
    std::istringstream in(pattern);
    if (!(in >> n >> colon >> m) || colon != ':' || (in >> extra))
      return fail("pattern must be unstructured or N:M (got '" + pattern + "')");
    // Checked here, not by checkPattern: M = 0 would read as "not N:M" there and prune 50%
    // unstructured instead.
    if (n < 1 || m < 2 || n >= m || m > 32)
      return fail("N:M needs 1 <= N < M <= 32 (got " + std::to_string(n) + ":" +
                  std::to_string(m) + ")");
    p.n = n;
    p.m = m;
  }
  std::string why;
  if (!sparse::checkPattern(p, p.isNM() ? p.m : 1, why))
    return fail(why);
  return true;
}

std::string midllama::checkPruningOptions(const std::string &pass, double sparsity, bool sparsityGiven,
                                const std::string &pattern, const std::string &tail,
                                const std::string &comparison) {
  OptionChecker c(pass);
  c.inInterval("sparsity", sparsity, 0, /*loOpen=*/false, 1, /*hiOpen=*/true)
      .oneOf("comparison", comparison, {"row", "layer"})
      .oneOf("tail", tail, {"error", "proportional"});
  if (!c.ok())
    return c.message();
  sparse::Pattern p;
  std::string error;
  if (!parsePattern(pass, sparsity, pattern, tail, p, error))
    return error;
  if (p.isNM() && sparsityGiven && sparsity != 1.0 - double(p.n) / double(p.m))
    return pass + ": sparsity=" + formatOptionValue(sparsity) + " and pattern=" + pattern +
           " disagree: N:M prunes 1 - N/M = " + formatOptionValue(1.0 - double(p.n) / double(p.m)) +
           " of every run; give sparsity (unstructured) or pattern, not both";
  return "";
}

namespace {

/// Describes the result of pruning one weight, for progress.
std::string describe(const sparse::Pattern &p, const std::vector<uint8_t> &mask) {
  int64_t kept = 0;
  for (uint8_t m : mask)
    kept += m;
  std::ostringstream os;
  if (p.isNM())
    os << p.n << ":" << p.m;
  else
    os << "unstructured";
  os << ", " << std::fixed;
  os.precision(1);
  os << 100.0 * double(int64_t(mask.size()) - kept) / double(mask.size()) << "% zero";
  return os.str();
}

} // namespace

bool midllama::encodePruned(WeightType type, const std::vector<float> &values,
                  const std::vector<uint8_t> &mask, const sparse::Pattern &p,
                  EncodedWeight &out, std::string &error) {
  if (!sparse::checkPattern(p, type.getShape()[1], error))
    return false;
  encodeSparse(type, values, mask, p, out);
  out.description = describe(p, mask);
  return true;
}
