//===- Llama2C.cpp - Import llama2.c checkpoints --------------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Import/Llama2C.h"
#include "runtime/support/InputFile.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/MLIRContext.h"

#include <cstring>

using namespace midllama;

namespace {
/// Model dimensions beyond this are rejected as corrupt before any size arithmetic.
constexpr int64_t kMaxDim = int64_t(1) << 20;
} // namespace

std::unique_ptr<Llama2CCheckpoint> Llama2CCheckpoint::open(llvm::StringRef path,
                                                           std::string &error) {
  auto fail = [&](const std::string &what) -> std::unique_ptr<Llama2CCheckpoint> {
    error = "llama2.c checkpoint '" + path.str() + "': " + what;
    return nullptr;
  };
  // A regular file (not a FIFO, which would block, nor a device, which never ends).
  if (!rt::checkInputFile(path.str(), "llama2.c checkpoint", rt::kNoInputLimit, error))
    return nullptr;
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return fail(buffer.getError().message());
  int64_t size = (*buffer)->getBufferSize();
  if (size < 28)
    return fail("too short for the 28-byte header (" + std::to_string(size) + " bytes)");
  int32_t h[7];
  std::memcpy(h, (*buffer)->getBufferStart(), sizeof(h));
  const char *names[] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads",
                         "vocab_size", "seq_len"};
  for (int i = 0; i < 7; ++i) {
    int64_t v = i == 5 ? std::abs(int64_t(h[i])) : h[i];
    if (v <= 0 || v > kMaxDim)
      return fail(std::string("header field ") + names[i] + " = " + std::to_string(h[i]) +
                  " is out of range; not a llama2.c checkpoint?");
  }
  if (h[0] % h[3] != 0)
    return fail("n_heads (" + std::to_string(h[3]) + ") does not divide dim (" +
                std::to_string(h[0]) + ")");
  if (h[3] % h[4] != 0)
    return fail("n_kv_heads (" + std::to_string(h[4]) + ") does not divide n_heads (" +
                std::to_string(h[3]) + ")");

  std::unique_ptr<Llama2CCheckpoint> ckpt(new Llama2CCheckpoint());
  DecoderConfig &c = ckpt->config_;
  c.hiddenSize = h[0];
  c.intermediateSize = h[1];
  c.numLayers = h[2];
  c.numHeads = h[3];
  c.numKvHeads = h[4];
  c.vocabSize = std::abs(h[5]);
  c.headDim = h[0] / h[3];
  c.maxPositions = h[6];
  c.ropeTheta = 10000.0;
  c.rotaryDim = c.headDim;
  c.ropeInterleaved = true;
  c.rmsNormEps = 1e-5;
  ckpt->sharedClassifier_ = h[5] > 0;
  c.tiedEmbeddings = ckpt->sharedClassifier_;
  ckpt->seqLen_ = h[6];

  // Every float the header promises, each factor < 2^20, so no overflow below 2^63.
  int64_t d = c.hiddenSize, f = c.intermediateSize, L = c.numLayers;
  int64_t kv = c.numKvHeads * c.headDim;
  int64_t floats = c.vocabSize * d + L * (2 * d + d * d + 2 * d * kv + d * d + 3 * d * f) + d +
                   ckpt->seqLen_ * c.headDim; // freq_cis_real and _imag, seq_len*head/2 each
  if (!ckpt->sharedClassifier_)
    floats += c.vocabSize * d;
  int64_t expected = 28 + 4 * floats;
  if (size != expected)
    return fail("the header describes " + std::to_string(expected) + " bytes but the file has " +
                std::to_string(size) + (size < expected ? " (truncated?)" : ""));
  ckpt->buffer_ = std::move(*buffer);
  return ckpt;
}

bool Llama2CCheckpoint::addWeights(rt::ParamFileWriter &writer, std::string &error) const {
  const DecoderConfig &c = config_;
  const float *p = reinterpret_cast<const float *>(buffer_->getBufferStart() + 28);
  int64_t d = c.hiddenSize, f = c.intermediateSize, L = c.numLayers;
  int64_t q = c.numHeads * c.headDim, kv = c.numKvHeads * c.headDim;
  bool ok = true;
  auto add = [&](const std::string &name, int64_t rows, int64_t cols, const float *data) {
    std::vector<int64_t> shape = rows == 1 ? std::vector<int64_t>{cols}
                                           : std::vector<int64_t>{rows, cols};
    ok = ok && writer.addBorrowed(name, rt::DType::F32, shape, data, rows * cols * 4, error);
  };
  // Per kind, all layers back to back, in the order llama2.c writes them.
  auto perLayer = [&](llvm::StringRef what, int64_t rows, int64_t cols) {
    for (int64_t l = 0; l < L; ++l)
      add(param_names::layer(l, what), rows, cols, p + l * rows * cols);
    p += L * rows * cols;
  };
  const float *embed = p;
  add(param_names::embedTokens(), c.vocabSize, d, embed);
  p += c.vocabSize * d;
  perLayer("input_layernorm", 1, d);
  perLayer("q_proj", q, d);
  perLayer("k_proj", kv, d);
  perLayer("v_proj", kv, d);
  perLayer("o_proj", d, q);
  perLayer("post_attention_layernorm", 1, d);
  perLayer("gate_proj", f, d); // w1
  perLayer("down_proj", d, f); // w2
  perLayer("up_proj", f, d);   // w3
  add(param_names::finalNorm(), 1, d, p);
  p += d;
  p += seqLen_ * c.headDim; // precomputed rotary tables: recomputed from theta instead
  if (!sharedClassifier_)
    add(param_names::lmHead(), c.vocabSize, d, p);
  return ok;
}
