//===- WeightRewriter.cpp - Re-encode selected weights of a module ---------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "WeightRewriter.h"
#include "SparseEncoding.h"

#include "midllama/Dialect/LLM/IR/LLMOps.h"
#include "midllama/Dialect/LLM/IR/WeightLayout.h"
#include "midllama/Quantize/Affine.h"
#include "midllama/Params/ParamFiles.h"
#include "runtime/params/Half.h"
#include "runtime/params/ParamFile.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"
#include "mlir/IR/SymbolTable.h"

#include <chrono>
#include <cstring>
#include <regex>

using namespace mlir;
using namespace midllama;
using namespace midllama::llm;

using rt::floatToHalf;
using rt::halfToFloat;


std::string midllama::checkAffineOptions(const std::string &passName, int bits,
                                         int64_t groupSize) {
  if (bits < 2 || bits > 8)
    return passName + ": bits must be 2 to 8 (got " + std::to_string(bits) + ")";
  if (groupSize < 1)
    return passName + ": group-size must be at least 1 (got " + std::to_string(groupSize) + ")";
  return "";
}

void midllama::encodeAffine(WeightType type, const quant::AffineMatrix &m,
                            const quant::AffineParams &p, EncodedWeight &out) {
  int64_t n = type.getShape()[0];
  out.type = type.withFormat(AffineQuantAttr::get(type.getContext(), unsigned(p.bits),
                                                  p.groupSize, p.symmetric,
                                                  /*act_order=*/false));
  std::vector<int64_t> perGroup = {n, m.groups};
  out.components.clear();
  out.components.push_back({".qweight", rt::DType::U8, {n, m.rowBytes}, m.codes});
  std::vector<uint8_t> scales;
  if (type.getElementType().isF16()) {
    scales.resize(m.scales.size() * 2);
    for (size_t i = 0; i < m.scales.size(); ++i) {
      uint16_t h = floatToHalf(m.scales[i]);
      std::memcpy(&scales[2 * i], &h, 2);
    }
    out.components.push_back({".scales", rt::DType::F16, perGroup, std::move(scales)});
  } else {
    scales.resize(m.scales.size() * 4);
    std::memcpy(scales.data(), m.scales.data(), scales.size());
    out.components.push_back({".scales", rt::DType::F32, perGroup, std::move(scales)});
  }
  if (!p.symmetric)
    out.components.push_back({".zeros", rt::DType::U8, perGroup, m.zeros});
}

namespace {

/// Parameters read only as the weight of a linear or LM head.
llvm::StringMap<bool> projectionOnly(ModuleOp module) {
  llvm::StringMap<bool> onlyProjection;
  module.walk([&](WeightOp read) {
    bool projection = llvm::all_of(read->getUses(), [](OpOperand &use) {
      Operation *user = use.getOwner();
      return (isa<LinearOp>(user) || isa<LMHeadOp>(user)) && use.getOperandNumber() == 1;
    });
    auto [it, inserted] = onlyProjection.try_emplace(read.getName(), projection);
    if (!inserted)
      it->second = it->second && projection;
  });
  return onlyProjection;
}

/// Element `i` of a f32/f16 tensor.
float elementAt(const rt::TensorView &t, int64_t i) {
  if (t.dtype == rt::DType::F32) {
    float f;
    std::memcpy(&f, t.data + 4 * i, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, t.data + 2 * i, 2);
  return halfToFloat(h);
}

/// The fp32 values of a parameter given inline (`= dense<...>`, small test modules; the
/// verifier holds it to the weight's shape and element type, and to dense weights).
bool readInline(ParamOp param, std::vector<float> &values, std::string &error) {
  auto dense = dyn_cast<DenseElementsAttr>(*param.getValue());
  if (!dense || !isa<FloatType>(dense.getElementType())) {
    error = "weight '" + param.getSymName().str() + "' has an inline value that is not dense "
            "floating point";
    return false;
  }
  values.clear();
  values.reserve(size_t(param.getWeightType().getNumElements()));
  for (llvm::APFloat v : dense.getValues<llvm::APFloat>()) {
    bool lost = false;
    v.convert(llvm::APFloat::IEEEsingle(), llvm::APFloat::rmNearestTiesToEven, &lost);
    values.push_back(v.convertToFloat());
  }
  return true;
}

/// The fp32 values of a dense parameter, a pruned one expanded from its compressed storage
/// (zeros where pruned); `keep`, when given, gets its mask (all ones unless pruned). `file`
/// may be null when the parameter is given inline.
bool readF32(const rt::ParamFile *file, ParamOp param, std::vector<float> &values,
             std::string &error, std::vector<uint8_t> *keep = nullptr) {
  WeightType type = param.getWeightType();
  std::string name = param.getSymName().str();
  if (!type.isDense() || (!type.getElementType().isF32() && !type.getElementType().isF16())) {
    error = "weight '" + name + "' is neither f32 nor f16";
    return false;
  }
  int64_t count = type.getNumElements();
  auto missing = [&] {
    error = "weight '" + name + "' is missing from " + file->path() +
            " (or its tensors do not match its type; run --llm-verify-params)";
    return false;
  };
  if (keep)
    keep->assign(size_t(count), 1);
  if (param.getValue())
    return readInline(param, values, error);
  if (!file) {
    error = "weight '" + name + "' has no inline value and the module no parameter file";
    return false;
  }
  values.assign(size_t(count), 0.0f);
  std::string stored = storedName(param);
  const rt::TensorView *t = file->find(stored);
  if (t) { // dense storage (pruned or not): zeros are the pruned weights
    if (t->numElements() != count || (t->dtype != rt::DType::F32 && t->dtype != rt::DType::F16))
      return missing();
    for (int64_t i = 0; i < count; ++i) {
      values[size_t(i)] = elementAt(*t, i);
      if (keep && type.getSparsity())
        (*keep)[size_t(i)] = values[size_t(i)] != 0.0f;
    }
    return true;
  }
  // Compressed: the kept values and where they go.
  const rt::TensorView *v = file->find(stored + ".values");
  if (!v || type.getRank() != 2)
    return missing();
  int64_t n = type.getShape()[0], k = type.getShape()[1];
  std::vector<uint8_t> mask(static_cast<size_t>(count), 0);
  if (auto nm = dyn_cast_or_null<NMSparsityAttr>(type.getSparsity())) {
    const rt::TensorView *idx = file->find(stored + ".indices");
    int64_t perRow = k / nm.getM() * nm.getN(), bits = llvm::Log2_64_Ceil(nm.getM());
    if (!idx || v->numElements() != n * perRow || idx->shape.size() != 2)
      return missing();
    for (int64_t r = 0; r < n; ++r)
      for (int64_t i = 0; i < perRow; ++i) {
        int64_t pos = quant::unpackCode(idx->data + r * idx->shape[1], i, int(bits));
        int64_t col = (i / nm.getN()) * nm.getM() + pos;
        mask[size_t(r * k + col)] = 1;
        values[size_t(r * k + col)] = elementAt(*v, r * perRow + i);
      }
  } else {
    const rt::TensorView *bits = file->find(stored + ".mask");
    if (!bits || bits->numElements() != n * ((k + 7) / 8))
      return missing();
    int64_t at = 0;
    for (int64_t r = 0; r < n; ++r)
      for (int64_t c = 0; c < k; ++c)
        if (bits->data[r * ((k + 7) / 8) + (c >> 3)] >> (c & 7) & 1) {
          if (at >= v->numElements())
            return missing();
          mask[size_t(r * k + c)] = 1;
          values[size_t(r * k + c)] = elementAt(*v, at++);
        }
  }
  if (keep)
    *keep = std::move(mask);
  return true;
}

} // namespace

bool midllama::selectWeights(ModuleOp module, const std::string &passName,
                             const std::string &include, const std::string &exclude,
                             std::vector<std::string> &names, std::string &error,
                             bool allowPruned, Operation **culprit) {
  auto fail = [&](const std::string &message, Operation *at = nullptr) {
    error = passName + ": " + message;
    if (culprit)
      *culprit = at;
    return false;
  };
  std::regex includeRe, excludeRe;
  try {
    includeRe = std::regex(include, std::regex::ECMAScript);
    if (!exclude.empty())
      excludeRe = std::regex(exclude, std::regex::ECMAScript);
  } catch (const std::regex_error &e) {
    return fail(std::string("include/exclude is not a valid regular expression: ") + e.what());
  }
  llvm::StringMap<bool> onlyProjection = projectionOnly(module);
  names.clear();
  std::string quantized; // the first weight that matches but is stored quantized already
  int numQuantized = 0;
  for (ParamOp param : module.getOps<ParamOp>()) {
    std::string name = param.getSymName().str();
    WeightType type = param.getWeightType();
    if (!onlyProjection.lookup(name) || type.getRank() != 2 ||
        !std::regex_search(name, includeRe) ||
        (!exclude.empty() && std::regex_search(name, excludeRe)))
      continue;
    if (!type.isDense()) {
      if (numQuantized++ == 0)
        quantized = name;
      continue;
    }
    if (!type.getElementType().isF32() && !type.getElementType().isF16())
      return fail("weight '" + name + "' is neither f32 nor f16", param);
    if (type.getSparsity() && !allowPruned)
      return fail("weight '" + name + "' is already pruned, and " + passName +
                      " prunes dense weights: prune once, from the dense model, with the final "
                      "pattern (every quantization pass keeps a pruned weight's mask)",
                  param);
    names.push_back(name);
  }
  if (names.empty())
    return fail("no weight matches include '" + include + "'" +
                (exclude.empty() ? std::string() : " and not exclude '" + exclude + "'") +
                (quantized.empty()
                     ? std::string()
                     : " among the dense weights; '" + quantized + "'" +
                           (numQuantized > 1 ? " and " + std::to_string(numQuantized - 1) +
                                                   " more are"
                                             : " is") +
                           " stored quantized already (a GGUF import keeps ggml's storage: "
                           "import with --dequantize to compress again)"));
  return true;
}

WeightEncoder midllama::precomputedEncoder(llvm::StringMap<EncodedWeight> &encoded) {
  return [&encoded](const std::string &name, WeightType, const std::vector<float> &,
                    EncodedWeight &out, std::string &why) {
    auto it = encoded.find(name);
    if (it == encoded.end()) {
      why = "was not reached by calibration";
      return false;
    }
    out = std::move(it->second);
    return true;
  };
}

bool midllama::readWeightF32(ModuleOp module, const std::string &name,
                             std::vector<float> &values, std::string &error,
                             std::vector<uint8_t> *keep) {
  auto param = SymbolTable::lookupNearestSymbolFrom<ParamOp>(
      module, StringAttr::get(module.getContext(), name));
  if (!param) {
    error = "no parameter '" + name + "'";
    return false;
  }
  if (param.getValue())
    return readF32(nullptr, param, values, error, keep);
  std::unique_ptr<rt::ParamFile> file = openModuleParams(module, "", error);
  return file && readF32(file.get(), param, values, error, keep);
}

namespace {

/// Encodes each selected weight with `encode`, printing progress; false with `error` and
/// the weight's llm.param in `culprit`.
bool encodeSelected(const rt::ParamFile *file, SymbolTable &symbols,
                    const std::vector<std::string> &selected, const std::string &passName,
                    const WeightEncoder &encode, llvm::StringMap<EncodedWeight> &encoded,
                    std::string &error, Operation *&culprit) {
  for (const std::string &name : selected) {
    auto param = symbols.lookup<ParamOp>(name);
    culprit = param;
    WeightType type = param.getWeightType();
    int64_t n = type.getShape()[0], k = type.getShape()[1];
    auto start = std::chrono::steady_clock::now();
    std::vector<float> values;
    if (!readF32(file, param, values, error))
      return false;
    EncodedWeight e;
    std::string encodeError;
    if (!encode(name, type, values, e, encodeError)) {
      error = "weight '" + name + "': " + encodeError;
      return false;
    }
    if (const rt::TensorView *t = file ? file->find(storedName(param)) : nullptr)
      file->evict(*t);
    double ms = e.millis >= 0 ? e.millis
                              : std::chrono::duration<double, std::milli>(
                                    std::chrono::steady_clock::now() - start)
                                    .count();
    llvm::errs() << passName << ": " << name << " [" << n << " x " << k << "] -> "
                 << e.description << " in " << llvm::format("%.1f", ms) << " ms\n";
    encoded[name] = std::move(e);
  }
  return true;
}

bool addComponents(rt::ParamFileWriter &writer, const std::string &name, EncodedWeight &e,
                   std::string &error) {
  for (EncodedWeight::Component &c : e.components) {
    if (!c.spill) {
      if (!writer.addOwned(name + c.suffix, c.dtype, c.shape, std::move(c.bytes), error))
        return false;
      continue;
    }
    const uint8_t *bytes = c.spill->data(c.spilledAt, error);
    const EncodedSpill *spill = c.spill;
    int64_t at = c.spilledAt, n = c.spilledBytes;
    if (!bytes || !writer.addBorrowed(name + c.suffix, c.dtype, c.shape, bytes, n, error,
                                      [spill, at, n] { spill->evict(at, n); }))
      return false;
  }
  return true;
}

/// A pruned weight rescaled but not quantized (AWQ's producer of a scaled input): its
/// zeros stayed zeros, so it is stored again with its mask, compressed as before; its
/// encoding (the same pattern) goes to `encoded` for the IR.
bool addRescaledSparse(rt::ParamFileWriter &writer, const rt::ParamFile &file, ParamOp param,
                       std::vector<float> values, llvm::StringMap<EncodedWeight> &encoded,
                       std::string &error) {
  WeightType type = param.getWeightType();
  std::vector<float> ignored;
  std::vector<uint8_t> keep;
  if (!readF32(&file, param, ignored, error, &keep))
    return false;
  for (size_t i = 0; i < values.size() && i < keep.size(); ++i)
    if (!keep[i])
      values[i] = 0.0f;
  sparse::Pattern pattern;
  if (auto nm = dyn_cast<NMSparsityAttr>(type.getSparsity())) {
    pattern.n = nm.getN();
    pattern.m = nm.getM();
  }
  EncodedWeight e;
  encodeSparse(type, values, keep, pattern, e);
  std::string name = param.getSymName().str();
  if (!addComponents(writer, name, e, error))
    return false;
  encoded[name] = std::move(e);
  return true;
}

/// A dense weight with new values (AWQ's rescaled norms and projections), in its own
/// element type.
bool addRescaledDense(rt::ParamFileWriter &writer, ParamOp param,
                      const std::vector<float> &values, std::string &error) {
  WeightType type = param.getWeightType();
  std::string name = param.getSymName().str();
  bool half = type.getElementType().isF16();
  if (!type.isDense() || (!half && !type.getElementType().isF32()) ||
      int64_t(values.size()) != type.getNumElements()) {
    error = "cannot rewrite '" + name + "' as a dense f32/f16 tensor";
    return false;
  }
  std::vector<uint8_t> bytes(values.size() * (half ? 2 : 4));
  for (size_t i = 0; i < values.size(); ++i) {
    if (half) {
      uint16_t h = floatToHalf(values[i]);
      std::memcpy(&bytes[2 * i], &h, 2);
    } else {
      std::memcpy(&bytes[4 * i], &values[i], 4);
    }
  }
  std::vector<int64_t> shape(type.getShape().begin(), type.getShape().end());
  return writer.addOwned(name, half ? rt::DType::F16 : rt::DType::F32, shape, std::move(bytes),
                         error);
}

/// An untouched parameter's tensors, as they are stored.
bool copyStored(rt::ParamFileWriter &writer, const rt::ParamFile &file, ParamOp param,
                std::string &error) {
  std::string name = param.getSymName().str();
  for (const WeightComponent &c : getWeightLayout(param.getWeightType()).components) {
    std::string stored = storedName(param) + c.suffix;
    const rt::TensorView *t = file.find(stored);
    if (!t) {
      error = "tensor '" + stored + "' is missing from " + file.path();
      return false;
    }
    // Its pages go once written: copying the rest of a model costs one tensor of memory.
    if (!writer.addBorrowed(name + c.suffix, t->dtype, t->shape, t->data, t->numBytes, error,
                            [&file, t] { file.evict(*t); }))
      return false;
  }
  return true;
}

} // namespace

LogicalResult midllama::rewriteWeights(ModuleOp module, const std::string &passName,
                                       const std::string &include, const std::string &exclude,
                                       const std::string &output, const WeightEncoder &encode,
                                       const std::map<std::string, std::vector<float>> *dense,
                                       bool allowPruned) {
  Operation *culprit = nullptr; // the llm.param an error is about, if one
  auto fail = [&](const std::string &message) {
    mlir::emitError(culprit ? culprit->getLoc() : module.getLoc()) << passName << ": "
                                                                    << message;
    return failure();
  };
  std::string why;
  if (!checkPassOutput(module, output, why))
    return fail(why);
  std::vector<std::string> selected;
  if (!selectWeights(module, passName, include, exclude, selected, why, allowPruned, &culprit)) {
    mlir::emitError(culprit ? culprit->getLoc() : module.getLoc()) << why; // "PASS: ..."
    return failure();
  }
  std::unique_ptr<rt::ParamFile> file; // none when every parameter is given inline
  if (hasStoredParams(module) && !(file = openModuleParams(module, "", why)))
    return fail(why);
  std::string outPath = resolveAgainstModule(module, output);
  llvm::StringMap<EncodedWeight> encoded;
  SymbolTable symbols(module);
  if (!encodeSelected(file.get(), symbols, selected, passName, encode, encoded, why, culprit))
    return fail(why);
  culprit = nullptr;

  // The new parameter file: encoded weights as their components, rewritten ones with their
  // new values, the other stored ones as they are (inline ones stay inline).
  rt::ParamFileWriter writer;
  if (file)
    for (const auto &[key, value] : file->metadata())
      if (key != "format" && key != "version" && key != "alignment")
        writer.setMetadata(key, value);
  for (ParamOp param : module.getOps<ParamOp>()) {
    std::string name = param.getSymName().str();
    bool rescaled = dense && dense->count(name);
    bool ok = true;
    if (auto it = encoded.find(name); it != encoded.end())
      ok = addComponents(writer, name, it->second, why);
    else if (rescaled && param.getWeightType().getSparsity())
      ok = addRescaledSparse(writer, *file, param, dense->at(name), encoded, why);
    else if (rescaled)
      ok = addRescaledDense(writer, param, dense->at(name), why);
    else if (!param.getValue())
      ok = copyStored(writer, *file, param, why);
    if (!ok) {
      culprit = param;
      return fail(why);
    }
  }
  if (!writer.commit(outPath, why))
    return fail(why);

  // The IR follows: new types on the parameters and their reads (a written parameter's
  // value now lives in the file), the new file.
  for (ParamOp param : module.getOps<ParamOp>()) {
    auto it = encoded.find(param.getSymName());
    if (it != encoded.end())
      param.setTypeAttr(TypeAttr::get(it->second.type));
    if (it != encoded.end() || (dense && dense->count(param.getSymName().str())))
      param.removeValueAttr();
  }
  module.walk([&](WeightOp read) {
    if (auto it = encoded.find(read.getName()); it != encoded.end())
      read.getResult().setType(it->second.type);
  });
  for (ParamOp param : module.getOps<ParamOp>())
    param->removeAttr(LLMDialect::kStoredAsAttrName);
  setModuleParamFile(module, outPath);
  return success();
}
