//===- CodeTiles.cpp - 2- to 8-bit weights re-laid in tiles of 16 rows -----===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// At load, where the CPU has AVX-512, each 16 rows of a dense 4-bit affine (or NF4) weight are
// interleaved so that one 64-byte load holds, for every one of the 16 rows, 8 consecutive
// codes of a 32-column block: byte m of lane c of chunk q has row c's code of column
// 8q + m in its low nibble and of column 8q + 4 + m in its high nibble. With int8
// activations (MatMulW4A8*.cpp), masking the low nibbles gives vpdpbusd's unsigned
// operand for columns 8q..8q+3 of all 16 rows at once, shifting gives 8q+4..8q+7, and the
// input's 4 int8 values are one broadcast; with fp32 activations (MatMulTilesAVX512.cpp)
// each code is shifted out of its lane and converted. Either way a lane accumulates one
// output row, so the group scales of 16 rows are one vector (stored transposed,
// [tile][group][16]) and no horizontal sum is needed. The row-major layout needs a nibble
// split, a permuted input and a horizontal reduction per row instead (still used for the
// rows past the last whole tile). 8-bit weights are tiled too (chunk q of a block:
// columns 4q..4q+3 of the 16 rows, one vpdpbusd operand as loaded), which is exactly the
// panel layout the int8 prefill kernel reads; 5-bit weights (ggml's Q5_0/Q5_1/Q5_K) as
// the 4-bit layout of their low 4 bits plus 64 bytes of fifth bits per block (byte q of
// lane c: bit m for column 8q + m, bit 4 + m for 8q + 4 + m), 5 bits per weight still;
// 6-bit weights (ggml's Q6_K, groups of 16) as the same low 4 bits plus two chunks of
// their top 2-bit pairs (chunk h: columns 16h..16h+15, in the low nibbles' byte order), 6
// bits per weight;
// 3-bit weights (GPTQ w3, what searched recipes pick most) as two chunks of 2-bit pairs
// (lane c of chunk q: bits 2s, 2s+1 = column 16q + s) and a plane of third bits (column
// 16q + 4m + j at bit 8m + 4q + j: one shift puts the third bits of columns 16q + j,
// +4, +8, +12 at bit 2 of the lane's four bytes, where (pairs >> 2j) & 3 has their low
// bits: a vpdpbusd operand in 4 operations, MatMulW4A8Decode's pairOperand), 3 bits per
// weight; 2-bit ones as the same chunks without the plane. The same idea as llama.cpp's
// load-time
// repacking of Q4_0 (its ggml-cpu "repack" buffers); the layout here is our own.
//
//===----------------------------------------------------------------------===//

#include "runtime/cpu/KernelsInternal.h"

#include <cstring>

namespace midllama::rt::cpu {

bool codeTilesWanted() { return haveAVX512(); } // every kernel that reads tiles is AVX-512

namespace {
/// Widths with a tile layout: 4 bits with row-major tail rows; 2, 3, 5, 6 and 8 bits tiled
/// whole or not at all (no row-major int8-activation kernel for 5 and 8 bits; one kernel
/// fewer to keep right for tail rows for the others).
bool tileableWidth(const WeightRef &w) {
  if (w.bits == 4)
    return true;
  const bool width = w.bits == 2 || w.bits == 3 || w.bits == 5 || w.bits == 6 || w.bits == 8;
  return width && w.rows % 16 == 0 && !w.isNF4();
}

/// Groups of whole 32-column blocks; 6 bits also of 16 columns (ggml's Q6_K, kept as is by
/// the GGUF import: the tile kernels split each block's chunks in two groups). Scales that
/// are codes (K-quants) need their super block a power of two (a shift, TileValues.h).
bool tileableGroups(const WeightRef &w) {
  const bool groups =
      w.groupSize > 0 && (w.groupSize % 32 == 0 || (w.bits == 6 && w.groupSize == 16));
  return groups && (w.scaleBlock == 0 || (w.scaleBlock & (w.scaleBlock - 1)) == 0);
}
} // namespace

bool codeTilesApply(const WeightRef &w) {
  // NF4: its blocks of the row-major stream must lie within rows.
  const bool format = w.hasCodeGroups() || (w.isNF4() && w.cols % w.groupSize == 0);
  const bool dtype = w.dtype == DType::F16 || w.dtype == DType::F32 || w.dtype == DType::BF16;
  return format && dtype && tileableWidth(w) && tileableGroups(w) &&
         w.sparse == SparsityKind::None && !w.panels && w.cols % 32 == 0 && w.cols > 0 &&
         w.rows >= 16 && w.codes && w.scales;
}

namespace {
constexpr size_t kAlign = 64;
size_t roundUp(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

/// The 32 codes of row n's block b (columns 32b..32b+31) of a row-major 2- to 8-bit weight
/// (codes little-endian from the row's first bit; NF4's stream high nibble first). A
/// block starts on a byte (32 codes are 4·bits bytes), so its bytes are copied once and the
/// codes cut from 64-bit words: tiling a 7B model's 4-bit weights took tens of seconds
/// with a code-at-a-time bit cursor.
void rowBlockCodes(const WeightRef &w, int64_t n, int64_t b, uint8_t *codes) {
  if (w.isNF4()) { // blocks lie within rows (codeTilesApply): row n starts on a byte
    const uint8_t *src = w.codes + (n * w.cols + 32 * b) / 2;
    for (int j = 0; j < 16; ++j) {
      codes[2 * j] = src[j] >> 4;
      codes[2 * j + 1] = src[j] & 0xf;
    }
    return;
  }
  const int bits = w.bits;
  if (bits == 4) { // the common case: two codes a byte, low nibble first
    const uint8_t *src = w.codes + n * w.codeRowBytes + 16 * b;
    for (int j = 0; j < 16; ++j) {
      codes[2 * j] = src[j] & 0xf;
      codes[2 * j + 1] = src[j] >> 4;
    }
    return;
  }
  uint8_t bytes[40] = {}; // 4·bits bytes, then zeros to read 8 at any code
  std::memcpy(bytes, w.codes + n * w.codeRowBytes + 4 * bits * b, size_t(4 * bits));
  const uint64_t mask = (uint64_t(1) << bits) - 1;
  for (int j = 0; j < 32; ++j) {
    const int bit = j * bits;
    uint64_t word;
    std::memcpy(&word, bytes + bit / 8, 8);
    codes[j] = uint8_t((word >> (bit % 8)) & mask);
  }
}

/// Row n's 32 codes of block b into its lane of the tile block at `block`.
void placeBlock(const WeightRef &w, int64_t n, int64_t b, uint8_t *block) {
  uint8_t code[32];
  if (w.bits == 8) { // chunk q (0-7): columns 4q..4q+3 of the block, as the panels hold them
    for (int q = 0; q < 8; ++q)
      std::memcpy(block + 64 * q, w.codes + n * w.codeRowBytes + 32 * b + 4 * q, 4);
    return;
  }
  rowBlockCodes(w, n, b, code);
  if (w.bits <= 3) { // chunk q (0-1): bits 2s, 2s+1 = the low 2 bits of column 16q + s;
    // 3 bits: then a plane of third bits, column 16q + 4m + j's at bit 8m + 4q + j
    uint32_t low[2] = {0, 0}, third = 0;
    for (int c = 0; c < 32; ++c) {
      low[c / 16] |= uint32_t(code[c] & 3) << (2 * (c % 16));
      third |= uint32_t(code[c] >> 2) << thirdBitOf(c);
    }
    std::memcpy(block, &low[0], 4);
    std::memcpy(block + 64, &low[1], 4);
    if (w.bits == 3)
      std::memcpy(block + 128, &third, 4);
    return;
  }
  // 4 bits (and the low 4 of 5 and 6): byte m of chunk q holds columns 8q + m and
  // 8q + 4 + m; 5 bits: the fifth bits after the 4 chunks, byte q of the lane, bit m and
  // 4 + m; 6 bits: the top two bits after them in two chunks, chunk q / 2's byte m holding
  // those of chunk q's byte m in one nibble (bits 0-1: column 8q + m, 2-3: 8q + 4 + m; the
  // high nibble for even q), so that masking gives vpdpbusd's bits 4-5 (MatMulW4A8Decode's
  // stepOperands) and each half block (16 columns: a Q6_K group) is one chunk.
  for (int q = 0; q < 4; ++q)
    for (int m = 0; m < 4; ++m) {
      const int j = 8 * q + m;
      const uint8_t lo = code[j], hi = code[j + 4];
      block[64 * q + m] = uint8_t((lo & 0xf) | (hi & 0xf) << 4);
      if (w.bits == 5)
        block[256 + q] |= uint8_t((lo >> 4) << m | (hi >> 4) << (4 + m));
      if (w.bits == 6)
        block[256 + 64 * (q / 2) + m] |= uint8_t(((lo >> 4) | (hi >> 4) << 2) << (q % 2 ? 0 : 4));
    }
}

/// Value i of `scales`-like per-group data stored as the tiles store it: the fp16 bits as
/// they are (tileValuesHalf), a K-quant's 8-bit code as it is (`codes`), anything else as
/// fp32 (NF4's block scales are fp32).
void storeGroupValue(const WeightRef &w, const void *values, const uint8_t *codes, int64_t i,
                     uint8_t *dst) {
  if (w.scaleBlock) {
    *dst = codes[i];
    return;
  }
  if (w.isNF4()) {
    std::memcpy(dst, static_cast<const float *>(values) + i, 4);
    return;
  }
  if (tileValuesHalf(w)) {
    std::memcpy(dst, static_cast<const uint16_t *>(values) + i, 2);
    return;
  }
  WeightRef view;
  view.data = values;
  view.dtype = w.dtype;
  const float f = at(view, i);
  std::memcpy(dst, &f, 4);
}
} // namespace

namespace {
/// What the first `tiled` rows of `w` (`groups` per row) no longer read of the original once
/// tiled: the caller may drop its pages.
CodeTileBytes untiledBytes(const WeightRef &w, int64_t tiled, int64_t groups) {
  CodeTileBytes original;
  const size_t storedValue = w.dtype == DType::F32 || w.isNF4() ? 4 : 2;
  original.codes = {w.codes, size_t(tiled * (w.isNF4() ? w.cols / 2 : w.codeRowBytes))};
  // K-quants: their scale codes (the decoded fp32 scales are the loader's heap, not the file).
  original.scales = w.scaleBlock ? ByteRange{w.scaleCodes, size_t(tiled * groups)}
                                 : ByteRange{w.scales, size_t(tiled * groups) * storedValue};
  if (w.isAffineMin())
    original.offsets = w.scaleBlock ? ByteRange{w.minCodes, size_t(tiled * groups)}
                                    : ByteRange{w.mins, size_t(tiled * groups) * storedValue};
  else if (w.zeros)
    original.offsets = {w.zeros, size_t(tiled * groups)};
  return original;
}
} // namespace

CodeTileBytes packCodeTiles(WeightRef &w, std::vector<uint8_t> &storage) {
  return packCodeTiles(w, [&](size_t bytes) {
    storage.assign(bytes, 0);
    return storage.data();
  });
}

CodeTileBytes packCodeTiles(WeightRef &w, const std::function<uint8_t *(size_t)> &allocate) {
  const int64_t tiles = w.rows / 16, k = w.cols, blocks = k / 32, groups = tileGroups(w);
  // K-quant scales stay codes (1 byte per group and row) with fp32 supers per scaleBlock.
  const int64_t supers = w.scaleBlock ? (groups + w.scaleBlock - 1) / w.scaleBlock : 0;
  const size_t valueBytes = w.scaleBlock ? 1 : tileValuesHalf(w) ? 2 : 4;
  const size_t offsetBytes = w.isAffineMin() ? valueBytes : (w.zeros ? 1 : 0);
  const size_t superBytes = size_t(tiles * supers) * 16 * 4; // per kind (scales, minimums)
  const size_t blockBytes = size_t(16 * 32 * w.bits / 8); // 16 rows of a 32-column block
  // (5 bits: 256 bytes of low nibbles, then 64 of fifth bits, 4 per lane; 6 bits: the
  // same nibbles, then 128 of top pairs; 3 bits: 128 of low 2-bit pairs, then 64 of third
  // bits)
  const size_t codeBytes = size_t(tiles * blocks) * blockBytes;
  const size_t scaleBytes = size_t(tiles * groups) * 16 * valueBytes;
  const size_t offsetTotal = size_t(tiles * groups) * 16 * offsetBytes;
  uint8_t *storage = allocate(roundUp(codeBytes) + roundUp(scaleBytes) + roundUp(offsetTotal) +
                              2 * roundUp(superBytes) + kAlign);
  if (!storage)
    return {}; // no memory: the weight stays as stored (w untouched)
  uintptr_t at = reinterpret_cast<uintptr_t>(storage);
  uint8_t *codes = storage + (roundUp(at) - at);
  uint8_t *scales = codes + roundUp(codeBytes);
  uint8_t *offsets = scales + roundUp(scaleBytes);
  float *scaleSupers = reinterpret_cast<float *>(offsets + roundUp(offsetTotal));
  float *offsetSupers =
      reinterpret_cast<float *>(offsets + roundUp(offsetTotal) + roundUp(superBytes));

  for (int64_t t = 0; t < tiles; ++t)
    for (int64_t c = 0; c < 16; ++c) {
      const int64_t n = 16 * t + c;
      for (int64_t b = 0; b < blocks; ++b)
        placeBlock(w, n, b, codes + size_t(t * blocks + b) * blockBytes + 4 * c);
      for (int64_t g = 0; g < groups; ++g) {
        const size_t slot = size_t((t * groups + g) * 16 + c);
        storeGroupValue(w, w.scales, w.scaleCodes, n * groups + g, scales + slot * valueBytes);
        if (w.isAffineMin())
          storeGroupValue(w, w.mins, w.minCodes, n * groups + g, offsets + slot * valueBytes);
        else if (w.zeros)
          offsets[slot] = w.zeros[n * groups + g];
      }
      for (int64_t u = 0; u < supers; ++u) {
        scaleSupers[(t * supers + u) * 16 + c] = w.scaleSupers[n * supers + u];
        if (w.isAffineMin())
          offsetSupers[(t * supers + u) * 16 + c] = w.minSupers[n * supers + u];
      }
    }
  w.tileCodes = codes;
  w.tileScales = scales;
  w.tileOffsets = offsetBytes ? offsets : nullptr;
  w.tileScaleSupers = supers ? scaleSupers : nullptr;
  w.tileOffsetSupers = supers && w.isAffineMin() ? offsetSupers : nullptr;

  return untiledBytes(w, 16 * tiles, groups);
}

} // namespace midllama::rt::cpu
