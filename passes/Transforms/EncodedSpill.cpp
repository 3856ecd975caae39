//===- EncodedSpill.cpp - Encoded weights kept on disk until the rewrite ---===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/EncodedSpill.h"

#include "passes/Transforms/WeightRewriter.h"

#include "runtime/support/Memory.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <cerrno>
#include <cstring>
#include <sys/mman.h>
#include <unistd.h>

using namespace midllama;

EncodedSpill::~EncodedSpill() {
  if (map_)
    munmap(const_cast<uint8_t *>(map_), size_t(size_));
  if (fd_ >= 0)
    close(fd_);
}

bool EncodedSpill::spill(EncodedWeight &e, std::string &error) {
  if (map_) {
    error = "encoded weights spilled after being read back";
    return false;
  }
  if (fd_ < 0) {
    llvm::SmallString<128> path;
    if (std::error_code ec = llvm::sys::fs::createTemporaryFile("midllama-encoded", "bin", fd_,
                                                                path)) {
      llvm::SmallString<128> dir;
      llvm::sys::path::system_temp_directory(/*erasedOnReboot=*/true, dir);
      error = "cannot create a temporary file in " + std::string(dir) +
              " for the encoded weights: " + ec.message();
      fd_ = -1;
      return false;
    }
    // Unlinked at once: the space goes back when the pass ends, however it ends.
    llvm::sys::fs::remove(path);
  }
  for (EncodedWeight::Component &c : e.components) {
    if (c.spill || c.bytes.empty())
      continue;
    // 64-byte aligned, as the parameter file's tensors are.
    int64_t at = (size_ + 63) / 64 * 64;
    static const char zeros[64] = {};
    const char *p = reinterpret_cast<const char *>(c.bytes.data());
    size_t left = c.bytes.size();
    bool ok = at == size_ || ::pwrite(fd_, zeros, size_t(at - size_), size_) == at - size_;
    for (int64_t off = at; ok && left > 0;) {
      ssize_t n = ::pwrite(fd_, p, left, off);
      if (n < 0 && errno == EINTR)
        continue;
      ok = n > 0;
      if (ok)
        p += n, left -= size_t(n), off += n;
    }
    if (!ok) {
      error = std::string("cannot write the encoded weights to a temporary file: ") +
              std::strerror(errno ? errno : ENOSPC);
      return false;
    }
    c.spill = this;
    c.spilledAt = at;
    c.spilledBytes = int64_t(c.bytes.size());
    size_ = at + c.spilledBytes;
    std::vector<uint8_t>().swap(c.bytes);
  }
  return true;
}

const uint8_t *EncodedSpill::data(int64_t offset, std::string &error) const {
  if (!map_ && size_ > 0) {
    void *m = mmap(nullptr, size_t(size_), PROT_READ, MAP_PRIVATE, fd_, 0);
    if (m == MAP_FAILED) {
      error = std::string("cannot map the encoded weights' temporary file: ") +
              std::strerror(errno);
      return nullptr;
    }
    map_ = static_cast<const uint8_t *>(m);
  }
  return map_ ? map_ + offset : nullptr;
}

void EncodedSpill::evict(int64_t offset, int64_t bytes) const {
  if (!map_)
    return;
  rt::dropWholePages(map_ + offset, size_t(bytes));
}
