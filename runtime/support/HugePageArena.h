//===- HugePageArena.h - Memory streamed at every token, on huge pages -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Decode streams every weight once per token, so its speed is the memory's. On 4 KiB pages
// the hardware prefetchers stop at every page boundary and each page costs a TLB entry; a
// plain read of 256 MiB here ran at 23-28 GB/s on 4 KiB pages and 30-31 GB/s on
// transparent huge pages. Weights re-laid at load (CodeTiles.cpp) are anonymous memory, so
// they can have huge pages: this arena hands out zeroed, 64-byte aligned pieces of 2 MiB-
// aligned chunks advised MADV_HUGEPAGE (honoured when the system's transparent_hugepage
// setting is "madvise" or "always"; on "never" the memory is ordinary). Pieces are packed
// one after another, so small weights share huge pages instead of each rounding one up.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_SUPPORT_HUGEPAGEARENA_H
#define MIDLLAMA_RUNTIME_SUPPORT_HUGEPAGEARENA_H

#include <cstddef>
#include <cstdint>
#include <vector>

namespace midllama::rt {

class HugePageArena {
public:
  HugePageArena() = default;
  HugePageArena(const HugePageArena &) = delete;
  HugePageArena &operator=(const HugePageArena &) = delete;
  ~HugePageArena();

  /// `bytes` of zeroed memory, 64-byte aligned, valid as long as the arena; null when the
  /// system refused the mapping.
  uint8_t *allocate(size_t bytes);

  /// Bytes handed out so far (what callers asked for, rounded up to 64).
  size_t allocatedBytes() const { return allocated_; }

private:
  struct Chunk {
    void *mapping = nullptr; // as mmap returned it (for munmap)
    size_t mappingBytes = 0;
    uint8_t *begin = nullptr, *next = nullptr, *end = nullptr; // 2 MiB-aligned part
  };
  std::vector<Chunk> chunks_;
  size_t allocated_ = 0;
};

} // namespace midllama::rt

#endif // MIDLLAMA_RUNTIME_SUPPORT_HUGEPAGEARENA_H
