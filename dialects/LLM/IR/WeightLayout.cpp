//===- WeightLayout.cpp - Bytes behind an !llm.weight ---------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// A weight's tensors, its name and its checks, put together from its attributes: the
// sparsity pattern decides which values are stored ("the value stream") and the format how
// those values are encoded (dialects/LLM/IR/WeightFormats.cpp, WeightSparsities.cpp). No
// format means the values are stored in the element type.
//
//===----------------------------------------------------------------------===//

#include "midllama/Dialect/LLM/IR/WeightLayout.h"

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

WeightLayout layoutWith(WeightType type, bool compressed) {
  WeightLayout layout;
  int64_t rows = type.getNumRows(), k = type.getNumColumns();
  ValueStream s = compressed ? type.getSparsity().getCompressedStream(rows, k)
                             : ValueStream::dense(rows, k);
  rt::DType elem = toDType(type.getElementType());
  if (WeightFormatAttrInterface format = type.getFormat())
    format.appendComponents(s, k, elem, layout.components);
  else if (!compressed)
    layout.components.push_back({"", elem, SmallVector<int64_t, 2>(type.getShape())});
  else
    layout.components.push_back(s.packed(".values", rt::dtypeSize(elem) * 8, elem));
  layout.components.append(s.index.begin(), s.index.end());
  return layout;
}
} // namespace

WeightComponent ValueStream::packed(StringRef suffix, int64_t bitsPerValue,
                                    rt::DType dtype) const {
  int64_t elemBits = rt::dtypeSize(dtype) * 8;
  if (rowAligned)
    return {suffix.str(), dtype, {rows, ceilDiv(perRow * bitsPerValue, elemBits)}};
  return {suffix.str(), dtype, {ceilDiv(total * bitsPerValue, elemBits)}};
}

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

bool midllama::llm::isStoredCompressed(WeightType type) {
  WeightSparsityAttrInterface sparsity = type.getSparsity();
  if (!sparsity)
    return false;
  if (sparsity.isAlwaysCompressed())
    return true;
  // Otherwise only when that saves bytes; the choice follows from the type alone.
  return layoutWith(type, /*compressed=*/true).getNumBytes() <
         layoutWith(type, /*compressed=*/false).getNumBytes();
}

WeightLayout midllama::llm::getWeightLayout(WeightType type) {
  return layoutWith(type, isStoredCompressed(type));
}

std::string midllama::llm::getStorageFormatName(WeightType type) {
  std::string name;
  llvm::raw_string_ostream os(name);
  if (WeightFormatAttrInterface format = type.getFormat())
    format.printShortName(os);
  else
    os << type.getElementType();
  if (WeightSparsityAttrInterface sparsity = type.getSparsity())
    sparsity.printShortName(os, isStoredCompressed(type));
  return name;
}

LogicalResult midllama::llm::verifyWeightEncoding(
    function_ref<InFlightDiagnostic()> emitError, ArrayRef<int64_t> shape,
    Type elementType, WeightFormatAttrInterface format, WeightSparsityAttrInterface sparsity) {
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
  if ((format || sparsity) && shape.size() != 2)
    return emitError() << "only rank-2 weights can be quantized or sparse, got rank "
                       << shape.size();
  if (format && failed(format.verifyWeight(emitError, shape, elementType)))
    return failure();
  if (sparsity && failed(sparsity.verifyWeight(emitError, shape)))
    return failure();
  return success();
}
