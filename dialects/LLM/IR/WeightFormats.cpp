//===- WeightFormats.cpp - What each storage format says about itself -----===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The WeightFormatAttrInterface methods of #llm.affine, #llm.affine_min, #llm.nf4 and
// #llm.int8_outliers: their tensors (docs/weights.md says the same in prose), their checks
// against a weight's shape, their names in reports and their runtime descriptors. A rank-2
// weight is
// [N, K] = [out, in]; groups and blocks are defined over the logical columns, so a
// pruned-then-quantized weight keeps the group structure of the dense one.
//
//===----------------------------------------------------------------------===//

#include "midllama/Dialect/LLM/IR/LLMDialect.h"

#include <cstring>

using namespace mlir;
using namespace midllama;
using namespace midllama::llm;

static int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// Groups of columns along a row (#llm.affine, #llm.affine_min) need K >= the group size.
static LogicalResult verifyGroupFits(function_ref<InFlightDiagnostic()> emitError,
                                     int64_t groupSize, ArrayRef<int64_t> shape) {
  if (groupSize > shape[1])
    return emitError() << "quantization group size " << groupSize
                       << " does not fit the input dimension K = " << shape[1];
  return success();
}

//===----------------------------------------------------------------------===//
// #llm.affine
//===----------------------------------------------------------------------===//

LogicalResult AffineQuantAttr::verifyWeight(function_ref<InFlightDiagnostic()> emitError,
                                            ArrayRef<int64_t> shape, Type) const {
  return verifyGroupFits(emitError, getGroupSize(), shape);
}

void AffineQuantAttr::appendComponents(const ValueStream &s, int64_t columns,
                                       rt::DType elementType,
                                       SmallVectorImpl<WeightComponent> &components) const {
  int64_t groups = ceilDiv(columns, getGroupSize());
  components.push_back(s.packed(".qweight", getBits()));
  if (int64_t block = getScaleBlock()) { // int8 codes times a super-scale per block of groups
    components.push_back({".scales", rt::DType::I8, {s.rows, groups}});
    components.push_back({".scale_scales", elementType, {s.rows, ceilDiv(groups, block)}});
  } else {
    components.push_back({".scales", elementType, {s.rows, groups}});
  }
  if (!getSymmetric())
    components.push_back({".zeros", rt::DType::U8, {s.rows, groups}});
  if (getActOrder())
    components.push_back({".g_idx", rt::DType::I32, {columns}});
}

void AffineQuantAttr::printShortName(raw_ostream &os) const {
  os << "int" << getBits() << " g" << getGroupSize() << (getSymmetric() ? " sym" : " asym")
     << (getActOrder() ? " act-order" : "");
  if (getScaleBlock())
    os << " qscale/" << getScaleBlock();
}

FailureOr<rt::FormatParams> AffineQuantAttr::getRuntimeFormat(bool) const {
  if (getActOrder()) // the kernels read groups of consecutive columns only
    return failure();
  rt::FormatParams f;
  f.kind = rt::FormatKind::Affine;
  f.affine = {getBits(), getGroupSize(), getSymmetric(), getScaleBlock()};
  return f;
}

// Codes, scales and zero points are all per row.
bool AffineQuantAttr::hasIndependentRows() const { return true; }

//===----------------------------------------------------------------------===//
// #llm.affine_min
//===----------------------------------------------------------------------===//

LogicalResult AffineMinQuantAttr::verifyWeight(function_ref<InFlightDiagnostic()> emitError,
                                               ArrayRef<int64_t> shape, Type) const {
  return verifyGroupFits(emitError, getGroupSize(), shape);
}

void AffineMinQuantAttr::appendComponents(const ValueStream &s, int64_t columns,
                                          rt::DType elementType,
                                          SmallVectorImpl<WeightComponent> &components) const {
  int64_t groups = ceilDiv(columns, getGroupSize());
  components.push_back(s.packed(".qweight", getBits()));
  if (int64_t block = getScaleBlock()) { // uint8 codes times a super-value per block of groups
    int64_t supers = ceilDiv(groups, block);
    components.push_back({".scales", rt::DType::U8, {s.rows, groups}});
    components.push_back({".scale_scales", elementType, {s.rows, supers}});
    components.push_back({".mins", rt::DType::U8, {s.rows, groups}});
    components.push_back({".min_scales", elementType, {s.rows, supers}});
    return;
  }
  components.push_back({".scales", elementType, {s.rows, groups}});
  components.push_back({".mins", elementType, {s.rows, groups}});
}

void AffineMinQuantAttr::printShortName(raw_ostream &os) const {
  os << "int" << getBits() << " g" << getGroupSize() << " min";
  if (getScaleBlock())
    os << " qscale/" << getScaleBlock();
}

FailureOr<rt::FormatParams> AffineMinQuantAttr::getRuntimeFormat(bool) const {
  rt::FormatParams f;
  f.kind = rt::FormatKind::AffineMin;
  f.affineMin = {getBits(), getGroupSize(), getScaleBlock()};
  return f;
}

// Codes, scales and minima are all per row.
bool AffineMinQuantAttr::hasIndependentRows() const { return true; }

//===----------------------------------------------------------------------===//
// #llm.nf4
//===----------------------------------------------------------------------===//

LogicalResult NF4Attr::verifyWeight(function_ref<InFlightDiagnostic()>, ArrayRef<int64_t>,
                                    Type) const {
  return success(); // blocks run over the flattened stream: any shape
}

void NF4Attr::appendComponents(const ValueStream &s, int64_t, rt::DType,
                               SmallVectorImpl<WeightComponent> &components) const {
  // NF4 blocks run over the flattened value stream, as in bitsandbytes.
  int64_t blocks = ceilDiv(s.total, getBlockSize());
  components.push_back({".qweight", rt::DType::U8, {ceilDiv(s.total, 2)}});
  if (getDoubleQuant()) {
    components.push_back({".absmax", rt::DType::U8, {blocks}});
    components.push_back(
        {".absmax_scale", rt::DType::F32, {ceilDiv(blocks, getDqBlockSize())}});
    components.push_back({".absmax_offset", rt::DType::F32, {1}});
  } else {
    components.push_back({".absmax", rt::DType::F32, {blocks}});
  }
}

void NF4Attr::printShortName(raw_ostream &os) const {
  os << "nf4 b" << getBlockSize() << (getDoubleQuant() ? " dq" : "");
}

FailureOr<rt::FormatParams> NF4Attr::getRuntimeFormat(bool) const {
  rt::FormatParams f;
  f.kind = rt::FormatKind::NF4;
  // The attribute keeps a default dq_block_size without double quantization; the runtime
  // gets the block size only where it means something.
  f.nf4 = {getBlockSize(), getDoubleQuant(), getDoubleQuant() ? getDqBlockSize() : 0};
  return f;
}

//===----------------------------------------------------------------------===//
// #llm.int8_outliers
//===----------------------------------------------------------------------===//

LogicalResult Int8OutliersAttr::verifyWeight(function_ref<InFlightDiagnostic()> emitError,
                                             ArrayRef<int64_t> shape, Type) const {
  ArrayRef<int64_t> cols = getColumns().asArrayRef();
  if (!cols.empty() && cols.back() >= shape[1])
    return emitError() << "int8_outliers column " << cols.back()
                       << " is out of range for the input dimension K = " << shape[1];
  return success();
}

void Int8OutliersAttr::appendComponents(const ValueStream &s, int64_t, rt::DType,
                                        SmallVectorImpl<WeightComponent> &components) const {
  // Outlier columns stay in the int8 matrix as zeros: the kernel then streams one dense
  // int8 matrix and adds the small fp16 product of the outlier columns.
  components.push_back(s.packed(".qweight", 8, rt::DType::I8));
  components.push_back({".row_scale", rt::DType::F32, {s.rows}});
  int64_t numCols = getColumns().size();
  if (numCols > 0)
    components.push_back({".outliers", rt::DType::F16, {s.rows, numCols}});
}

void Int8OutliersAttr::printShortName(raw_ostream &os) const {
  os << "int8 + " << getColumns().size() << " fp16 cols";
}

FailureOr<rt::FormatParams> Int8OutliersAttr::getRuntimeFormat(bool) const {
  rt::FormatParams f;
  f.kind = rt::FormatKind::Int8Outliers;
  f.int8.numOutliers = int64_t(getColumns().size());
  return f;
}

void Int8OutliersAttr::appendTypeTensors(SmallVectorImpl<TypeTensor> &tensors) const {
  // The outlier columns live in the IR type; the kernel needs them beside the weights.
  ArrayRef<int64_t> columns = getColumns().asArrayRef();
  if (columns.empty())
    return;
  std::vector<uint8_t> bytes(columns.size() * 4);
  for (size_t j = 0; j < columns.size(); ++j) {
    int32_t col = int32_t(columns[j]);
    std::memcpy(&bytes[4 * j], &col, 4);
  }
  tensors.push_back({{".outlier_columns", rt::DType::I32, {int64_t(columns.size())}},
                     std::move(bytes)});
}
