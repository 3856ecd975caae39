//===- BindWeight.cpp - A compiled weight's tensors, as kernels read them -===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/format/BindWeight.h"

#include "runtime/format/Codebooks.h"
#include "runtime/format/Components.h"

#include <cstring>

using namespace midllama::rt;

// The CUDA kernels decode NF4 with a switch (WeightView.h's nf4Code): it must be the table.
static_assert([] {
  for (int i = 0; i < 16; ++i)
    if (nf4Code(i) != kNF4Values[i])
      return false;
  return true;
}(), "nf4Code and kNF4Values differ");

namespace {

/// Counts the values a bitmask keeps, checking that the row offsets count its bits (an
/// offset that does not would let a kernel read out of bounds). -1 when they do not.
int64_t countBitmask(const TensorView &mask, const TensorView &rowPtr, int64_t n, int64_t k) {
  int64_t maskBytes = (k + 7) / 8, total = 0;
  for (int64_t r = 0; r <= n; ++r) {
    int32_t at;
    std::memcpy(&at, rowPtr.data + 4 * r, 4);
    if (at != total)
      return -1;
    if (r < n)
      for (int64_t c = 0; c < k; ++c)
        total += mask.data[r * maskBytes + (c >> 3)] >> (c & 7) & 1;
  }
  return total;
}

/// NF4 block scales as fp32: copied, or double quantization undone
/// (code8[q] * scale[block / dqBlockSize] + offset).
void decodeAbsmax(const NF4Params &p, const TensorView &absmax, const TensorView *scale,
                  const TensorView *offset, std::vector<float> &out) {
  int64_t blocks = absmax.numElements();
  out.resize(size_t(blocks));
  if (!p.doubleQuant) {
    std::memcpy(out.data(), absmax.data, size_t(blocks) * 4);
    return;
  }
  const std::array<float, 256> &code = dynamicCode8();
  float off;
  std::memcpy(&off, offset->data, 4);
  for (int64_t b = 0; b < blocks; ++b) {
    float s;
    std::memcpy(&s, scale->data + 4 * (b / p.dqBlockSize), 4);
    out[size_t(b)] = code[absmax.data[b]] * s + off;
  }
}

/// Scales that are codes (ggml's K-quants): value = super[row][g / block] · code[row][g],
/// decoded into fp32 at decoded[at...] (n · groups values), and the supers as fp32 at
/// decoded[supersAt...] for the tiles. Exact: an fp16 super times an 8-bit code fits fp32.
void decodeCodedScales(const TensorView &codes, const TensorView &supers, bool isSigned,
                       int64_t block, std::vector<float> &decoded, size_t at, size_t supersAt) {
  const int64_t n = codes.shape[0], groups = codes.shape[1], count = supers.shape[1];
  for (int64_t i = 0; i < n * count; ++i)
    decoded[supersAt + size_t(i)] = loadAs(supers.data, supers.dtype, i);
  for (int64_t i = 0; i < n * groups; ++i)
    decoded[at + size_t(i)] =
        codedGroupValue(codes.data, decoded.data() + supersAt, isSigned, groups, block, i);
}

/// The tensors of one weight, by suffix (checked against componentsOf before use).
struct Tensors {
  const ParamFile &file;
  const std::string &name;
  const TensorView *operator()(const char *suffix) const { return file.find(name + suffix); }
};

/// A weight whose scales (and minimums, `withMins`) are codes times super-values per
/// `block` groups: `decoded` becomes [scales][mins][scale supers][min supers], all fp32, and
/// `ref` reads the decoded scales as fp32 groups, the codes and supers kept for the tiles.
void bindCodedScales(const Tensors &find, int64_t block, bool withMins, WeightView &ref,
                     std::vector<float> &decoded) {
  const TensorView *codes = find(".scales"), *supers = find(".scale_scales");
  const size_t values = size_t(codes->numElements()), count = size_t(supers->numElements());
  const size_t minsAt = values, supersAt = withMins ? 2 * values : values;
  decoded.assign(supersAt + (withMins ? 2 : 1) * count, 0.0f);
  decodeCodedScales(*codes, *supers, !withMins, block, decoded, 0, supersAt);
  ref.scaleCodes = codes->data;
  if (withMins) {
    const TensorView *minCodes = find(".mins"), *minSupers = find(".min_scales");
    decodeCodedScales(*minCodes, *minSupers, false, block, decoded, minsAt, supersAt + count);
    ref.minCodes = minCodes->data;
  }
  ref.dtype = DType::F32; // the decoded scales
  ref.scaleBlock = block;
  ref.scales = decoded.data();
  ref.mins = withMins ? decoded.data() + minsAt : nullptr;
  ref.scaleSupers = decoded.data() + supersAt;
  ref.minSupers = withMins ? decoded.data() + supersAt + count : nullptr;
}

/// Points `ref` at the index of a weight stored compressed.
bool bindIndex(const Tensors &find, const WeightInfo &info, WeightView &ref, std::string &why) {
  if (info.sparsity.kind == SparsityKind::NM) {
    if (ref.cols % info.sparsity.m != 0) {
      why = "has N:M sparsity with M not dividing its columns";
      return false;
    }
    ref.sparse = SparsityKind::NM;
    ref.nmN = info.sparsity.n;
    ref.nmM = info.sparsity.m;
    ref.index = find(".indices")->data;
    ref.indexRowBytes = find(".indices")->shape[1];
  } else if (info.sparsity.kind == SparsityKind::Bitmask) {
    ref.sparse = SparsityKind::Bitmask;
    ref.index = find(".mask")->data;
    ref.rowPtr = reinterpret_cast<const int32_t *>(find(".row_ptr")->data);
  }
  return true;
}

/// Points `ref` at the codes and scales of an affine weight (with or without minimum):
/// codes [N, ceil(K * bits / 8)] (a pruned weight: its kept values' codes, row-aligned for
/// N:M, one stream for a bitmask), a scale per group of columns.
void bindCodeGroups(const Tensors &find, int64_t bits, int64_t groupSize, const ValueStream &s,
                    WeightView &ref) {
  const TensorView *q = find(".qweight");
  ref.bits = int(bits);
  ref.groupSize = groupSize;
  ref.groups = (ref.cols + groupSize - 1) / groupSize;
  ref.codeRowBytes = s.rowAligned ? q->shape[1] : 0;
  ref.codes = q->data;
  ref.scales = find(".scales")->data;
}

/// Points `ref` at the tensors of the weight's format (one case per FormatKind).
bool bindFormat(const Tensors &find, const WeightInfo &info, const ValueStream &s,
                WeightView &ref, std::vector<float> &decoded, std::string &why) {
  const FormatParams &f = info.format;
  ref.format = f.kind;
  switch (f.kind) {
  case FormatKind::Dense:
    ref.data = find(info.sparsity.kind == SparsityKind::None ? "" : ".values")->data;
    ref.panels = info.layout == WeightLayout::Panel16;
    return true;
  case FormatKind::Affine:
    bindCodeGroups(find, f.affine.bits, f.affine.groupSize, s, ref);
    ref.zeros = f.affine.symmetric ? nullptr : find(".zeros")->data;
    if (f.affine.scaleBlock)
      bindCodedScales(find, f.affine.scaleBlock, false, ref, decoded);
    return true;
  case FormatKind::AffineMin: // a minimum per group in place of the zero points
    bindCodeGroups(find, f.affineMin.bits, f.affineMin.groupSize, s, ref);
    ref.mins = find(".mins")->data;
    if (f.affineMin.scaleBlock)
      bindCodedScales(find, f.affineMin.scaleBlock, true, ref, decoded);
    return true;
  case FormatKind::NF4: {
    const TensorView *a = find(".absmax");
    decodeAbsmax(f.nf4, *a, find(".absmax_scale"), find(".absmax_offset"), decoded);
    ref.dtype = DType::F32; // the decoded absmax
    ref.bits = 4;
    ref.groupSize = f.nf4.blockSize; // the view's values per scale: here an NF4 block
    ref.codes = find(".qweight")->data;
    ref.scales = decoded.data();
    return true;
  }
  case FormatKind::Int8Outliers: {
    int64_t c = f.int8.numOutliers;
    const TensorView *cols = c ? find(".outlier_columns") : nullptr;
    for (int64_t i = 0; i < c; ++i) { // sorted, unique, in range: the kernels rely on it
      int32_t col, prev = -1;
      std::memcpy(&col, cols->data + 4 * i, 4);
      if (i > 0)
        std::memcpy(&prev, cols->data + 4 * (i - 1), 4);
      if (col <= prev || col >= ref.cols) {
        why = "has outlier columns that are not sorted, unique and within its columns";
        return false;
      }
    }
    ref.dtype = DType::F32; // the row scales
    ref.bits = 8;
    ref.codes = find(".qweight")->data;
    ref.scales = find(".row_scale")->data;
    ref.numOutliers = c;
    ref.outlierColumns = c ? reinterpret_cast<const int32_t *>(cols->data) : nullptr;
    ref.outliers = c ? reinterpret_cast<const uint16_t *>(find(".outliers")->data) : nullptr;
    return true;
  }
  }
  why = "has an unknown format";
  return false;
}

} // namespace

bool midllama::rt::bindWeight(const ParamFile &file, const WeightInfo &info,
                              WeightView &ref, std::vector<float> &decoded,
                              std::string &why) {
  bool matrix = info.shape.size() == 2;
  if (info.shape.empty() || info.shape.size() > 2 ||
      (!matrix && (info.format.kind != FormatKind::Dense ||
                   info.sparsity.kind != SparsityKind::None))) {
    why = "is not a vector or a matrix its format allows";
    return false;
  }
  if (info.dtype != DType::F32 && info.dtype != DType::F16 && info.dtype != DType::BF16) {
    why = "has a type the CPU kernels do not read";
    return false;
  }
  int64_t n = matrix ? info.shape[0] : 1, k = info.shape.back();
  ref = WeightView();
  ref.dtype = info.dtype;
  ref.rows = n;
  ref.cols = k;
  Tensors find{file, info.name};

  // A bitmask's kept count sizes the value stream, so its index is checked first.
  int64_t kept = 0;
  if (info.sparsity.kind == SparsityKind::Bitmask) {
    const TensorView *mask = find(".mask"), *rowPtr = find(".row_ptr");
    bool ok = mask && mask->dtype == DType::U8 &&
              mask->shape == std::vector<int64_t>{n, (k + 7) / 8} && rowPtr &&
              rowPtr->dtype == DType::I32 && rowPtr->numElements() == n + 1;
    kept = ok ? countBitmask(*mask, *rowPtr, n, k) : -1;
    if (kept < 0) {
      why = "has a bitmask that does not fit its row offsets";
      return false;
    }
  }
  for (const Component &c : componentsOf(info, kept)) {
    const TensorView *t = file.find(info.name + c.suffix);
    if (!t || t->dtype != c.dtype || t->shape != c.shape) {
      why = std::string(t ? "has a component of the wrong type: " : "lacks its component ") +
            "'" + info.name + c.suffix + "'";
      return false;
    }
  }

  return bindIndex(find, info, ref, why) &&
         bindFormat(find, info, valueStreamOf(info, kept), ref, decoded, why);
}
