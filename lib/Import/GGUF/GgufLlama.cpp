//===- GgufLlama.cpp - A llama-architecture GGUF file as a decoder --------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Import/GGUF/GgufLlama.h"

#include "midllama/Import/GGUF/GgmlDequantize.h"
#include "midllama/Import/GGUF/GgmlRepack.h"
#include "midllama/Dialect/LLM/IR/LLMDialect.h"
#include "runtime/params/Half.h"

#include <cstring>
#include <map>
#include <set>

using namespace midllama;
using namespace midllama::gguf;

namespace {

/// GGUF's per-layer tensor names and their Hugging Face roles.
const std::map<std::string, std::string> kLayerRoles = {
    {"attn_norm", "input_layernorm"}, {"attn_q", "q_proj"},     {"attn_k", "k_proj"},
    {"attn_v", "v_proj"},             {"attn_output", "o_proj"}, {"ffn_norm", "post_attention_layernorm"},
    {"ffn_gate", "gate_proj"},        {"ffn_up", "up_proj"},     {"ffn_down", "down_proj"}};

/// Row r of a Hugging Face q/k projection (head h, half s, index i: r = h·hd + s·hd/2 + i)
/// is row h·hd + 2i + s of llama.cpp's (its converter swaps the half and index axes).
int64_t ggufRowOf(int64_t r, int64_t headDim) {
  int64_t h = r / headDim, within = r % headDim, half = headDim / 2;
  return h * headDim + 2 * (within % half) + within / half;
}

} // namespace

bool midllama::gguf::llamaConfig(const GgufFile &file, DecoderConfig &c, std::string &error) {
  std::string prefix = "GGUF file '" + file.path() + "': ";
  std::string arch;
  if (!file.getString("general.architecture", arch, error))
    return false;
  if (arch != "llama") {
    error = prefix + "architecture '" + arch + "' is not supported (llama is)";
    return false;
  }
  int64_t value = 0;
  auto required = [&](const char *key, int64_t &out) {
    if (!file.getInt(key, value, error))
      return false;
    out = value;
    return true;
  };
  auto optional = [&](const char *key, int64_t &out) {
    return !file.find(key) || required(key, out);
  };
  if (!required("llama.block_count", c.numLayers) ||
      !required("llama.embedding_length", c.hiddenSize) ||
      !required("llama.feed_forward_length", c.intermediateSize) ||
      !required("llama.attention.head_count", c.numHeads) ||
      !required("llama.context_length", c.maxPositions))
    return false;
  c.numKvHeads = c.numHeads;
  if (!optional("llama.attention.head_count_kv", c.numKvHeads))
    return false;
  for (int64_t v : {c.numLayers, c.hiddenSize, c.intermediateSize, c.numHeads, c.numKvHeads,
                    c.maxPositions})
    if (v <= 0 || v > (int64_t(1) << 24)) {
      error = prefix + "a llama.* size is " + std::to_string(v) + " (1 to 2^24 expected)";
      return false;
    }
  if (c.hiddenSize % c.numHeads) {
    error = prefix + "embedding length " + std::to_string(c.hiddenSize) +
            " is not a multiple of the head count " + std::to_string(c.numHeads);
    return false;
  }
  c.headDim = c.hiddenSize / c.numHeads;
  for (const char *key : {"llama.attention.key_length", "llama.attention.value_length"}) {
    int64_t length = c.headDim;
    if (!optional(key, length))
      return false;
    if (length != c.headDim) {
      error = prefix + "metadata '" + key + "' is " + std::to_string(length) +
              "; heads of another size than embedding / heads (" + std::to_string(c.headDim) +
              ") are not supported";
      return false;
    }
  }
  int64_t rotary = c.headDim;
  if (!optional("llama.rope.dimension_count", rotary))
    return false;
  c.rotaryDim = rotary == c.headDim ? 0 : rotary;
  double f = 0;
  if (file.find("llama.rope.freq_base")) {
    if (!file.getFloat("llama.rope.freq_base", f, error))
      return false;
    c.ropeTheta = f;
  }
  if (!file.getFloat("llama.attention.layer_norm_rms_epsilon", f, error))
    return false;
  c.rmsNormEps = f;
  std::string scaling;
  if (file.find("llama.rope.scaling.type") &&
      (!file.getString("llama.rope.scaling.type", scaling, error) ||
       (scaling != "none" && !scaling.empty()))) {
    if (error.empty())
      error = prefix + "rope scaling '" + scaling + "' is not implemented";
    return false;
  }
  int64_t experts = 0;
  if (!optional("llama.expert_count", experts))
    return false;
  if (experts > 0) {
    error = prefix + "mixture-of-experts models (llama.expert_count " + std::to_string(experts) +
            ") are not supported";
    return false;
  }
  const TensorInfo *embed = file.findTensor("token_embd.weight");
  if (!embed || embed->dims.size() != 2) {
    error = prefix + "tensor 'token_embd.weight' (the [vocabulary, embedding] table) is " +
            (embed ? "not 2-D" : "missing");
    return false;
  }
  c.vocabSize = embed->dims[1];
  int64_t vocab = c.vocabSize;
  if (!optional("llama.vocab_size", vocab))
    return false;
  if (vocab != c.vocabSize) {
    error = prefix + "llama.vocab_size is " + std::to_string(vocab) + " but token_embd.weight has " +
            std::to_string(c.vocabSize) + " rows";
    return false;
  }
  c.tiedEmbeddings = !file.findTensor("output.weight");
  c.ropeInterleaved = false; // q/k rows are put back in Hugging Face order
  return true;
}

bool midllama::gguf::planLlamaWeights(const GgufFile &file, const DecoderConfig &c,
                                      std::vector<LlamaWeight> &plan, std::string &error) {
  std::string prefix = "GGUF file '" + file.path() + "': ";
  int64_t d = c.hiddenSize, f = c.intermediateSize;
  int64_t q = c.numHeads * c.headDim, kv = c.numKvHeads * c.headDim;
  plan.clear();
  std::set<std::string> used;
  auto want = [&](const std::string &gguf, const std::string &name,
                  std::vector<int64_t> shape, int64_t permutedHeads = 0) {
    const TensorInfo *t = file.findTensor(gguf);
    if (!t) {
      error = prefix + "tensor '" + gguf + "' (" + name + ") is missing";
      return false;
    }
    // GGUF lists dimensions fastest first: a [rows, cols] weight is {cols, rows}.
    std::vector<int64_t> ggufDims(shape.rbegin(), shape.rend());
    if (t->dims != ggufDims) {
      auto text = [](const std::vector<int64_t> &v) {
        std::string s = "[";
        for (size_t i = 0; i < v.size(); ++i)
          s += (i ? ", " : "") + std::to_string(v[i]);
        return s + "]";
      };
      error = prefix + "tensor '" + gguf + "' has ggml shape " + text(t->dims) + "; " + name +
              " needs " + text(ggufDims);
      return false;
    }
    if (!canDequantize(t->type)) {
      error = prefix + "tensor '" + gguf + "' is " + tensorTypeName(t->type) +
              ", which is not dequantized yet (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, "
              "Q8_0, Q4_K, Q5_K, Q6_K are)";
      return false;
    }
    used.insert(gguf);
    plan.push_back({t, name, std::move(shape), permutedHeads});
    return true;
  };
  bool ok = want("token_embd.weight", param_names::embedTokens(), {c.vocabSize, d});
  for (int64_t l = 0; ok && l < c.numLayers; ++l) {
    std::string blk = "blk." + std::to_string(l) + ".";
    auto role = [&](const char *gguf) { return param_names::layer(l, kLayerRoles.at(gguf)); };
    ok = want(blk + "attn_norm.weight", role("attn_norm"), {d}) &&
         want(blk + "attn_q.weight", role("attn_q"), {q, d}, c.numHeads) &&
         want(blk + "attn_k.weight", role("attn_k"), {kv, d}, c.numKvHeads) &&
         want(blk + "attn_v.weight", role("attn_v"), {kv, d}) &&
         want(blk + "attn_output.weight", role("attn_output"), {d, q}) &&
         want(blk + "ffn_norm.weight", role("ffn_norm"), {d}) &&
         want(blk + "ffn_gate.weight", role("ffn_gate"), {f, d}) &&
         want(blk + "ffn_up.weight", role("ffn_up"), {f, d}) &&
         want(blk + "ffn_down.weight", role("ffn_down"), {d, f});
  }
  ok = ok && want("output_norm.weight", param_names::finalNorm(), {d}) &&
       (c.tiedEmbeddings || want("output.weight", param_names::lmHead(), {c.vocabSize, d}));
  if (!ok)
    return false;
  for (const TensorInfo &t : file.tensors())
    if (!used.count(t.name)) { // a graph we do not fully understand is refused
      error = prefix + "tensor '" + t.name + "' is not part of the llama decoder midllama "
              "builds (rope frequency factors, biases and the like are not supported)";
      return false;
    }
  return true;
}

namespace {

/// The tensors `w` is kept in (GgmlRepack.h), or none when it is stored as fp32: asked
/// to, or a type (or a quantized vector) not kept.
std::vector<KeptTensor> keptTensorsOf(const LlamaWeight &w, GgufStorage storage) {
  bool dense = w.tensor->type == TensorType::F32 || w.tensor->type == TensorType::F16 ||
               w.tensor->type == TensorType::BF16;
  if (storage != GgufStorage::Kept || (w.shape.size() != 2 && !dense))
    return {};
  return keptTensors(w.tensor->type, w.shape.back());
}

} // namespace

void midllama::gguf::setLlamaWeightTypes(mlir::MLIRContext *context,
                                         const std::vector<LlamaWeight> &weights,
                                         GgufStorage storage, DecoderConfig &config) {
  using namespace mlir;
  context->getOrLoadDialect<llm::LLMDialect>();
  for (const LlamaWeight &w : weights) {
    Type f16 = Float16Type::get(context);
    if (storage == GgufStorage::F16) {
      config.weightTypes[w.name] = llm::WeightType::get(
          context, w.shape, f16, llm::WeightFormatAttrInterface(),
          llm::WeightSparsityAttrInterface());
      continue;
    }
    if (keptTensorsOf(w, storage).empty())
      continue; // dense fp32, the config's weight type
    llm::WeightFormatAttrInterface format;
    Type element = f16;
    switch (w.tensor->type) {
    case TensorType::F32: element = Float32Type::get(context); break;
    case TensorType::BF16: element = BFloat16Type::get(context); break;
    case TensorType::Q8_0: format = llm::AffineQuantAttr::get(context, 8, 32, true, false); break;
    case TensorType::Q4_0: format = llm::AffineQuantAttr::get(context, 4, 32, true, false); break;
    case TensorType::Q4_1:
      format = llm::AffineMinQuantAttr::get(context, 4, 32);
      break;
    case TensorType::Q5_0:
      format = llm::AffineQuantAttr::get(context, 5, 32, true, false);
      break;
    case TensorType::Q5_1:
      format = llm::AffineMinQuantAttr::get(context, 5, 32);
      break;
    case TensorType::Q4_K: // codes scales with fp16 supers per 256 columns (GgmlRepack.h)
    case TensorType::Q5_K:
      format = llm::AffineMinQuantAttr::get(context, w.tensor->type == TensorType::Q4_K ? 4 : 5,
                                            32, /*scale_block=*/8);
      break;
    case TensorType::Q6_K:
      format = llm::AffineQuantAttr::get(context, 6, 16, true, false, /*scale_block=*/16);
      break;
    default: break; // F16
    }
    config.weightTypes[w.name] = llm::WeightType::get(context, w.shape, element, format,
                                                      llm::WeightSparsityAttrInterface());
  }
}

bool midllama::gguf::addLlamaWeights(const std::vector<LlamaWeight> &weights,
                                     const DecoderConfig &c, GgufStorage storage,
                                     rt::ParamFileWriter &writer, std::string &error) {
  for (const LlamaWeight &w : weights) {
    const TensorInfo *t = w.tensor;
    int64_t count = t->numElements(), cols = w.shape.back();
    int64_t rows = count / cols, headDim = c.headDim, heads = w.permutedHeads;
    int64_t blockValues = 0, blockBytes = 0;
    blockLayout(uint32_t(t->type), blockValues, blockBytes);
    int64_t rowBytes = cols / blockValues * blockBytes;
    auto source = [=](int64_t r) { // row r (Hugging Face order) in the file
      return t->data + (heads ? ggufRowOf(r, headDim) : r) * rowBytes;
    };
    std::vector<KeptTensor> kept = keptTensorsOf(w, storage);
    if (storage == GgufStorage::F16) {
      auto fill = [=](uint8_t *dst, std::string &) {
        std::vector<float> row(static_cast<size_t>(cols));
        for (int64_t r = 0; r < rows; ++r) {
          dequantizeValues(t->type, source(r), cols, row.data());
          for (int64_t j = 0; j < cols; ++j) {
            uint16_t h = rt::floatToHalf(row[size_t(j)]); // round to nearest even
            std::memcpy(dst + 2 * (r * cols + j), &h, 2);
          }
        }
        return true;
      };
      if (!writer.addGenerated(w.name, rt::DType::F16, w.shape, count * 2, fill, error))
        return false;
      continue;
    }
    if (kept.empty()) {
      auto fill = [=](uint8_t *dst, std::string &) {
        float *out = reinterpret_cast<float *>(dst);
        for (int64_t r = 0; r < rows; ++r)
          dequantizeValues(t->type, source(r), cols, out + r * cols);
        return true;
      };
      if (!writer.addGenerated(w.name, rt::DType::F32, w.shape, count * 4, fill, error))
        return false;
      continue;
    }
    for (size_t which = 0; which < kept.size(); ++which) {
      const KeptTensor &k = kept[which];
      int64_t bytesPerRow = k.rowElements * rt::dtypeSize(k.dtype);
      std::vector<int64_t> shape = w.shape;
      shape.back() = k.rowElements;
      auto fill = [=](uint8_t *dst, std::string &) {
        for (int64_t r = 0; r < rows; ++r)
          repackRow(t->type, which, source(r), cols, dst + r * bytesPerRow);
        return true;
      };
      if (!writer.addGenerated(w.name + k.suffix, k.dtype, shape, rows * bytesPerRow, fill,
                               error))
        return false;
    }
  }
  return true;
}
