//===- HugePageArena.cpp - Memory streamed at every token, on huge pages --===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/support/HugePageArena.h"

#include <algorithm>
#include <new>

#if defined(__unix__)
#include <sys/mman.h>
#endif

using namespace midllama::rt;

namespace {
constexpr size_t kHugePage = size_t(2) << 20;
// New chunks hold at least this much: a model's tiled weights in a few mappings, the
// unused tail of the last one never touched (so never resident).
constexpr size_t kChunkBytes = size_t(32) << 20;

size_t roundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }
} // namespace

HugePageArena::~HugePageArena() {
#if defined(__unix__)
  for (const Chunk &c : chunks_)
    munmap(c.mapping, c.mappingBytes);
#else
  for (const Chunk &c : chunks_)
    ::operator delete(c.mapping);
#endif
}

uint8_t *HugePageArena::allocate(size_t bytes) {
  bytes = roundUp(std::max<size_t>(bytes, 1), 64);
  if (chunks_.empty() || size_t(chunks_.back().end - chunks_.back().next) < bytes) {
    Chunk c;
    const size_t usable = std::max(kChunkBytes, roundUp(bytes, kHugePage));
#if defined(__unix__)
    c.mappingBytes = usable + kHugePage; // room to align the start to a huge page
    c.mapping = mmap(nullptr, c.mappingBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
    if (c.mapping == MAP_FAILED)
      return nullptr;
    c.begin = reinterpret_cast<uint8_t *>(
        roundUp(reinterpret_cast<uintptr_t>(c.mapping), kHugePage));
#ifdef MADV_HUGEPAGE
    madvise(c.begin, usable, MADV_HUGEPAGE); // advice: refused, the pages stay 4 KiB
#endif
#else
    c.mappingBytes = usable;
    c.mapping = ::operator new(usable, std::nothrow);
    if (!c.mapping)
      return nullptr;
    std::fill_n(static_cast<uint8_t *>(c.mapping), usable, uint8_t(0));
    c.begin = static_cast<uint8_t *>(c.mapping);
#endif
    c.next = c.begin;
    c.end = c.begin + usable;
    chunks_.push_back(c);
  }
  Chunk &c = chunks_.back();
  uint8_t *piece = c.next;
  c.next += bytes;
  allocated_ += bytes;
  return piece;
}
