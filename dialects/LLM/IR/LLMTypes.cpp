//===- LLMTypes.cpp - The !llm.weight type --------------------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Dialect/LLM/IR/LLMDialect.h"
#include "midllama/Dialect/LLM/IR/WeightLayout.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace midllama::llm;

#define GET_TYPEDEF_CLASSES
#include "midllama/Dialect/LLM/IR/LLMTypes.cpp.inc"

void LLMDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "midllama/Dialect/LLM/IR/LLMTypes.cpp.inc"
      >();
}

static bool isSparsityAttr(Attribute attr) {
  return isa<NMSparsityAttr, UnstructuredSparsityAttr>(attr);
}

// !llm.weight<64x172xf16[, format][, sparsity]>
Type WeightType::parse(AsmParser &parser) {
  SmallVector<int64_t, 2> shape;
  Type elementType;
  llvm::SMLoc loc = parser.getCurrentLocation();
  if (parser.parseLess() ||
      parser.parseDimensionList(shape, /*allowDynamic=*/false,
                                /*withTrailingX=*/true) ||
      parser.parseType(elementType))
    return {};
  Attribute format, sparsity;
  while (succeeded(parser.parseOptionalComma())) {
    llvm::SMLoc attrLoc = parser.getCurrentLocation();
    Attribute attr;
    if (parser.parseAttribute(attr))
      return {};
    Attribute &slot = isSparsityAttr(attr) ? sparsity : format;
    if (slot) {
      parser.emitError(attrLoc) << "a weight has at most one "
                                << (isSparsityAttr(attr) ? "sparsity pattern"
                                                         : "storage format");
      return {};
    }
    slot = attr;
  }
  if (parser.parseGreater())
    return {};
  return parser.getChecked<WeightType>(loc, parser.getContext(), shape,
                                       elementType, format, sparsity);
}

void WeightType::print(AsmPrinter &printer) const {
  printer << "<";
  for (int64_t dim : getShape())
    printer << dim << "x";
  printer << getElementType();
  if (getFormat())
    printer << ", " << getFormat();
  if (getSparsity())
    printer << ", " << getSparsity();
  printer << ">";
}

LogicalResult WeightType::verify(function_ref<InFlightDiagnostic()> emitError,
                                 ArrayRef<int64_t> shape, Type elementType,
                                 Attribute format, Attribute sparsity) {
  return verifyWeightEncoding(emitError, shape, elementType, format, sparsity);
}

int64_t WeightType::getNumElements() const {
  int64_t n = 1;
  for (int64_t dim : getShape())
    n *= dim;
  return n;
}

WeightType WeightType::withFormat(Attribute format) const {
  return WeightType::get(getContext(), getShape(), getElementType(), format,
                         getSparsity());
}

WeightType WeightType::withSparsity(Attribute sparsity) const {
  return WeightType::get(getContext(), getShape(), getElementType(), getFormat(),
                         sparsity);
}
