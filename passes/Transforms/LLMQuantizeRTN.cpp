//===- LLMQuantizeRTN.cpp - Round-to-nearest weight quantization ----------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The simplest weight quantizer and the baseline GPTQ and AWQ must beat: every group of
// input columns gets its scale (and zero point) from its own range, and every weight is
// rounded to the nearest code. No calibration data. The numerics live in
// lib/Quantize/Affine.cpp, shared with the calibrated methods.
//
//===----------------------------------------------------------------------===//

#include "midllama/Dialect/LLM/IR/LLMOps.h"
#include "midllama/Dialect/LLM/IR/WeightLayout.h"
#include "midllama/Quantize/Affine.h"
#include "midllama/Transforms/ParamFiles.h"
#include "midllama/Transforms/Passes.h"
#include "runtime/params/ParamFile.h"

#include "mlir/IR/SymbolTable.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cstring>
#include <regex>

namespace midllama {
#define GEN_PASS_DEF_LLMQUANTIZERTN
#include "midllama/Transforms/Passes.h.inc"
} // namespace midllama

using namespace mlir;
using namespace midllama;
using namespace midllama::llm;

namespace {

float halfToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {
      exp = 127 - 15 + 1;
      while (!(mant & 0x400)) {
        mant <<= 1;
        --exp;
      }
      bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000 | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

/// fp32 to fp16, round to nearest even (scales of fp16 weights are stored in fp16).
uint16_t floatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  int32_t exp = int32_t((x >> 23) & 0xff) - 127 + 15;
  uint32_t mant = x & 0x7fffff;
  if (exp >= 31)
    return uint16_t(sign | 0x7c00);
  if (exp <= 0) {
    if (exp < -10)
      return uint16_t(sign);
    mant |= 0x800000;
    uint32_t shift = uint32_t(14 - exp);
    uint32_t h = mant >> shift, rest = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rest > half || (rest == half && (h & 1)))
      ++h;
    return uint16_t(sign | h);
  }
  uint32_t h = sign | (uint32_t(exp) << 10) | (mant >> 13), rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
    ++h;
  return uint16_t(h);
}

struct LLMQuantizeRTNPass : midllama::impl::LLMQuantizeRTNBase<LLMQuantizeRTNPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto fail = [&](const Twine &message) {
      module.emitError() << "llm-quantize-rtn: " << message;
      signalPassFailure();
    };
    if (bits < 2 || bits > 8)
      return fail("bits must be 2 to 8 (got " + Twine(int(bits)) + ")");
    if (groupSize < 1)
      return fail("group-size must be at least 1 (got " + Twine(int64_t(groupSize)) + ")");
    if (output.empty())
      return fail("output (the parameter file to write) is required");
    std::regex includeRe, excludeRe;
    try {
      includeRe = std::regex(std::string(include), std::regex::ECMAScript);
      if (!exclude.empty())
        excludeRe = std::regex(std::string(exclude), std::regex::ECMAScript);
    } catch (const std::regex_error &e) {
      return fail("include/exclude is not a valid regular expression: " + Twine(e.what()));
    }
    std::string error;
    std::unique_ptr<rt::ParamFile> file = openModuleParams(module, "", error);
    if (!file)
      return fail(error);
    std::string outPath = resolveAgainstModule(module, output);
    if (llvm::sys::fs::exists(outPath) && llvm::sys::fs::equivalent(file->path(), outPath))
      return fail("output '" + output + "' is the parameter file the module reads");

    // Which parameters: read only as the weight of a linear or LM head.
    llvm::StringMap<bool> onlyProjection;
    module.walk([&](WeightOp read) {
      bool projection = llvm::all_of(read->getUses(), [](OpOperand &use) {
        Operation *user = use.getOwner();
        return (isa<LinearOp>(user) && use.getOperandNumber() == 1) ||
               (isa<LMHeadOp>(user) && use.getOperandNumber() == 1);
      });
      auto [it, inserted] = onlyProjection.try_emplace(read.getName(), projection);
      if (!inserted)
        it->second = it->second && projection;
    });

    struct Quantized {
      quant::AffineMatrix matrix;
      WeightType type;
    };
    llvm::StringMap<Quantized> quantized;
    int64_t done = 0;
    for (ParamOp param : module.getOps<ParamOp>()) {
      std::string name = param.getSymName().str();
      WeightType type = param.getWeightType();
      if (!onlyProjection.lookup(name) || !type.isDense() || type.getRank() != 2 ||
          !std::regex_search(name, includeRe) ||
          (!exclude.empty() && std::regex_search(name, excludeRe)))
        continue;
      if (!type.getElementType().isF32() && !type.getElementType().isF16())
        return fail("weight '" + name + "' is neither f32 nor f16");
      const rt::TensorView *t = file->find(storedName(param));
      int64_t n = type.getShape()[0], k = type.getShape()[1];
      if (!t || t->numElements() != n * k)
        return fail("weight '" + name + "' is missing from " + file->path());
      auto start = std::chrono::steady_clock::now();
      std::vector<float> values(size_t(n * k));
      for (int64_t i = 0; i < n * k; ++i) {
        if (t->dtype == rt::DType::F32) {
          std::memcpy(&values[i], t->data + 4 * i, 4);
        } else {
          uint16_t h;
          std::memcpy(&h, t->data + 2 * i, 2);
          values[i] = halfToFloat(h);
        }
      }
      quant::AffineParams p{int(bits), std::min<int64_t>(groupSize, k), symmetric};
      Quantized q;
      q.matrix = quant::quantizeRTN(values.data(), n, k, p);
      q.type = type.withFormat(AffineQuantAttr::get(&getContext(), unsigned(p.bits), p.groupSize,
                                                    p.symmetric, /*act_order=*/false));
      file->evict(*t);
      double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                            start)
                      .count();
      llvm::errs() << "llm-quantize-rtn: " << name << " [" << n << " x " << k << "] -> int"
                   << p.bits << " g" << p.groupSize << (p.symmetric ? " sym" : "") << " in "
                   << llvm::format("%.1f", ms) << " ms\n";
      quantized[name] = std::move(q);
      ++done;
    }
    if (!done)
      return fail("no weight matches include '" + include + "'" +
                  (exclude.empty() ? std::string() : " and not exclude '" + exclude + "'"));

    // The new parameter file: quantized weights as their components, the rest as they are.
    rt::ParamFileWriter writer;
    for (const auto &[key, value] : file->metadata())
      if (key != "format" && key != "version" && key != "alignment")
        writer.setMetadata(key, value);
    for (ParamOp param : module.getOps<ParamOp>()) {
      std::string name = param.getSymName().str();
      auto it = quantized.find(name);
      if (it != quantized.end()) {
        quant::AffineMatrix &m = it->second.matrix;
        int64_t n = it->second.type.getShape()[0];
        std::vector<int64_t> perGroup = {n, m.groups};
        bool ok = writer.addOwned(name + ".qweight", rt::DType::U8, {n, m.rowBytes},
                                  std::move(m.codes), error);
        if (ok && it->second.type.getElementType().isF16()) {
          std::vector<uint8_t> half(m.scales.size() * 2);
          for (size_t i = 0; i < m.scales.size(); ++i) {
            uint16_t h = floatToHalf(m.scales[i]);
            std::memcpy(&half[2 * i], &h, 2);
          }
          ok = writer.addOwned(name + ".scales", rt::DType::F16, perGroup, std::move(half), error);
        } else if (ok) {
          std::vector<uint8_t> bytes(m.scales.size() * 4);
          std::memcpy(bytes.data(), m.scales.data(), bytes.size());
          ok = writer.addOwned(name + ".scales", rt::DType::F32, perGroup, std::move(bytes), error);
        }
        if (ok && !symmetric)
          ok = writer.addOwned(name + ".zeros", rt::DType::U8, perGroup, std::move(m.zeros), error);
        if (!ok)
          return fail(error);
        continue;
      }
      for (const WeightComponent &c : getWeightLayout(param.getWeightType()).components) {
        std::string stored = storedName(param) + c.suffix;
        const rt::TensorView *t = file->find(stored);
        if (!t)
          return fail("tensor '" + stored + "' is missing from " + file->path());
        if (!writer.addBorrowed(name + c.suffix, t->dtype, t->shape, t->data, t->numBytes,
                                error))
          return fail(error);
      }
    }
    if (!writer.commit(outPath, error))
      return fail(error);

    // The IR follows: new types on the parameters and their reads, the new file.
    for (ParamOp param : module.getOps<ParamOp>()) {
      auto it = quantized.find(param.getSymName());
      if (it == quantized.end())
        continue;
      param.setTypeAttr(TypeAttr::get(it->second.type));
      param->removeAttr(LLMDialect::kStoredAsAttrName);
    }
    module.walk([&](WeightOp read) {
      auto it = quantized.find(read.getName());
      if (it != quantized.end())
        read.getResult().setType(it->second.type);
    });
    for (ParamOp param : module.getOps<ParamOp>())
      param->removeAttr(LLMDialect::kStoredAsAttrName);
    module->setAttr(LLMDialect::kParamFileAttrName, StringAttr::get(&getContext(), output));
  }
};

} // namespace
