//===- WeightLayout.cpp - Bytes behind an !llm.weight ---------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// How each encoding is stored (docs/weights.md has the same in prose). A rank-2 weight is
// [N, K] = [out, in]. Sparsity decides which values are stored ("the value stream"); the
// format decides how those values are encoded. Groups and blocks are defined over the
// logical columns, so a pruned-then-quantized weight keeps the group structure of the dense
// one.
//
//===----------------------------------------------------------------------===//

#include "midllama/Dialect/LLM/IR/WeightLayout.h"

#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace midllama;
using namespace midllama::llm;

namespace {
/// Largest number of logical weights we accept in one parameter (2^40, ~1 T): far above any
/// real layer, low enough that byte counts cannot overflow int64.
constexpr int64_t kMaxWeightElements = int64_t(1) << 40;

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

rt::DType toDType(Type type) {
  if (type.isF16())
    return rt::DType::F16;
  if (type.isBF16())
    return rt::DType::BF16;
  return rt::DType::F32;
}

/// Which values of the weight are stored, and how they are indexed.
struct ValueStream {
  int64_t rows = 1;
  int64_t perRow = 0;      // values per row when every row stores the same count
  int64_t total = 0;       // values stored in all
  bool rowAligned = true;  // false: one flat stream of `total` values (unstructured)
  llvm::SmallVector<WeightComponent, 2> index; // mask/row_ptr or N:M indices
};

ValueStream getValueStream(WeightType type, bool compressUnstructured) {
  ValueStream s;
  s.rows = type.getNumRows();
  int64_t k = type.getNumColumns();
  s.perRow = k;
  s.total = s.rows * k;
  if (auto nm = dyn_cast_or_null<NMSparsityAttr>(type.getSparsity())) {
    s.perRow = k / nm.getM() * nm.getN();
    s.total = s.rows * s.perRow;
    int64_t indexBits = llvm::Log2_64_Ceil(nm.getM());
    s.index.push_back({".indices", rt::DType::U8,
                       {s.rows, ceilDiv(s.perRow * indexBits, 8)}});
  } else if (auto us = dyn_cast_or_null<UnstructuredSparsityAttr>(type.getSparsity());
             us && compressUnstructured) {
    s.total = us.getNnz();
    s.rowAligned = false;
    s.index.push_back({".mask", rt::DType::U8, {s.rows, ceilDiv(k, 8)}});
    s.index.push_back({".row_ptr", rt::DType::I32, {s.rows + 1}});
  }
  return s;
}

/// A packed stream of `bitsPerValue`-bit codes: one byte-aligned row each when the stream is
/// row-aligned, else one flat array.
WeightComponent packedValues(StringRef suffix, const ValueStream &s,
                             int64_t bitsPerValue, rt::DType dtype = rt::DType::U8) {
  int64_t elemBits = rt::dtypeSize(dtype) * 8;
  if (s.rowAligned)
    return {suffix.str(), dtype, {s.rows, ceilDiv(s.perRow * bitsPerValue, elemBits)}};
  return {suffix.str(), dtype, {ceilDiv(s.total * bitsPerValue, elemBits)}};
}

WeightLayout layoutWith(WeightType type, bool compressUnstructured) {
  WeightLayout layout;
  ValueStream s = getValueStream(type, compressUnstructured);
  rt::DType elem = toDType(type.getElementType());
  int64_t k = type.getNumColumns();
  bool stored_sparse = !s.index.empty();

  // No format: dense values of the element type (TypeSwitch's Default; it needs non-null).
  Attribute format = type.getFormat();
  if (!format)
    format = UnitAttr::get(type.getContext());
  llvm::TypeSwitch<Attribute>(format)
      .Case([&](AffineQuantAttr a) {
        int64_t groups = ceilDiv(k, a.getGroupSize());
        layout.components.push_back(packedValues(".qweight", s, a.getBits()));
        layout.components.push_back({".scales", elem, {s.rows, groups}});
        if (!a.getSymmetric())
          layout.components.push_back({".zeros", rt::DType::U8, {s.rows, groups}});
        if (a.getActOrder())
          layout.components.push_back({".g_idx", rt::DType::I32, {k}});
      })
      .Case([&](NF4Attr a) {
        // NF4 blocks run over the flattened value stream, as in bitsandbytes.
        int64_t blocks = ceilDiv(s.total, a.getBlockSize());
        layout.components.push_back({".qweight", rt::DType::U8, {ceilDiv(s.total, 2)}});
        if (a.getDoubleQuant()) {
          layout.components.push_back({".absmax", rt::DType::U8, {blocks}});
          layout.components.push_back(
              {".absmax_scale", rt::DType::F32, {ceilDiv(blocks, a.getDqBlockSize())}});
          layout.components.push_back({".absmax_offset", rt::DType::F32, {1}});
        } else {
          layout.components.push_back({".absmax", rt::DType::F32, {blocks}});
        }
      })
      .Case([&](Int8OutliersAttr a) {
        // Outlier columns stay in the int8 matrix as zeros: the kernel then streams one
        // dense int8 matrix and adds the small fp16 product of the outlier columns.
        layout.components.push_back(packedValues(".qweight", s, 8, rt::DType::I8));
        layout.components.push_back({".row_scale", rt::DType::F32, {s.rows}});
        int64_t numCols = a.getColumns().size();
        if (numCols > 0)
          layout.components.push_back({".outliers", rt::DType::F16, {s.rows, numCols}});
      })
      .Default([&](Attribute) {
        if (!stored_sparse) {
          layout.components.push_back(
              {"", elem, llvm::SmallVector<int64_t, 2>(type.getShape())});
          return;
        }
        layout.components.push_back(
            packedValues(".values", s, rt::dtypeSize(elem) * 8, elem));
      });
  layout.components.append(s.index.begin(), s.index.end());
  return layout;
}
} // namespace

int64_t WeightComponent::getNumElements() const {
  int64_t n = 1;
  for (int64_t dim : shape)
    n *= dim;
  return n;
}

int64_t WeightComponent::getNumBytes() const {
  return getNumElements() * rt::dtypeSize(dtype);
}

int64_t WeightLayout::getNumBytes() const {
  int64_t bytes = 0;
  for (const WeightComponent &c : components)
    bytes += c.getNumBytes();
  return bytes;
}

int64_t WeightLayout::getAlignedNumBytes() const {
  int64_t bytes = 0;
  for (const WeightComponent &c : components)
    bytes += llvm::alignTo(c.getNumBytes(), kParamAlignment);
  return bytes;
}

WeightLayout midllama::llm::getWeightLayout(WeightType type) {
  if (!isa_and_nonnull<UnstructuredSparsityAttr>(type.getSparsity()))
    return layoutWith(type, /*compressUnstructured=*/false);
  // Unstructured sparsity is stored compressed only when that saves bytes.
  WeightLayout dense = layoutWith(type, /*compressUnstructured=*/false);
  WeightLayout compressed = layoutWith(type, /*compressUnstructured=*/true);
  return compressed.getNumBytes() < dense.getNumBytes() ? compressed : dense;
}

std::string midllama::llm::getStorageFormatName(WeightType type) {
  std::string name;
  llvm::raw_string_ostream os(name);
  Attribute format = type.getFormat();
  if (!format)
    format = UnitAttr::get(type.getContext());
  llvm::TypeSwitch<Attribute>(format)
      .Case([&](AffineQuantAttr a) {
        os << "int" << a.getBits() << " g" << a.getGroupSize()
           << (a.getSymmetric() ? " sym" : " asym")
           << (a.getActOrder() ? " act-order" : "");
      })
      .Case([&](NF4Attr a) {
        os << "nf4 b" << a.getBlockSize() << (a.getDoubleQuant() ? " dq" : "");
      })
      .Case([&](Int8OutliersAttr a) {
        os << "int8 + " << a.getColumns().size() << " fp16 cols";
      })
      .Default([&](Attribute) { os << type.getElementType(); });
  if (auto nm = dyn_cast_or_null<NMSparsityAttr>(type.getSparsity())) {
    os << " " << nm.getN() << ":" << nm.getM();
  } else if (isa_and_nonnull<UnstructuredSparsityAttr>(type.getSparsity())) {
    bool compressed = getWeightLayout(type).components.back().suffix == ".row_ptr";
    os << (compressed ? " sparse-bitmask" : " sparse-in-dense");
  }
  return name;
}

LogicalResult midllama::llm::verifyWeightEncoding(
    function_ref<InFlightDiagnostic()> emitError, ArrayRef<int64_t> shape,
    Type elementType, Attribute format, Attribute sparsity) {
  if (shape.empty() || shape.size() > 2)
    return emitError() << "weights are rank 1 or 2, got rank " << shape.size();
  int64_t numElements = 1;
  for (int64_t dim : shape) {
    if (dim <= 0)
      return emitError() << "weight dimensions must be positive, got " << dim;
    if (dim > kMaxWeightElements / numElements)
      return emitError() << "weight has more than 2^40 elements";
    numElements *= dim;
  }
  if (!elementType.isF32() && !elementType.isF16() && !elementType.isBF16())
    return emitError() << "weight element type must be f32, f16 or bf16, got "
                       << elementType;
  if (format && !isa<AffineQuantAttr, NF4Attr, Int8OutliersAttr>(format))
    return emitError() << "unknown weight storage format " << format;
  if (sparsity && !isa<NMSparsityAttr, UnstructuredSparsityAttr>(sparsity))
    return emitError() << "unknown weight sparsity pattern " << sparsity;
  if ((format || sparsity) && shape.size() != 2)
    return emitError() << "only rank-2 weights can be quantized or sparse, got rank "
                       << shape.size();
  if (!format && !sparsity)
    return success();

  int64_t k = shape[1];
  if (auto a = dyn_cast_or_null<AffineQuantAttr>(format)) {
    if (a.getGroupSize() > k)
      return emitError() << "quantization group size " << a.getGroupSize()
                         << " does not fit the input dimension K = " << k;
  }
  if (auto a = dyn_cast_or_null<Int8OutliersAttr>(format)) {
    ArrayRef<int64_t> cols = a.getColumns().asArrayRef();
    if (!cols.empty() && cols.back() >= k)
      return emitError() << "int8_outliers column " << cols.back()
                         << " is out of range for the input dimension K = " << k;
  }
  if (auto nm = dyn_cast_or_null<NMSparsityAttr>(sparsity)) {
    if (k % nm.getM() != 0)
      return emitError() << nm.getN() << ":" << nm.getM()
                         << " sparsity needs the input dimension K = " << k
                         << " to be a multiple of " << nm.getM();
  }
  if (auto us = dyn_cast_or_null<UnstructuredSparsityAttr>(sparsity)) {
    if (us.getNnz() > numElements)
      return emitError() << "unstructured sparsity keeps " << us.getNnz()
                         << " weights but the weight has only " << numElements;
  }
  return success();
}
