//===- ArtifactWriter.cpp - Serialize a planned kern program --------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Target/Artifact.h"
#include "midllama/Target/KernelImages.h"

#include "midllama/Dialect/Kern/IR/KernOps.h"
#include "midllama/Dialect/LLM/IR/LLMOps.h"
#include "midllama/Dialect/LLM/IR/WeightLayout.h"
#include "midllama/Params/ParamFiles.h"
#include "runtime/artifact/Program.h"
#include "runtime/params/ParamFile.h"
#include "runtime/support/InputFile.h"
#include "runtime/support/Memory.h"
#include "runtime/tokenizer/Tokenizer.h"

#include <algorithm>
#include <cstring>

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace mlir;
using namespace midllama;
using namespace midllama::kern;

namespace {

std::string describe(Operation *op) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << op->getName() << " at " << op->getLoc();
  return s;
}

/// What the artifact's config records of the model, gathered from its kernel calls.
struct ModelShape {
  int64_t layers = 0, heads = 0, kvHeads = 0, headDim = 0, vocab = 0, hidden = 0;
  int64_t logitsSlot = -1;
  Value tokensArg, positionsArg;
};

class Serializer {
public:
  Serializer(ModuleOp module, std::string &error) : module(module), symbols(module), error(error) {}

  bool run(const std::string &outPath, const ArtifactOptions &options);

private:
  bool fail(const std::string &message) {
    error = message;
    return false;
  }
  /// The slot holding `v`, or -1 (with the error set) if it has none.
  int64_t slot(Value v);
  /// The index of the weight `v` reads in the program's weight table, adding it; a matrix
  /// a matmul kernel reads (`packed`) is stored in panels.
  int64_t weight(Value v, bool packed = false);
  /// `__synthetic_weights__` (JSON: name, dtype, shape of every weight tensor) and the
  /// tensors only the types know, into `writer`.
  bool writeManifest(rt::ParamFileWriter &writer, uint64_t &checksum);
  /// The tensors of weight `i` that only its type knows (int8's outlier columns).
  bool addTypeTensors(rt::ParamFileWriter &writer, size_t i, uint64_t &checksum);

  // The steps of run(), in order.
  /// For a GPU target, the kernel image midllama was built with (null for the CPU).
  bool selectTarget(const ArtifactOptions &options, const void *&image, size_t &imageSize);
  /// @forward's kernel calls into program.calls, the model's shape into `shape`.
  bool translateCalls(func::FuncOp func, ModelShape &shape);
  /// One kernel call into `call`; false (with the error set) when `op` has none.
  bool translateCall(Operation &op, ModelShape &shape, rt::Call &call);
  /// The context the artifact is built for (option, module attribute or 2048), checked
  /// against the KV cache this machine can hold.
  bool resolveMaxContext(const ArtifactOptions &options, const ModelShape &shape,
                         int64_t &maxContext);
  /// Every weight's tensors from the module's parameter file (or the synthetic manifest).
  bool addWeights(rt::ParamFileWriter &writer, const ArtifactOptions &options,
                  uint64_t &checksum);
  /// --tokenizer's bytes, checked with the runtime's reader against the vocabulary.
  bool readTokenizer(const ArtifactOptions &options, int64_t vocab,
                     std::vector<uint8_t> &bytes);

  ModuleOp module;
  SymbolTable symbols;
  std::string &error;
  rt::Program program;
  std::map<std::string, int64_t> weightIndex;
  std::vector<std::string> storedNames;
  std::vector<SmallVector<llm::TypeTensor, 1>> typeTensors;    // by weight, from its format
  std::vector<std::vector<std::string>> componentSuffixes;   // by weight, from its layout
  std::vector<std::vector<llm::WeightComponent>> components; // by weight, for synthetic weights
  std::vector<int64_t> keptValues; // by weight: a pruned weight's stored values, else 0
  DenseMap<Value, int64_t> slots;
  /// A GPU target: matrices stay row-major (the CUDA kernels decode rows), and the
  /// target's kernel image is embedded.
  bool cudaTarget = false;
  /// The module's parameter file, which the writer borrows tensors from until it commits.
  std::unique_ptr<rt::ParamFile> moduleParams;
};

int64_t Serializer::slot(Value v) {
  auto it = slots.find(v);
  if (it != slots.end())
    return it->second;
  Operation *def = v.getDefiningOp();
  error = "an activation read by the program has no buffer slot" +
          (def ? " (made by " + describe(def) + ")" : std::string(" (a function argument)")) +
          "; run --kern-plan-buffers";
  return -1;
}

int64_t Serializer::weight(Value v, bool packed) {
  packed = packed && !cudaTarget;
  auto read = v.getDefiningOp<llm::WeightOp>();
  auto param = read ? symbols.lookup<llm::ParamOp>(read.getName()) : nullptr;
  if (!param) {
    error = "a kernel reads a weight that is not an llm.weight of a declared llm.param";
    return -1;
  }
  std::string name = param.getSymName().str();
  if (auto it = weightIndex.find(name); it != weightIndex.end()) {
    // A tied embedding read by the LM head too: one copy, in panels (dense only).
    if (packed && program.weights[it->second].format.kind == rt::FormatKind::Dense)
      program.weights[it->second].layout = rt::WeightLayout::Panel16;
    return it->second;
  }
  llm::WeightType type = param.getWeightType();
  // What the runtime is told of the weight's encoding, from its attributes: a pruned weight
  // is stored compressed (N:M positions, or a bitmask and row offsets, beside the kept
  // values or codes) or, when that is not smaller, dense with its zeros.
  rt::WeightInfo info;
  info.name = name;
  bool compressed = llm::isStoredCompressed(type);
  FailureOr<rt::FormatParams> format = rt::FormatParams();
  if (llm::WeightFormatAttrInterface f = type.getFormat())
    format = f.getRuntimeFormat(compressed);
  if (failed(format)) {
    std::string t;
    llvm::raw_string_ostream os(t);
    os << type;
    error = "weight '" + name + "' is stored as " + t +
            ", which has no CPU kernel yet (dense f32/f16/bf16, affine integer groups "
            "without act-order, NF4, int8 + outliers, pruned dense, affine, NF4 or int8)";
    return -1;
  }
  info.format = *format;
  if (compressed)
    info.sparsity = type.getSparsity().getRuntimeSparsity();
  // Panels are for dense matrices; every other encoding is decoded row by row in the kernel.
  if (info.format.kind != rt::FormatKind::Dense || compressed)
    packed = false;
  typeTensors.emplace_back();
  if (llm::WeightFormatAttrInterface f = type.getFormat())
    f.appendTypeTensors(typeTensors.back());
  Type elem = type.getElementType();
  info.dtype = elem.isF32() ? rt::DType::F32 : elem.isF16() ? rt::DType::F16 : rt::DType::BF16;
  info.shape.assign(type.getShape().begin(), type.getShape().end());
  if (packed && info.shape.size() == 2)
    info.layout = rt::WeightLayout::Panel16;
  int64_t index = int64_t(program.weights.size());
  program.weights.push_back(std::move(info));
  storedNames.push_back(storedName(param));
  // The tensors a compressed weight is stored as: its type's layout says (docs/weights.md).
  std::vector<std::string> suffixes;
  components.emplace_back();
  keptValues.push_back(
      compressed
          ? type.getSparsity().getCompressedStream(type.getNumRows(), type.getNumColumns()).total
          : 0);
  for (const llm::WeightComponent &c : llm::getWeightLayout(type).components) {
    suffixes.push_back(c.suffix);
    components.back().push_back(c);
  }
  componentSuffixes.push_back(std::move(suffixes));
  weightIndex[name] = index;
  return index;
}

bool Serializer::writeManifest(rt::ParamFileWriter &writer, uint64_t &checksum) {
  std::string json = "[";
  // A pruned weight's index tensors also carry its kept count: the runtime generates a
  // structure that agrees with the value stream's size (runtime/SyntheticWeights.h).
  auto add = [&](const std::string &name, rt::DType dtype, llvm::ArrayRef<int64_t> shape,
                 int64_t kept = -1) {
    json += std::string(json.size() > 1 ? ", " : "") + "{\"name\": \"" + name +
            "\", \"dtype\": \"" + std::string(rt::dtypeName(dtype)) + "\", \"shape\": [";
    for (size_t d = 0; d < shape.size(); ++d)
      json += (d ? ", " : "") + std::to_string(shape[d]);
    json += "]" + (kept >= 0 ? ", \"kept\": " + std::to_string(kept) : std::string()) + "}";
  };
  for (size_t i = 0; i < program.weights.size(); ++i) {
    const rt::WeightInfo &info = program.weights[i];
    const bool pruned = info.sparsity.kind != rt::SparsityKind::None;
    if (info.format.kind == rt::FormatKind::Dense && !pruned) { // as stored: panels when packed
      add(info.name, info.dtype, info.storedShape());
      continue;
    }
    for (const llm::WeightComponent &c : components[i]) {
      const bool index = c.suffix == ".mask" || c.suffix == ".row_ptr" || c.suffix == ".indices";
      add(info.name + c.suffix, c.dtype, c.shape, pruned && index ? keptValues[i] : -1);
    }
  }
  json += "]";
  std::vector<uint8_t> bytes(json.begin(), json.end());
  checksum = rt::contentHash(bytes.data(), bytes.size(), checksum);
  int64_t n = int64_t(bytes.size());
  if (!writer.addOwned(rt::kSyntheticWeightsTensor, rt::DType::U8, {n}, std::move(bytes), error))
    return false;
  for (size_t i = 0; i < program.weights.size(); ++i)
    if (!addTypeTensors(writer, i, checksum))
      return false;
  return true;
}

bool Serializer::addTypeTensors(rt::ParamFileWriter &writer, size_t i, uint64_t &checksum) {
  for (llm::TypeTensor &t : typeTensors[i]) {
    checksum = rt::contentHash(t.bytes.data(), t.bytes.size(), checksum);
    std::vector<int64_t> shape(t.component.shape.begin(), t.component.shape.end());
    if (!writer.addOwned(program.weights[i].name + t.component.suffix, t.component.dtype,
                         shape, std::move(t.bytes), error))
      return false;
  }
  return true;
}

bool Serializer::selectTarget(const ArtifactOptions &options, const void *&image,
                              size_t &imageSize) {
  image = nullptr;
  imageSize = 0;
  if (options.target == "cpu")
    return true;
  const std::vector<std::string> &targets = target::cudaTargets();
  if (std::find(targets.begin(), targets.end(), options.target) == targets.end())
    return fail("unknown target '" + options.target + "' (cpu, sm_80, sm_86, sm_89 or sm_90)");
  image = target::cudaKernelImage(options.target, imageSize);
  if (!image)
    return fail("this midllama has no CUDA kernels (nvcc was not found when it was "
                "built), so it cannot compile for " + options.target + "; use --target=cpu");
  cudaTarget = true;
  return true;
}

bool Serializer::translateCalls(func::FuncOp func, ModelShape &shape) {
  for (Operation &op : func.getBody().front()) {
    if (isa<llm::WeightOp, func::ReturnOp>(op))
      continue;
    if (!isa<KernDialect>(op.getDialect()))
      return fail("'" + describe(&op) + "' is not a kernel call; lower with midllama-lower-cpu");
    auto planned = op.getAttrOfType<DenseI64ArrayAttr>(KernDialect::kSlotsAttrName);
    if (!planned || planned.size() != int64_t(op.getNumResults()))
      return fail("'" + describe(&op) + "' has no buffer slots; run --kern-plan-buffers");
    for (auto [result, s] : llvm::zip(op.getResults(), planned.asArrayRef())) {
      if (s < 0 || s >= int64_t(program.slotWidths.size()))
        return fail("'" + describe(&op) + "' uses slot " + std::to_string(s) +
                    " outside the plan");
      slots[result] = s;
    }
    rt::Call call;
    if (!translateCall(op, shape, call))
      return false;
    program.calls.push_back(std::move(call));
  }
  auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
  if (ret.getNumOperands() != 1)
    return fail("@forward must return exactly the logits");
  shape.logitsSlot = slot(ret.getOperand(0));
  if (shape.logitsSlot < 0)
    return false;
  if (!shape.vocab || !shape.layers)
    return fail("the program has no embedding or no attention layer");
  return true;
}

bool Serializer::translateCall(Operation &op, ModelShape &shape, rt::Call &call) {
  // Each call built by its argument names (runtime/artifact/KernelCalls.def); slot() and
  // weight() return -1 after reporting what is wrong.
  auto add = [&](const auto &named) {
    call = named.encode();
    rt::ArgList list = rt::argumentsOf(call.op);
    for (size_t i = 0; i < list.size; ++i)
      if ((rt::isSlot(list.kinds[i]) || list.kinds[i] == rt::ArgKind::Weight) &&
          call.args[i] < 0)
        return false;
    return true;
  };
  if (auto e = dyn_cast<EmbedOp>(op)) {
    // The runtime feeds two inputs: the tokens (read by every embedding) and their
    // positions (read by every attention); whichever arguments they are.
    if (shape.tokensArg && e.getTokens() != shape.tokensArg)
      return fail("every kern.embed must read the same tokens argument");
    shape.tokensArg = e.getTokens();
    if (!isa<BlockArgument>(shape.tokensArg))
      return fail("kern.embed's tokens must be an argument of @forward");
    auto t = cast<llm::WeightType>(e.getTable().getType());
    shape.vocab = t.getShape()[0];
    shape.hidden = t.getShape()[1];
    return add(rt::calls::Embed{slot(e.getResult()), weight(e.getTable())});
  }
  if (auto n = dyn_cast<RMSNormOp>(op))
    return add(rt::calls::RMSNorm{slot(n.getInput()), slot(n.getResult()),
                                  weight(n.getWeight()), n.getEpsilon().convertToFloat()});
  if (auto n = dyn_cast<AddRMSNormOp>(op))
    return add(rt::calls::AddRMSNorm{slot(n.getInput()), slot(n.getResidual()),
                                     slot(n.getSum()), slot(n.getResult()),
                                     weight(n.getWeight()), n.getEpsilon().convertToFloat()});
  if (auto m = dyn_cast<MatMulOp>(op))
    return add(rt::calls::MatMul{slot(m.getInput()), slot(m.getResult()),
                                 weight(m.getWeight(), true), m.getLastTokenOnly()});
  if (auto g = dyn_cast<GateUpSwiGLUOp>(op))
    return add(rt::calls::GateUpSwiGLU{slot(g.getInput()), slot(g.getResult()),
                                       weight(g.getGate(), true), weight(g.getUp(), true)});
  if (auto s = dyn_cast<SwiGLUOp>(op))
    return add(rt::calls::SwiGLU{slot(s.getGate()), slot(s.getUp()), slot(s.getResult())});
  if (auto a = dyn_cast<AddOp>(op))
    return add(rt::calls::Add{slot(a.getLhs()), slot(a.getRhs()), slot(a.getResult())});
  if (auto m = dyn_cast<MulOp>(op))
    return add(rt::calls::Mul{slot(m.getLhs()), slot(m.getRhs()), slot(m.getResult())});
  if (auto s = dyn_cast<SiLUOp>(op))
    return add(rt::calls::SiLU{slot(s.getInput()), slot(s.getResult())});
  auto at = dyn_cast<AttentionOp>(op);
  if (!at)
    return fail("'" + describe(&op) + "' has no CPU kernel");
  if (shape.positionsArg && at.getPositions() != shape.positionsArg)
    return fail("every kern.attention must read the same positions argument");
  shape.positionsArg = at.getPositions();
  if (!isa<BlockArgument>(shape.positionsArg))
    return fail("kern.attention's positions must be an argument of @forward");
  rt::calls::Attention named;
  named.q = slot(at.getQ());
  named.k = slot(at.getK());
  named.v = slot(at.getV());
  named.out = slot(at.getResult());
  named.layer = int64_t(at.getLayer());
  named.heads = int64_t(at.getNumHeads());
  named.kvHeads = int64_t(at.getNumKvHeads());
  named.headDim = int64_t(at.getHeadDim());
  named.scale = at.getScale().convertToFloat();
  named.theta = at.getTheta().convertToFloat();
  named.rotaryDim = int64_t(at.getRotaryDim());
  named.interleaved = at.getInterleaved();
  if (!add(named))
    return false;
  if (int64_t(at.getLayer()) != shape.layers)
    return fail("'" + describe(&op) + "' is layer " + std::to_string(at.getLayer()) +
                "; layers must come in order from 0");
  ++shape.layers;
  if ((shape.heads && shape.heads != int64_t(at.getNumHeads())) ||
      (shape.kvHeads && shape.kvHeads != int64_t(at.getNumKvHeads())) ||
      (shape.headDim && shape.headDim != int64_t(at.getHeadDim())))
    return fail("layers with different head counts are not supported yet");
  shape.heads = at.getNumHeads();
  shape.kvHeads = at.getNumKvHeads();
  shape.headDim = at.getHeadDim();
  return true;
}

bool Serializer::resolveMaxContext(const ArtifactOptions &options, const ModelShape &shape,
                                   int64_t &maxContext) {
  maxContext = options.maxContext;
  if (!maxContext)
    if (auto attr = module->getAttrOfType<IntegerAttr>(llm::LLMDialect::kMaxContextAttrName))
      maxContext = attr.getInt();
  if (!maxContext)
    maxContext = 2048;
  if (maxContext < 1 || maxContext > (int64_t(1) << 24))
    return fail("llm.max_context " + std::to_string(maxContext) +
                " is out of range (1 to 16777216)");
  // The KV cache a run allocates for that context (fp32 keys and values of every layer, one
  // sequence): refused here, naming the context that fits, rather than at every run.
  if (!options.checkMemory)
    return true;
  int64_t kvWidth = shape.kvHeads * shape.headDim;
  int64_t perPosition = rt::saturatingMul(rt::saturatingMul(2 * shape.layers, kvWidth), 4);
  int64_t kvBytes = rt::saturatingMul(perPosition, maxContext);
  int64_t available = rt::availableMemoryBytes();
  if (available >= 0 && kvBytes > available)
    return fail("llm.max_context " + std::to_string(maxContext) + " needs a KV cache of " +
                rt::formatMemory(kvBytes) + " per sequence (" + std::to_string(shape.layers) +
                " layers x " + std::to_string(kvWidth) +
                " keys and values per position, fp32), but this machine has " +
                rt::formatMemory(available) + " available: compile with --max-context " +
                std::to_string(std::max<int64_t>(1, available / std::max<int64_t>(1, perPosition))) +
                " or less (or --no-memory-check to build for a larger machine)");
  return true;
}

bool Serializer::addWeights(rt::ParamFileWriter &writer, const ArtifactOptions &options,
                            uint64_t &checksum) {
  // Synthetic weights: a manifest instead of the bytes (and the tensors the types hold).
  if (options.syntheticWeights)
    return writeManifest(writer, checksum);
  // Weights, read from the module's parameter file and written as they are (dense).
  std::unique_ptr<rt::ParamFile> params = openModuleParams(module, "", error);
  if (!params)
    return false;
  // Each tensor's pages are handed back once hashed and once written (re-read from the
  // page cache in between): writing a model costs one tensor of memory, not the file.
  const rt::ParamFile *source = params.get(); // stays put when moved into moduleParams
  auto dropPages = [source](const rt::TensorView *t) {
    return [source, t] { source->evict(*t); };
  };
  for (size_t i = 0; i < program.weights.size(); ++i) {
    const rt::WeightInfo &info = program.weights[i];
    bool plain = info.format.kind == rt::FormatKind::Dense &&
                 info.sparsity.kind == rt::SparsityKind::None;
    if (!plain) {
      // The components as the compressing pass wrote them, named by the weight's layout.
      for (const std::string &suffix : componentSuffixes[i]) {
        const rt::TensorView *c = params->find(storedNames[i] + suffix);
        if (!c)
          return fail("weight component '" + storedNames[i] + suffix + "' is missing from " +
                      params->path());
        if (!writer.addBorrowed(info.name + suffix, c->dtype, c->shape, c->data, c->numBytes,
                                error, dropPages(c)))
          return false;
        checksum = rt::contentHash(c->data, size_t(c->numBytes), checksum);
        source->evict(*c);
      }
      if (!addTypeTensors(writer, i, checksum))
        return false;
      continue;
    }
    const rt::TensorView *t = params->find(storedNames[i]);
    if (!t)
      return fail("weight '" + storedNames[i] + "' is missing from " + params->path());
    if (t->dtype != info.dtype || t->shape != info.shape)
      return fail("weight '" + storedNames[i] + "' in " + params->path() +
                  " does not have the type the IR declares");
    if (info.layout == rt::WeightLayout::Panel16) {
      // Packed when the file is written, one tensor at a time; packed once more here, into
      // a buffer of one tensor, for the checksum (which covers the bytes as stored).
      int64_t n = info.shape[0], k = info.shape[1], elem = rt::dtypeSize(info.dtype);
      std::vector<int64_t> stored = info.storedShape();
      int64_t bytes = stored[0] * stored[1] * stored[2] * elem;
      std::vector<uint8_t> packed(static_cast<size_t>(bytes));
      rt::packPanel16(t->data, n, k, elem, packed.data());
      checksum = rt::contentHash(packed.data(), packed.size(), checksum);
      source->evict(*t);
      if (!writer.addGenerated(info.name, info.dtype, stored, bytes,
                               [=](uint8_t *dst, std::string &) {
                                 rt::packPanel16(t->data, n, k, elem, dst);
                                 source->evict(*t);
                                 return true;
                               },
                               error))
        return false;
      continue;
    }
    if (!writer.addBorrowed(info.name, t->dtype, t->shape, t->data, t->numBytes, error,
                            dropPages(t)))
      return false;
    checksum = rt::contentHash(t->data, size_t(t->numBytes), checksum);
    source->evict(*t);
  }
  // The parameter file is mapped until the writer commits: it borrows from it.
  moduleParams = std::move(params);
  return true;
}

bool Serializer::readTokenizer(const ArtifactOptions &options, int64_t vocab,
                               std::vector<uint8_t> &bytes) {
  if (options.tokenizerPath.empty())
    return true;
  std::string text;
  if (!rt::readInputFile(options.tokenizerPath, "tokenizer", rt::kTokenizerInputLimit, text,
                         error))
    return false;
  bytes.assign(text.begin(), text.end());
  // Checked now, with the runtime's own reader, rather than at the first run.
  std::string tokError;
  auto tok = rt::Tokenizer::fromBytes(
      std::string_view(reinterpret_cast<const char *>(bytes.data()), bytes.size()),
      options.tokenizerPath, tokError);
  if (!tok)
    return fail(tokError);
  if (tok->vocabSize() != vocab)
    return fail("tokenizer '" + options.tokenizerPath + "' has " +
                std::to_string(tok->vocabSize()) + " tokens, the model " +
                std::to_string(vocab));
  program.config["tokenizer"] = tok->format();
  return true;
}

bool Serializer::run(const std::string &outPath, const ArtifactOptions &options) {
  // A GPU target embeds the kernels nvcc compiled for it when midllama was built.
  const void *kernelImage = nullptr;
  size_t kernelImageSize = 0;
  if (!selectTarget(options, kernelImage, kernelImageSize))
    return false;
  auto func = module.lookupSymbol<func::FuncOp>("forward");
  if (!func || !func.getBody().hasOneBlock())
    return fail("the module has no single-block function @forward");
  auto widths = func->getAttrOfType<DenseI64ArrayAttr>(KernDialect::kSlotWidthsAttrName);
  if (!widths)
    return fail("@forward has no buffer plan; run the midllama-lower-cpu pipeline first");
  program.slotWidths.assign(widths.asArrayRef().begin(), widths.asArrayRef().end());
  if (func.getNumArguments() < 1)
    return fail("@forward takes no tokens");
  ModelShape shape;
  int64_t maxContext = 0;
  if (!translateCalls(func, shape) || !resolveMaxContext(options, shape, maxContext))
    return false;
  program.config = {{"target", options.target},
                    {"vocab_size", std::to_string(shape.vocab)},
                    {"hidden_size", std::to_string(shape.hidden)},
                    {"num_layers", std::to_string(shape.layers)},
                    {"num_heads", std::to_string(shape.heads)},
                    {"num_kv_heads", std::to_string(shape.kvHeads)},
                    {"head_dim", std::to_string(shape.headDim)},
                    {"max_context", std::to_string(maxContext)},
                    {"logits_slot", std::to_string(shape.logitsSlot)},
                    {"tokenizer", "none"},
                    {"activations", "fp32"}};
  // The runtime's default activations (LLMDialect::kActivationsAttrName, verified by the
  // dialect): int8 for weights kept in ggml's blocks, as llama.cpp computes them, or what
  // --llm-set-activations chose (and that it did, for the report).
  if (auto attr = module->getAttrOfType<StringAttr>(llm::LLMDialect::kActivationsAttrName))
    program.config["activations"] = attr.getValue().str();
  if (auto by = module->getAttrOfType<StringAttr>(llm::LLMDialect::kActivationsSetByAttrName))
    program.config["activations_set_by"] = by.getValue().str();
  // The KV cache the runtime keeps by default (LLMDialect::kKVCacheAttrName: f32 or f16,
  // --llm-set-kv-cache); absent: f32.
  if (auto kv = module->getAttrOfType<StringAttr>(llm::LLMDialect::kKVCacheAttrName))
    program.config["kv_cache"] = kv.getValue().str();

  rt::ParamFileWriter writer;
  uint64_t checksum = 0xcbf29ce484222325ull; // contentHash of the tensors in file order
  std::vector<uint8_t> tokenizerBytes;
  if (!addWeights(writer, options, checksum) ||
      !readTokenizer(options, shape.vocab, tokenizerBytes))
    return false;
  std::vector<uint8_t> programBytes = program.encode();
  checksum = rt::contentHash(programBytes.data(), programBytes.size(), checksum);
  if (!tokenizerBytes.empty())
    checksum = rt::contentHash(tokenizerBytes.data(), tokenizerBytes.size(), checksum);
  if (kernelImage)
    checksum = rt::contentHash(static_cast<const uint8_t *>(kernelImage), kernelImageSize,
                               checksum);
  int64_t programSize = int64_t(programBytes.size());
  if (!writer.addOwned(rt::kProgramTensor, rt::DType::U8, {programSize}, std::move(programBytes),
                       error))
    return false;
  if (!tokenizerBytes.empty()) {
    int64_t n = int64_t(tokenizerBytes.size());
    if (!writer.addOwned(rt::kTokenizerTensor, rt::DType::U8, {n}, std::move(tokenizerBytes),
                         error))
      return false;
  }
  if (kernelImage && !writer.addBorrowed(rt::kCudaKernelsTensor, rt::DType::U8,
                                         {int64_t(kernelImageSize)}, kernelImage,
                                         int64_t(kernelImageSize), error))
    return false;
  writer.setMetadata("artifact", rt::kArtifactFormat);
  writer.setMetadata("artifact_version", std::to_string(rt::kArtifactVersion));
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", (unsigned long long)checksum);
  writer.setMetadata("checksum", hex);
  return writer.commit(outPath, error, "artifact");
}

} // namespace

bool midllama::writeArtifact(ModuleOp module, const std::string &outPath,
                             const ArtifactOptions &options, std::string &error) {
  Serializer serializer(module, error);
  return serializer.run(outPath, options);
}
