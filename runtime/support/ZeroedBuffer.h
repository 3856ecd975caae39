//===- ZeroedBuffer.h - Zero-filled buffers that cost only what is touched -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// A session sizes its activation slots for the largest step it may run (every row's
// logits for a batch of windows: 400 MB for SmolLM2 at 8 x 256 tokens), but many runs never
// write most of them (layer-by-layer calibration never reaches the LM head). std::vector
// writes its zeros up front, making every page resident; calloc of a large block hands out
// the kernel's zero pages, which become memory only where written. Same contents, the
// peak RSS then counts what a run really uses. The KV cache is held the same way (a session
// sized for an 8192-token context costs the positions its runs fill), and clear() gives a
// buffer's pages back (calibration, done with a layer's cache).
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_SUPPORT_ZEROEDBUFFER_H
#define MIDLLAMA_RUNTIME_SUPPORT_ZEROEDBUFFER_H

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <cstdlib>
#include <memory>
#include <new>

#include "runtime/support/Memory.h"

namespace midllama::rt {

class ZeroedBuffer {
public:
  explicit ZeroedBuffer(size_t count)
      : data_(static_cast<float *>(std::calloc(count ? count : 1, sizeof(float)))),
        size_(count) {
    if (!data_)
      throw std::bad_alloc();
  }
  float *data() { return data_.get(); }
  const float *data() const { return data_.get(); }
  size_t size() const { return size_; }
  /// Zeroes the contents and gives the whole pages back to the system (they read as zeros
  /// and cost nothing until written again): a calibration run done with a layer's KV cache.
  void clear();

private:
  struct Free {
    void operator()(float *p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> data_;
  size_t size_;
};

inline void ZeroedBuffer::clear() {
  auto *begin = reinterpret_cast<uint8_t *>(data_.get());
  uint8_t *end = begin + size_ * sizeof(float);
  // Private anonymous pages (calloc's, heap or mmap) read as zeros once dropped; only whole
  // pages inside the buffer are, the partial ends are cleared here.
  auto [first, last] = dropWholePages(begin, size_t(end - begin));
  if (first == last) {
    std::memset(begin, 0, size_t(end - begin));
    return;
  }
  std::memset(begin, 0, size_t(first - begin));
  std::memset(begin + (last - begin), 0, size_t(end - last));
}

} // namespace midllama::rt

#endif // MIDLLAMA_RUNTIME_SUPPORT_ZEROEDBUFFER_H
