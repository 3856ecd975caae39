//===- Kernels.h - CPU kernels of the runtime -------------------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// One function per kern op. Activations are fp32 rows (`rows` tokens × `width`); weights
// are read in their stored type (fp32, fp16, bf16) and converted per element inside the
// kernel, never into a dequantized copy. Matrix products are split over output columns
// across threads (a ThreadPool); everything else is memory-bound and single-pass.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_CPU_KERNELS_H
#define MIDLLAMA_RUNTIME_CPU_KERNELS_H

#include "runtime/format/WeightView.h"
#include "runtime/params/DType.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace midllama::rt::cpu {

/// A weight as the kernels read it: the view the CUDA kernels read too
/// (runtime/format/WeightView.h).
using WeightRef = WeightView;

/// Whether the kernels decode `w` row by row (quantized or sparse) rather than read it.
inline bool decodesRows(const WeightRef &w) { return w.isQuantized() || w.sparse != SparsityKind::None; }

/// Row `n` of a quantized or sparse weight as fp32 into `dst` (K values): affine
/// (q - zero) * scale, NF4, int8 + outliers, or the kept values of a sparse row in place.
void dequantizeRow(const WeightRef &w, int64_t n, float *dst);

/// Runs `body(begin, end)` over [0, n) split into chunks across the runtime's threads, or
/// inline when the work (`n` items of about `costPerItem` multiply-adds) is too small to
/// repay waking them (a wake-up costs about as much as 50k multiply-adds).
void parallelFor(int64_t n, int64_t costPerItem,
                 const std::function<void(int64_t, int64_t)> &body);
/// Products of 4-, 5-, 6- and 8-bit affine weights (2- and 3-bit ones at decode) with the
/// activations quantized to int8 in blocks of 32 (as llama.cpp computes Q4 x Q8): faster
/// where the CPU has AVX-512 VNNI,
/// not bit-equal to the fp32-activation path. Off by default (--int8-activations).
void setInt8Activations(bool on);
bool int8Activations();
/// How the int8 activations are scaled: one scale per 32 columns (false, the default: as
/// llama.cpp's Q8_0), or one per group of the weight they meet when its groups are longer
/// (true: ONNX Runtime's MatMulNBits at accuracy_level 4 scales the input per block_size
/// columns). The codes and the kernels are the same; only the scales' span differs.
void setInt8ScalesFollowWeightGroups(bool on);
bool int8ScalesFollowWeightGroups();
/// Whether this CPU has the int8 path (AVX-512 VNNI); without it the setting changes nothing.
bool int8ActivationsAvailable();
/// Prefill products (4 or more input rows) of every weight not stored as dense fp32 (fp16,
/// bf16, NF4, affine codes of any width, pruned; not LLM.int8(), which has its own integer
/// product) with the activations and the decoded weights rounded to bf16 (nearest even)
/// and pairs of products summed in fp32 by AVX512_BF16's vdpbf16ps: twice the multiply-adds
/// of an fp32 FMA per instruction. Where int8 activations are on too, they take the
/// weights they cover. Off by default (--bf16-activations); decode (1-3 rows) is unchanged
/// but tiled NF4's, bf16 products with its code book rounded (MatMulNF4BF16Decode.cpp).
void setBf16Activations(bool on);
bool bf16Activations();
/// Whether this CPU has AVX512_BF16; without it the setting changes nothing.
bool bf16ActivationsAvailable();
/// Dense 4-, 5- and 8-bit affine and NF4 weights are read from a copy laid out in tiles of
/// 16 rows (WeightRef::tileCodes, CodeTiles.cpp), made at load where the CPU has AVX-512
/// (codeTilesWanted): whether `w` can be tiled, and the tiling, which points w's tile
/// fields into `storage` (or into zeroed memory from `allocate`: the loader's huge-page
/// arena; w is left as stored when it returns null) and returns the parts of the original
/// the tiled rows no longer read (the loader drops their pages, so the weight is not held
/// twice).
bool codeTilesWanted();
bool codeTilesApply(const WeightRef &w);
struct ByteRange {
  const void *data = nullptr;
  size_t bytes = 0;
};
struct CodeTileBytes {
  ByteRange codes, scales, offsets;
};
CodeTileBytes packCodeTiles(WeightRef &w, std::vector<uint8_t> &storage);
CodeTileBytes packCodeTiles(WeightRef &w, const std::function<uint8_t *(size_t)> &allocate);
void setThreadCount(int threads);
int threadCount();
/// The CPUs this process may run on, and the most threads setThreadCount should be given
/// (more only adds switching; a count far above it is a mistake, refused by the tools).
int availableCPUs();
int maxThreadCount();

void embed(const int64_t *tokens, int64_t rows, const WeightRef &table, float *out);
void rmsNorm(const float *in, float *out, int64_t rows, int64_t width, const WeightRef &w,
             float eps);
void addRMSNorm(const float *in, const float *residual, float *sum, float *out, int64_t rows,
                int64_t width, const WeightRef &w, float eps);
/// out[r, n] = sum_k in[r, k] * w[n, k].
void matmul(const float *in, float *out, int64_t rows, const WeightRef &w);
/// out[r, n] = silu(in · gate[n]) * (in · up[n]).
void gateUpSwiGLU(const float *in, float *out, int64_t rows, const WeightRef &gate,
                  const WeightRef &up);
void swiglu(const float *gate, const float *up, float *out, int64_t count);
/// Σ e^(x_i - shift) over n values, the exponentials in fp32 (within about 1 ulp of
/// std::exp's where the CPU has AVX-512, std::exp elsewhere; terms under e^-87.3, where
/// std::exp's turn subnormal, as 0) summed in fp64: a log-softmax's normalizer (shift:
/// the largest x). NaN if any x_i is.
double sumExp(const float *x, int64_t n, float shift);
/// KL(softmax(a) || softmax(b)) over n logits in nats, `maxA` the largest a_i: softmax(a)'s
/// exponentials as sumExp's, the rest in fp64 (e^x - 1 to about an ulp, vectorized where
/// the CPU has AVX-512). Relative error about 1e-7 even for nearly equal distributions.
/// NaN if an a_i or b_i is.
double softmaxKL(const float *a, const float *b, int64_t n, float maxA);
/// The index of the first largest of x[0..n), as std::max_element chooses it.
int64_t argmax(const float *x, int64_t n);
void add(const float *a, const float *b, float *out, int64_t count);
void mul(const float *a, const float *b, float *out, int64_t count);
void silu(const float *in, float *out, int64_t count);

struct AttentionParams {
  int64_t heads, kvHeads, headDim, rotaryDim;
  float scale, theta;
  bool interleaved;
};
/// Rotates q and k of `rows` new tokens at `positions` (in place), writes k and v into
/// the layer's cache at those positions and computes causal attention of each query over
/// cache positions 0..its own. The caches hold `cacheLength` positions: `vCache`
/// [cacheLength, kvHeads * headDim], `kCache` transposed, [kvHeads * headDim,
/// keyCacheStride(cacheLength)] (the scores of consecutive positions are then vectors:
/// Attention.cpp).
void attention(float *q, float *k, const float *v, float *out, const int64_t *positions,
               int64_t rows, float *kCache, float *vCache, int64_t cacheLength,
               const AttentionParams &p);
/// The same over an fp16 cache (IEEE half bits): keys and values rounded to fp16 (nearest
/// even) when written, widened exactly when read; the arithmetic is fp32 as above, so the
/// result equals the fp32 cache's for keys and values that fp16 holds exactly. Each cache
/// needs kHalfKVCachePadding more elements than it holds (the kernels read 16 at a time).
void attention(float *q, float *k, const float *v, float *out, const int64_t *positions,
               int64_t rows, uint16_t *kCache, uint16_t *vCache, int64_t cacheLength,
               const AttentionParams &p);
inline constexpr int64_t kHalfKVCachePadding = 32;
/// Which cache new sessions keep: fp32 (false, the default: the reference numerics) or
/// fp16 (--kv-cache f16, as llama.cpp's default cache: half the memory, and half the bytes
/// each decoded token reads per cached position, which dominate decode at long contexts).
void setHalfKVCache(bool on);
bool halfKVCache();
/// The elements between consecutive features of the transposed key cache for `cacheLength`
/// positions (of fp32, or of fp16 with `half`): cacheLength rounded up to whole 64-byte
/// lines, and an odd number of them, so that the rows a score tile reads (one per feature)
/// fall in different sets of the L1 and L2 caches. At a power-of-two context (512, 1024,
/// 2048: every evaluation protocol's) they fell in one or two sets, each tile evicting the
/// last. SmolLM2 fp32 perplexity, 1 thread, alternating (2026-12-05): ctx 2048 597-604 ->
/// 642-643 tok/s, ctx 1024 697-698 -> 722-728, ctx 512 the same within noise; results
/// bit for bit the same (only where the keys lie changes).
int64_t keyCacheStride(int64_t cacheLength, bool half = false);

} // namespace midllama::rt::cpu

#endif // MIDLLAMA_RUNTIME_CPU_KERNELS_H
