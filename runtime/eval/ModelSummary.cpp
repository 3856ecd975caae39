//===- ModelSummary.cpp - What an artifact holds, for the report ----------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/eval/ModelSummary.h"


#include <sys/stat.h>

using namespace midllama::rt;
using namespace midllama::rt::eval;

void midllama::rt::eval::addModelSummary(Report &report, const Model &model,
                                         const std::string &path) {
  struct stat st;
  int64_t fileBytes = stat(path.c_str(), &st) == 0 ? int64_t(st.st_size) : 0;
  report.add("artifact", path, "artifact", quote(path));
  report.add("artifact size", std::to_string(fileBytes) + " bytes", "artifact_bytes",
             std::to_string(fileBytes));
  if (model.hasSyntheticWeights())
    report.add("weights", "synthetic (random values, generated at load: speed and memory only)",
               "synthetic_weights", "true");
  for (auto &[type, bytes] : model.weightBytesByType())
    report.add("weights " + type, std::to_string(bytes) + " bytes", "weight_bytes_" + type,
               std::to_string(bytes));
  int64_t weightBytes = eval::weightBytes(model), parameters = parameterCount(model);
  char text[160];
  double bits = parameters ? 8.0 * double(weightBytes) / double(parameters) : 0;
  double ratio = weightBytes ? 4.0 * double(parameters) / double(weightBytes) : 0;
  std::snprintf(text, sizeof text, "%lld bytes, %.3f bits/parameter (fp32: %lld, %.2fx)",
                (long long)weightBytes, bits, (long long)(4 * parameters), ratio);
  report.add("weights total", text, "weight_bytes_total", std::to_string(weightBytes));
  report.addJson("parameters", std::to_string(parameters));
  report.addJson("bits_per_parameter", format("%.4f", bits));
}

int64_t midllama::rt::eval::weightBytes(const Model &model) {
  int64_t total = 0;
  for (auto &[type, bytes] : model.weightBytesByType())
    total += bytes;
  return total;
}

int64_t midllama::rt::eval::parameterCount(const Model &model) {
  int64_t parameters = 0;
  for (const WeightInfo &w : model.program().weights) {
    int64_t count = 1;
    for (int64_t d : w.shape)
      count *= d;
    parameters += count;
  }
  return parameters;
}

