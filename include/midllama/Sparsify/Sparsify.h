//===- Sparsify.h - Pruning numerics: scores, masks, SparseGPT --*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Which weights of a linear layer to set to zero (docs/algorithms.md):
//   - magnitude: score |W_ij|;
//   - Wanda (Sun et al. 2023): |W_ij| · ‖X_j‖₂, the input column's norm over calibration
//     tokens;
//   - SparseGPT (Frantar & Alistarh 2023): OBS with the calibration Hessian, choosing the
//     mask block by block by w² / [H⁻¹]_jj² and moving each pruned weight's error onto the
//     columns not yet visited, as GPTQ does with rounding errors.
// A pattern is unstructured (a ratio of the weights of each comparison group: an output row
// or the whole layer) or N:M (at most N kept in each run of M input columns of a row).
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_SPARSIFY_SPARSIFY_H
#define MIDLLAMA_SPARSIFY_SPARSIFY_H

#include <cstdint>
#include <string>
#include <vector>

namespace midllama::sparse {

struct Pattern {
  /// Unstructured when m == 0: prune `ratio` of each comparison group.
  double ratio = 0.5;
  int64_t n = 0, m = 0;
  /// N:M when M does not divide K: the last, shorter run of t columns keeps
  /// round(t · N / M) of them (`proportionalTail`), or the pattern is refused.
  bool proportionalTail = false;
  bool isNM() const { return m > 0; }
};

enum class Comparison { Row, Layer };

/// Checks `p` against a weight with K input columns; false with `error` unless 1 <= N < M <= 32,
/// or the ratio is not in [0, 1), or M does not divide K without the tail rule.
bool checkPattern(const Pattern &p, int64_t k, std::string &error);

/// The weights a pattern keeps of a run of `t` columns (t = M except in a tail).
int64_t keptInRun(const Pattern &p, int64_t t);

/// |W|.
std::vector<float> magnitudeScores(const float *w, int64_t n, int64_t k);
/// |W_ij| · sqrt(sumSq_j) (Wanda).
std::vector<float> wandaScores(const float *w, int64_t n, int64_t k,
                               const std::vector<double> &sumSq);

/// GBLM-Pruner (Das et al. 2023, reference code): |W_ij| · sqrt(a_j) + |W_ij| · G_ij with
/// a_j = sumSq_j / samples (the mean over calibration samples of ‖X_n[:, j]‖²) and G the
/// gradient norm sqrt(Σ_n (α · ∂L_n/∂W_ij)²) ([n, k]).
std::vector<float> gblmScores(const float *w, int64_t n, int64_t k,
                              const std::vector<double> &sumSq, int64_t samples,
                              const float *gradNorm);

/// The keep mask (1 = kept) of the [n, k] `scores` under `p`: the lowest scores go first,
/// ties broken by index (the earlier column is pruned first), so the mask is deterministic.
std::vector<uint8_t> selectMask(const std::vector<float> &scores, int64_t n, int64_t k,
                                const Pattern &p, Comparison comparison);

/// `w` with the weights `mask` drops set to zero.
std::vector<float> applyMask(const float *w, const std::vector<uint8_t> &mask);

struct SparseGPTOptions {
  Pattern pattern;
  double damp = 0.01;
  int64_t blockSize = 128; // columns per block; unstructured masks are chosen per block
  /// Unstructured masks: false prunes exactly ⌊n·sparsity⌋ weights of each block of n;
  /// true follows the reference code (`tmp <= sort(tmp)[int(n·sparsity)]`): every weight
  /// scoring at or below the ⌊n·sparsity⌋-th smallest (0-based), one more than that and
  /// any ties with it.
  bool referenceCount = false;
};

/// SparseGPT on the row-major [n, k] `w` with Hessian `h` ([k, k]): `out` gets the pruned,
/// error-compensated weights and `mask` the keep mask. False with `error` when H + damping
/// is not positive definite.
bool sparseGPT(const float *w, int64_t n, int64_t k, const float *h,
               const SparseGPTOptions &options, std::vector<float> &out,
               std::vector<uint8_t> &mask, std::string &error);

} // namespace midllama::sparse

#endif // MIDLLAMA_SPARSIFY_SPARSIFY_H
