//===- MatMul.cpp - Matrix products: dispatch and portable paths ----------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// matmul and gate_up_swiglu split their output columns over threads; each share runs the
// fastest path this CPU has (MatMulAVX2.cpp, MatMulAVX512.cpp) or the portable one here.
// LLM.int8() weights have their own integer product; int8 (MatMulW4A8VNNI.cpp) and bf16
// (MatMulBF16AVX512.cpp) activations are chosen here, once per product.
//
//===----------------------------------------------------------------------===//

#include "runtime/cpu/KernelsInternal.h"
#include "runtime/params/Half.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace midllama::rt::cpu {

//===----------------------------------------------------------------------===//
// Matrix products. The portable path is dot products; on x86 CPUs with AVX2 and FMA
// (checked at run time, so one binary runs everywhere) a register-blocked kernel computes
// R x 4 outputs at once: 4 weight rows stay in L1 while blocks of 32 input rows stream
// past them, each 8-wide step doing R * 4 fused multiply-adds for R + 4 loads.
//===----------------------------------------------------------------------===//

/// Columns [begin, end) of in[rows, k] · w[n, k]ᵀ into out[r * ld + (j - begin)], portable.
void matmulColumnsGeneric(const float *in, float *out, int64_t ld, int64_t rows,
                          const WeightRef &w, int64_t begin, int64_t end) {
  int64_t k = w.cols;
  std::vector<float> buffer(w.dtype == DType::F32 && !decodesRows(w) ? 0 : k);
  for (int64_t j = begin; j < end; ++j) {
    const float *row = weightRow(w, j, buffer.data());
    for (int64_t r = 0; r < rows; ++r)
      out[r * ld + (j - begin)] = dot(in + r * k, row, k);
  }
}

//===----------------------------------------------------------------------===//
// Panel16 weights: 16 outputs per vector of weights, the input broadcast.
//===----------------------------------------------------------------------===//

/// Portable: columns [begin, end) (begin a multiple of 16) from panels.
void panelColumnsGeneric(const float *in, float *out, int64_t ld, int64_t rows,
                         const WeightRef &w, int64_t begin, int64_t end) {
  int64_t k = w.cols;
  for (int64_t p = begin / 16; p * 16 < end; ++p) {
    int64_t lanes = std::min<int64_t>(16, end - p * 16);
    for (int64_t r = 0; r < rows; ++r) {
      float acc[16] = {};
      for (int64_t i = 0; i < k; ++i) {
        float x = in[r * k + i];
        int64_t base = (p * k + i) * 16;
        for (int l = 0; l < 16; ++l)
          acc[l] += x * at(w, base + l);
      }
      for (int64_t l = 0; l < lanes; ++l)
        out[r * ld + (p * 16 + l - begin)] = acc[l];
    }
  }
}

/// Input rows from which decoding 32 weight rows (codes, or row-major fp16/bf16) into
/// panels pays for itself against the row-by-row AVX2 kernel.
constexpr int64_t kDecodedPanelRows = 4;

/// Columns [begin, end) of the product into out[r * ld + (j - begin)], by the fastest path
/// this CPU has.
void matmulColumns(const float *in, float *out, int64_t ld, int64_t rows, const WeightRef &w,
                   int64_t begin, int64_t end) {
  if (w.panels) {
    if (haveAVX512())
      panelColumnsAVX512(in, out, ld, rows, w, begin, end);
    else if (haveAVX2())
      panelColumnsAVX2(in, out, ld, rows, w, begin, end);
    else
      panelColumnsGeneric(in, out, ld, rows, w, begin, end);
    return;
  }
  if (w.tileCodes && rows < kDecodedPanelRows && begin % 16 == 0 && haveAVX512()) {
    // The whole tiles from `begin` tiled, the rows after them (if any) as stored.
    const int64_t split = std::max(begin, std::min(end, w.rows) / 16 * 16);
    nf4Bf16DecodePath(w, rows) ? nf4TiledRowsBf16(in, out, ld, rows, w, begin, split)
                               : tiledRowsAVX512(in, out, ld, rows, w, begin, split);
    if (split == end)
      return;
    out += split - begin;
    begin = split;
  }
  if (codeGroupFastPath(w, rows))
    return codeGroupRowsAVX512(in, out, ld, rows, w, begin, end);
  if (nf4FastPath(w, rows))
    return nf4RowsAVX512(in, out, ld, rows, w, begin, end);
  if (wordGroupFastPath(w, rows))
    return wordGroupRowsAVX512(in, out, ld, rows, w, begin, end);
  if (bitmaskFastPath(w, rows))
    return bitmaskRowsAVX512(in, out, ld, rows, w, begin, end);
  if (nm24FastPath(w, rows))
    return nm24RowsAVX512(in, out, ld, rows, w, begin, end);
  // Row-major fp32 too (weights replaced during calibration: GPTQ, AWQ, GBLM's forward and
  // backward GEMMs): transposed into panels per call, the panel kernel runs at ~0.95 of the
  // FMA peak where the AVX2 row kernel reached 0.36 (decode-bench, 256 rows).
  if (rows >= kDecodedPanelRows && haveAVX512())
    return decodedPanelColumnsAVX512(in, out, ld, rows, w, begin, end);
  if (haveAVX2())
    matmulColumnsAVX2(in, out, ld, rows, w, begin, end);
  else
    matmulColumnsGeneric(in, out, ld, rows, w, begin, end);
}

namespace {

/// The product with fp32 activations, whatever setInt8Activations/setBf16Activations say
/// (but a tiled NF4 weight's decode under the latter: matmulColumns).
void matmulFp32Activations(const float *in, float *out, int64_t rows, const WeightRef &w) {
  // Threads split the columns in whole register blocks: 32 columns (two panels or tiles)
  // for packed or tiled weights, 4 for row-major ones.
  const int64_t n = w.rows, k = w.cols, unit = w.panels || w.tileCodes ? 32 : 4;
  parallelFor((n + unit - 1) / unit, unit * rows * k, [&](int64_t begin, int64_t end) {
    matmulColumns(in, out + unit * begin, n, rows, w, unit * begin, std::min(n, unit * end));
  });
}

/// LLM.int8(): each input row quantized to int8 once per call (absmax of its non-outlier
/// columns), int32 dot products with the int8 weight rows (AVX-512 VNNI where the CPU has
/// it: MatMulInt8VNNI.cpp), rescaled by both scales; the
/// outlier columns, rounded to fp16, times their fp16 weights. Matches quant::
/// int8OutlierMatmulReference up to fp32 rounding of the rescale.
void matmulInt8(const float *in, float *out, int64_t rows, const WeightRef &w) {
  int64_t n = w.rows, k = w.cols, c = w.numOutliers;
  const bool vnni = haveAVX512VNNI();
  LLMInt8Inputs x;
  quantizeLLMInt8Inputs(in, rows, w, /*biased=*/vnni, x);
  const std::vector<float> &sx = x.scale, &xo = x.outliers;
  const float *rowScale = static_cast<const float *>(w.scales);
  // The outlier columns' product, an fp16 [n, c] weight times the fp16-rounded inputs, by
  // the dense kernels: late layers of a real model can have most columns as outliers
  // (SmolLM2's last down projections: 1524 of 1536 at threshold 6).
  // With fp32 activations even under --bf16-activations: LLM.int8() keeps the outliers in
  // 16 bits by design (bf16 here cost +0.42% WikiText-2 perplexity on SmolLM2 int8-t6, and
  // its evaluation is 1.5x the fp32 model's without it).
  std::vector<float> yo(static_cast<size_t>(c ? rows * n : 0));
  if (c)
    matmulFp32Activations(xo.data(), yo.data(), rows, WeightRef{w.outliers, DType::F16, n, c});
  // y = the int32 dot · both scales + the outlier columns' product.
  auto finish = [&](int64_t r, int64_t j, int32_t dot) {
    float y = float(dot) * (sx[size_t(r)] * rowScale[j]);
    out[r * n + j] = c ? y + yo[size_t(r * n + j)] : y;
  };
  if (vnni) {
    // The input offset by 128 for vpdpbusd (unsigned × signed bytes); blocks of 32 columns.
    parallelFor((n + 31) / 32, 32 * rows * k, [&](int64_t begin, int64_t end) {
      std::vector<int8_t> buffers(static_cast<size_t>(32 * k));
      std::vector<int32_t> dots(static_cast<size_t>(32 * rows));
      for (int64_t b = begin; b < end; ++b) {
        const int64_t j0 = 32 * b, count = std::min<int64_t>(32, n - j0);
        const int8_t *wr[32];
        for (int64_t i = 0; i < count; ++i)
          wr[i] = int8Row(w, j0 + i, buffers.data() + i * k);
        int8PanelDotsVNNI(x.biased.data(), x.stride, rows, wr, int(count), k, dots.data());
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t i = 0; i < count; ++i)
            finish(r, j0 + i, dots[size_t(r * 32 + i)]);
      }
    });
    return;
  }
  parallelFor(n, rows * k, [&](int64_t begin, int64_t end) {
    std::vector<int8_t> buffer(static_cast<size_t>(k));
    for (int64_t j = begin; j < end; ++j) {
      const int8_t *wr = int8Row(w, j, buffer.data());
      for (int64_t r = 0; r < rows; ++r) {
        const int8_t *xr = x.codes.data() + r * k;
        int32_t acc = 0;
        for (int64_t i = 0; i < k; ++i)
          acc += int32_t(xr[i]) * int32_t(wr[i]);
        finish(r, j, acc);
      }
    }
  });
}

} // namespace

void matmul(const float *in, float *out, int64_t rows, const WeightRef &w) {
  if (w.isInt8())
    return matmulInt8(in, out, rows, w);
  int64_t n = w.rows, k = w.cols;
  if (w4a8Applies(w, rows)) { // the input quantized once, the columns split by 32
    Int8Activations x;
    quantizeActivations(in, rows, k, int8ScaleSpan(w), x);
    parallelFor((n + 31) / 32, 32 * rows * k, [&](int64_t begin, int64_t end) {
      w4a8Columns(x, out + 32 * begin, n, w, 32 * begin, std::min(n, 32 * end));
    });
    return;
  }
  if (bf16FastPath(w, rows)) { // the input rounded once, the columns split by 32
    Bf16Activations x;
    toBf16Activations(in, rows, k, x);
    parallelFor((n + 31) / 32, 32 * rows * k, [&](int64_t begin, int64_t end) {
      bf16ColumnsAVX512(x, out + 32 * begin, n, w, 32 * begin, std::min(n, 32 * end));
    });
    return;
  }
  matmulFp32Activations(in, out, rows, w);
}

void gateUpSwiGLU(const float *in, float *out, int64_t rows, const WeightRef &gate,
                  const WeightRef &up) {
  int64_t n = gate.rows, k = gate.cols;
  if (gate.isInt8() || up.isInt8()) { // the int8 kernel quantizes its input once: whole projections
    std::vector<float> g(static_cast<size_t>(rows * n)), u(g.size());
    matmul(in, g.data(), rows, gate);
    matmul(in, u.data(), rows, up);
    swiglu(g.data(), u.data(), out, rows * n);
    return;
  }
  // Column chunks of 64: gate and up of a chunk are computed by the matmul kernel into
  // small buffers and combined; the [rows, n] projections never exist. With int8 or bf16
  // activations both read one rounding of the input (two int8 ones if their weights' groups
  // ask for different scale spans).
  constexpr int64_t kChunk = 64;
  const bool int8 = w4a8Applies(gate, rows) && w4a8Applies(up, rows);
  const bool bf16 = !int8 && bf16FastPath(gate, rows) && bf16FastPath(up, rows);
  Int8Activations x, xUp;
  const Int8Activations *forUp = &x;
  Bf16Activations xb;
  if (int8) {
    quantizeActivations(in, rows, k, int8ScaleSpan(gate), x);
    if (int8ScaleSpan(up) != int8ScaleSpan(gate)) {
      quantizeActivations(in, rows, k, int8ScaleSpan(up), xUp);
      forUp = &xUp;
    }
  }
  if (bf16)
    toBf16Activations(in, rows, k, xb);
  parallelFor((n + kChunk - 1) / kChunk, 2 * kChunk * rows * k, [&](int64_t begin, int64_t end) {
    std::vector<float> g(size_t(rows * kChunk)), u(g.size());
    for (int64_t c = begin; c < end; ++c) {
      int64_t j0 = c * kChunk, j1 = std::min(n, j0 + kChunk);
      if (int8) {
        w4a8Columns(x, g.data(), kChunk, gate, j0, j1);
        w4a8Columns(*forUp, u.data(), kChunk, up, j0, j1);
      } else if (bf16) {
        bf16ColumnsAVX512(xb, g.data(), kChunk, gate, j0, j1);
        bf16ColumnsAVX512(xb, u.data(), kChunk, up, j0, j1);
      } else {
        matmulColumns(in, g.data(), kChunk, rows, gate, j0, j1);
        matmulColumns(in, u.data(), kChunk, rows, up, j0, j1);
      }
      for (int64_t r = 0; r < rows; ++r)
        siluTimes(g.data() + r * kChunk, u.data() + r * kChunk, out + r * n + j0, j1 - j0);
    }
  });
}

} // namespace midllama::rt::cpu
