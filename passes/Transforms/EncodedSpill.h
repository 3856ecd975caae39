//===- EncodedSpill.h - Encoded weights kept on disk until the rewrite -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// A calibrated pass encodes one layer's weights at a time but writes the new parameter file
// only at the end: held in memory, the encodings grow with the model (4-bit: an eighth of
// its fp32 size; a pruned fp32 weight: half). Spilled here, each weight's component bytes
// go to an unlinked temporary file as soon as they are made, and the rewriter reads them
// back from a mapping, a tensor at a time (WeightRewriter's addComponents), so calibration
// holds one layer, not the model's output.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_PASSES_TRANSFORMS_ENCODEDSPILL_H
#define MIDLLAMA_PASSES_TRANSFORMS_ENCODEDSPILL_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace midllama {

struct EncodedWeight;

class EncodedSpill {
public:
  EncodedSpill() = default;
  ~EncodedSpill();
  EncodedSpill(const EncodedSpill &) = delete;
  EncodedSpill &operator=(const EncodedSpill &) = delete;

  /// Moves the bytes of every component of `e` to the file (the components then point
  /// here). False with `error` (naming the temporary file's directory) when it cannot be
  /// created or written, or once read back (map() was called).
  bool spill(EncodedWeight &e, std::string &error);
  /// The bytes spilled at `offset`; maps the file on first use. Null with `error` set when
  /// the mapping fails.
  const uint8_t *data(int64_t offset, std::string &error) const;
  /// Drops the pages of [offset, offset + bytes) from this process once written out.
  void evict(int64_t offset, int64_t bytes) const;

private:
  int fd_ = -1;
  int64_t size_ = 0;
  mutable const uint8_t *map_ = nullptr;
};

} // namespace midllama

#endif // MIDLLAMA_PASSES_TRANSFORMS_ENCODEDSPILL_H
