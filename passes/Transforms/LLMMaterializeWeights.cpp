//===- LLMMaterializeWeights.cpp - Fold weight transforms into parameters -===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Importers express layout changes of weights (ONNX's [in, out] MatMul operands, fused QKV
// projections) as llm.weight_transpose / llm.weight_slice ops, so the raising stays a pure
// IR rewrite with lit tests. This pass turns them into stored parameters. New tensors are
// computed when the file is written, from the mmapped old file, one at a time: peak memory
// is a few times the largest weight, not the model.
//
//===----------------------------------------------------------------------===//

#include "OptionChecks.h"

#include "midllama/Dialect/LLM/IR/LLMOps.h"
#include "midllama/Dialect/LLM/IR/WeightLayout.h"
#include "midllama/Params/ParamFiles.h"
#include "midllama/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"

#include <cstring>

namespace midllama {
#define GEN_PASS_DEF_LLMMATERIALIZEWEIGHTS
#include "midllama/Transforms/Passes.h.inc"
} // namespace midllama

using namespace mlir;
using namespace midllama;
using namespace midllama::llm;

namespace {

bool isTransform(Operation *op) { return isa<WeightTransposeOp, WeightSliceOp>(op); }

int64_t elementBytes(WeightType type) {
  return rt::dtypeSize(getWeightLayout(type).components.front().dtype);
}

/// How to compute a new parameter, independent of the IR (which is rewritten before the
/// file is written): a source parameter and the transforms applied to it, in order.
struct Recipe {
  struct Step {
    bool transpose = false; // else a slice
    int64_t axis = 0, offset = 0;
    int64_t rows = 0, cols = 0; // shape after the step
  };
  std::string source;
  int64_t rows = 0, cols = 0, elem = 0; // the source's shape and element size
  std::vector<uint8_t> inlineBytes;     // the source's value, when given inline
  std::vector<Step> steps;
};

bool buildRecipe(Value value, SymbolTable &symbols, Recipe &recipe, std::string &error) {
  SmallVector<Operation *> chain;
  Value v = value;
  while (Operation *def = v.getDefiningOp()) {
    if (!isTransform(def))
      break;
    chain.push_back(def);
    v = def->getOperand(0);
  }
  auto read = dyn_cast_or_null<WeightOp>(v.getDefiningOp());
  if (!read) {
    error = "a weight transform does not start from an llm.weight";
    return false;
  }
  WeightType type = read.getWeightType();
  auto param = symbols.lookup<ParamOp>(read.getName());
  recipe.source = param ? storedName(param) : read.getName().str();
  recipe.rows = type.getNumRows();
  recipe.cols = type.getNumColumns();
  recipe.elem = elementBytes(type);
  if (param && param.getValue()) {
    auto dense = dyn_cast<DenseElementsAttr>(*param.getValue());
    if (!dense) {
      error = "parameter @" + recipe.source + " has a non-dense inline value";
      return false;
    }
    ArrayRef<char> raw = dense.getRawData();
    int64_t numBytes = recipe.rows * recipe.cols * recipe.elem;
    recipe.inlineBytes.resize(numBytes);
    for (int64_t i = 0; i < numBytes; i += recipe.elem) // a splat holds one element
      std::memcpy(&recipe.inlineBytes[i], raw.data() + (dense.isSplat() ? 0 : i), recipe.elem);
  }
  for (Operation *op : llvm::reverse(chain)) {
    Recipe::Step step;
    auto out = cast<WeightType>(op->getResult(0).getType());
    step.rows = out.getNumRows();
    step.cols = out.getNumColumns();
    if (auto slice = dyn_cast<WeightSliceOp>(op)) {
      step.axis = slice.getAxisAttr().getInt();
      step.offset = slice.getOffsetAttr().getInt();
    } else {
      step.transpose = true;
    }
    recipe.steps.push_back(step);
  }
  return true;
}

/// Runs `recipe` into `dst` (the final tensor's bytes), reading the source from `file`.
/// The first step reads the mapped source directly and the last writes into `dst`, so a
/// single transpose or slice of a weight needs no copy of it.
bool runRecipe(const Recipe &recipe, const rt::ParamFile *file, uint8_t *dst,
               std::string &error) {
  int64_t rows = recipe.rows, cols = recipe.cols, elem = recipe.elem;
  const uint8_t *cur = recipe.inlineBytes.data();
  const rt::TensorView *t = nullptr;
  if (recipe.inlineBytes.empty()) {
    t = file ? file->find(recipe.source) : nullptr;
    if (!t || t->numBytes != rows * cols * elem) {
      error = "tensor '" + recipe.source + "' is missing from the parameter file or has the "
              "wrong size";
      return false;
    }
    cur = t->data;
  }
  if (recipe.steps.empty())
    std::memcpy(dst, cur, rows * cols * elem);
  std::vector<uint8_t> buffers[2];
  for (size_t s = 0; s < recipe.steps.size(); ++s) {
    const Recipe::Step &step = recipe.steps[s];
    uint8_t *next = dst;
    if (s + 1 < recipe.steps.size()) {
      buffers[s % 2].resize(step.rows * step.cols * elem);
      next = buffers[s % 2].data();
    }
    if (step.transpose) {
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
          std::memcpy(&next[(c * rows + r) * elem], &cur[(r * cols + c) * elem], elem);
    } else {
      bool byRows = step.axis == 0;
      for (int64_t r = 0; r < step.rows; ++r)
        std::memcpy(&next[r * step.cols * elem],
                    &cur[((byRows ? r + step.offset : r) * cols + (byRows ? 0 : step.offset)) *
                         elem],
                    step.cols * elem);
    }
    if (s == 0 && t)
      file->evict(*t); // the source has been read
    cur = next;
    rows = step.rows;
    cols = step.cols;
  }
  return true;
}

std::string derivedName(Operation *transform, StringRef source) {
  if (auto t = dyn_cast<WeightTransposeOp>(transform))
    return t.getName() ? t.getName()->str() : source.str() + ".t";
  auto s = cast<WeightSliceOp>(transform);
  if (s.getName())
    return s.getName()->str();
  int64_t axis = s.getAxisAttr().getInt(), offset = s.getOffsetAttr().getInt();
  int64_t size = s.getResult().getType().getShape()[axis];
  return source.str() + (axis == 0 ? ".rows_" : ".cols_") + std::to_string(offset) + "_" +
         std::to_string(offset + size);
}

/// The name a derived parameter is named after: the nearest named transform before
/// `transform` in its chain, else the parameter the chain starts from.
std::string baseName(Operation *transform) {
  Operation *op = transform->getOperand(0).getDefiningOp();
  while (op && isTransform(op)) {
    auto name = op->getAttrOfType<StringAttr>("name");
    if (name)
      return name.str();
    op = op->getOperand(0).getDefiningOp();
  }
  auto read = dyn_cast_or_null<WeightOp>(op);
  return read ? read.getName().str() : "weight";
}

/// The parameter a transform chain starts from.
StringRef sourceName(Operation *transform) {
  Operation *op = transform;
  while (op && isTransform(op))
    op = op->getOperand(0).getDefiningOp();
  auto read = dyn_cast_or_null<WeightOp>(op);
  return read ? read.getName() : StringRef();
}

struct LLMMaterializeWeightsPass
    : CheckedOptionsPass<LLMMaterializeWeightsPass, midllama::impl::LLMMaterializeWeightsBase> {
  using CheckedOptionsPass::CheckedOptionsPass;

  std::string checkOptions() const {
    OptionChecker c("llm-materialize-weights");
    c.nonEmpty("output", output, "the parameter file to write");
    return c.message();
  }

  /// What the rewrite does, decided before any file is written.
  struct NewParam {
    std::string name;
    WeightType type;
    Recipe recipe;         // dense weights
    int64_t rowOffset = 0; // encoded weights: rows [rowOffset, +N) of recipe.source
  };
  struct Plan {
    SmallVector<Operation *> transforms;
    SmallVector<Operation *> sinks; // transforms something other than a transform reads
    llvm::StringSet<> keep;         // parameters still read directly
    llvm::StringSet<> before;       // the parameters the module had
    SmallVector<ParamOp> dropped;   // parameters only transforms read
    std::vector<NewParam> created;  // one per sink
  };

  LogicalResult fail(Location loc, const Twine &why) {
    emitError(loc) << "llm-materialize-weights: " << why;
    return failure();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::string error;
    if (!checkPassOutput(module, output, error)) {
      (void)fail(module.getLoc(), error);
      return signalPassFailure();
    }
    std::string outPath = resolveAgainstModule(module, output);
    std::unique_ptr<rt::ParamFile> file;
    if (hasStoredParams(module)) {
      file = openModuleParams(module, "", error);
      if (!file) {
        (void)fail(module.getLoc(), error);
        return signalPassFailure();
      }
    }
    Plan plan;
    findTransforms(module, plan);
    rt::ParamFileWriter writer;
    if (file)
      for (const auto &[key, value] : file->metadata())
        if (key != "format" && key != "version" && key != "alignment")
          writer.setMetadata(key, value);
    if (failed(planNewParams(module, plan)) ||
        failed(addNewParams(module, file.get(), plan, writer)))
      return signalPassFailure();
    rewriteIR(module, plan);
    if (failed(copySurvivors(module, file.get(), plan, writer)))
      return signalPassFailure();
    if (!writer.commit(outPath, error)) {
      (void)fail(module.getLoc(), error);
      return signalPassFailure();
    }
    setModuleParamFile(module, outPath);
    // The new file stores every tensor under its parameter's name.
    for (ParamOp param : module.getOps<ParamOp>())
      param->removeAttr(LLMDialect::kStoredAsAttrName);
  }

  /// The transforms, their sinks, and which parameters stay or go.
  void findTransforms(ModuleOp module, Plan &plan) {
    module.walk([&](Operation *op) {
      if (!isTransform(op))
        return;
      plan.transforms.push_back(op);
      if (llvm::any_of(op->getUsers(), [](Operation *u) { return !isTransform(u); }))
        plan.sinks.push_back(op);
    });
    // Parameters still read directly after the rewrite stay; the others fed only
    // transforms and go.
    module.walk([&](WeightOp read) {
      if (llvm::any_of(read->getUsers(), [](Operation *u) { return !isTransform(u); }))
        plan.keep.insert(read.getName());
    });
    for (ParamOp param : module.getOps<ParamOp>()) {
      plan.before.insert(param.getSymName());
      bool readByTransformsOnly = !plan.keep.contains(param.getSymName()) &&
                                  llvm::any_of(plan.transforms, [&](Operation *t) {
                                    return sourceName(t) == param.getSymName();
                                  });
      if (readByTransformsOnly)
        plan.dropped.push_back(param);
    }
  }

  /// Names each new parameter and records how to compute it; the bytes are computed when
  /// the file is written, one tensor at a time.
  LogicalResult planNewParams(ModuleOp module, Plan &plan) {
    llvm::StringSet<> taken;
    for (ParamOp param : module.getOps<ParamOp>())
      if (!llvm::is_contained(plan.dropped, param))
        taken.insert(param.getSymName());
    SymbolTable symbols(module);
    for (Operation *sink : plan.sinks) {
      std::string base = derivedName(sink, baseName(sink)), name = base;
      for (int i = 1; taken.contains(name); ++i)
        name = base + "." + std::to_string(i);
      taken.insert(name);
      NewParam p{name, cast<WeightType>(sink->getResult(0).getType()), {}, 0};
      if (p.type.isDense()) {
        std::string error;
        if (!buildRecipe(sink->getResult(0), symbols, p.recipe, error))
          return fail(sink->getLoc(), error);
        plan.created.push_back(std::move(p));
        continue;
      }
      // Encoded weights: only row slices, which slice every per-row component.
      Value v = sink->getResult(0);
      while (auto slice = v.getDefiningOp<WeightSliceOp>()) {
        p.rowOffset += slice.getOffsetAttr().getInt();
        v = slice.getInput();
      }
      auto read = v.getDefiningOp<WeightOp>();
      if (!read)
        return fail(sink->getLoc(),
                    "only row slices of an encoded weight can be materialized");
      auto param = symbols.lookup<ParamOp>(read.getName());
      p.recipe.source = param ? storedName(param) : read.getName().str();
      plan.created.push_back(std::move(p));
    }
    return success();
  }

  /// The new parameters' tensors into `writer`: encoded ones sliced from `source`'s
  /// components, dense ones computed by their recipes.
  LogicalResult addNewParams(ModuleOp module, const rt::ParamFile *source, const Plan &plan,
                             rt::ParamFileWriter &writer) {
    std::string error;
    for (const NewParam &p : plan.created) {
      if (p.type.isDense()) {
        WeightComponent c = getWeightLayout(p.type).components.front();
        const Recipe &recipe = p.recipe;
        if (!writer.addGenerated(
                p.name, c.dtype, std::vector<int64_t>(c.shape.begin(), c.shape.end()),
                c.getNumBytes(),
                [&recipe, source](uint8_t *dst, std::string &err) {
                  return runRecipe(recipe, source, dst, err);
                },
                error))
          return fail(module.getLoc(), error);
        continue;
      }
      // Each component with one row per weight row is sliced; the others (g_idx) are
      // shared by all rows and copied.
      int64_t rows = p.type.getNumRows();
      for (const WeightComponent &c : getWeightLayout(p.type).components) {
        std::string from = p.recipe.source + c.suffix;
        const rt::TensorView *t = source ? source->find(from) : nullptr;
        if (!t)
          return fail(module.getLoc(),
                      "tensor '" + from + "' is missing from the parameter file");
        bool perRow = c.shape.size() == 2 && c.shape[0] == rows;
        int64_t rowBytes = perRow ? c.shape[1] * rt::dtypeSize(c.dtype) : 0;
        int64_t offset = perRow ? p.rowOffset * rowBytes : 0;
        if (offset + c.getNumBytes() > t->numBytes)
          return fail(module.getLoc(), "tensor '" + from + "' is too small for the slice");
        if (!writer.addBorrowed(p.name + c.suffix, c.dtype,
                                std::vector<int64_t>(c.shape.begin(), c.shape.end()),
                                t->data + offset, c.getNumBytes(), error,
                                [source, t] { source->evict(*t); }))
          return fail(module.getLoc(), error);
      }
    }
    return success();
  }

  /// Sinks become reads of the new parameters; dead transforms, reads and parameters go;
  /// the new parameters are declared after the existing ones.
  void rewriteIR(ModuleOp module, const Plan &plan) {
    OpBuilder builder(module.getContext());
    for (auto [sink, p] : llvm::zip(plan.sinks, plan.created)) {
      builder.setInsertionPoint(sink);
      Value read = WeightOp::create(builder, sink->getLoc(), p.type,
                                    FlatSymbolRefAttr::get(builder.getContext(), p.name));
      sink->getResult(0).replaceUsesWithIf(
          read, [](OpOperand &use) { return !isTransform(use.getOwner()); });
    }
    for (Operation *t : llvm::reverse(plan.transforms))
      if (t->use_empty())
        t->erase();
    module.walk([&](WeightOp read) {
      if (read->use_empty() && !plan.keep.contains(read.getName()))
        read->erase();
    });
    for (ParamOp param : plan.dropped)
      param->erase();
    builder.setInsertionPointToStart(module.getBody());
    for (ParamOp param : module.getOps<ParamOp>())
      builder.setInsertionPointAfter(param);
    for (const NewParam &p : plan.created)
      ParamOp::create(builder, module.getLoc(), p.name, p.type, /*value=*/nullptr);
  }

  /// Every surviving stored tensor, copied as it is.
  LogicalResult copySurvivors(ModuleOp module, const rt::ParamFile *file, const Plan &plan,
                              rt::ParamFileWriter &writer) {
    std::string error;
    for (ParamOp param : module.getOps<ParamOp>()) {
      if (param.getValue() || !plan.before.contains(param.getSymName()))
        continue;
      for (const WeightComponent &c : getWeightLayout(param.getWeightType()).components) {
        std::string stored = storedName(param) + c.suffix;
        std::string name = param.getSymName().str() + c.suffix;
        const rt::TensorView *t = file ? file->find(stored) : nullptr;
        if (!t)
          return fail(param.getLoc(),
                      "tensor '" + stored + "' is missing from the parameter file");
        if (!writer.addBorrowed(name, t->dtype, t->shape, t->data, t->numBytes, error,
                                [file, t] { file->evict(*t); }))
          return fail(param.getLoc(), error);
      }
    }
    return success();
  }
};

} // namespace
