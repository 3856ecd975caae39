//===- ZeroedBuffer.h - Zero-filled buffers that cost only what is touched -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// A session sizes its activation slots for the largest step it may run (every row's
// logits for a batch of windows: 400 MB for SmolLM2 at 8 x 256 tokens), but many runs never
// write most of them (layer-by-layer calibration never reaches the LM head). std::vector
// writes its zeros up front, making every page resident; calloc of a large block hands out
// the kernel's zero pages, which become memory only where written. Same contents, the
// peak RSS then counts what a run really uses.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_SUPPORT_ZEROEDBUFFER_H
#define MIDLLAMA_RUNTIME_SUPPORT_ZEROEDBUFFER_H

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>

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

private:
  struct Free {
    void operator()(float *p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> data_;
  size_t size_;
};

} // namespace midllama::rt

#endif // MIDLLAMA_RUNTIME_SUPPORT_ZEROEDBUFFER_H
