//===- LLMTypes.cpp - The !llm.weight type --------------------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Dialect/LLM/IR/LLMDialect.h"
#include "midllama/Dialect/LLM/IR/WeightLayout.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h" // the generated parser and printer use it

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

// !llm.weight<64x172xf16[, format][, sparsity]>: each attribute goes where its interface
// says, so a new format or pattern needs nothing here.
Type WeightType::parse(AsmParser &parser) {
  SmallVector<int64_t, 2> shape;
  Type elementType;
  llvm::SMLoc loc = parser.getCurrentLocation();
  if (parser.parseLess() ||
      parser.parseDimensionList(shape, /*allowDynamic=*/false,
                                /*withTrailingX=*/true) ||
      parser.parseType(elementType))
    return {};
  WeightFormatAttrInterface format;
  WeightSparsityAttrInterface sparsity;
  while (succeeded(parser.parseOptionalComma())) {
    llvm::SMLoc attrLoc = parser.getCurrentLocation();
    Attribute attr;
    if (parser.parseAttribute(attr))
      return {};
    auto isSparsity = isa<WeightSparsityAttrInterface>(attr);
    if (!isSparsity && !isa<WeightFormatAttrInterface>(attr)) {
      parser.emitError(attrLoc) << "unknown weight storage format " << attr;
      return {};
    }
    if (isSparsity ? bool(sparsity) : bool(format)) {
      parser.emitError(attrLoc) << "a weight has at most one "
                                << (isSparsity ? "sparsity pattern" : "storage format");
      return {};
    }
    if (isSparsity)
      sparsity = cast<WeightSparsityAttrInterface>(attr);
    else
      format = cast<WeightFormatAttrInterface>(attr);
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
                                 WeightFormatAttrInterface format,
                                 WeightSparsityAttrInterface sparsity) {
  return verifyWeightEncoding(emitError, shape, elementType, format, sparsity);
}

int64_t WeightType::getNumElements() const {
  int64_t n = 1;
  for (int64_t dim : getShape())
    n *= dim;
  return n;
}

WeightType WeightType::withFormat(WeightFormatAttrInterface format) const {
  return WeightType::get(getContext(), getShape(), getElementType(), format,
                         getSparsity());
}

WeightType WeightType::withSparsity(WeightSparsityAttrInterface sparsity) const {
  return WeightType::get(getContext(), getShape(), getElementType(), getFormat(),
                         sparsity);
}
