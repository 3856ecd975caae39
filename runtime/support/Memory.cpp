//===- Memory.cpp - How much memory a request may take --------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/support/Memory.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

using namespace midllama;

int64_t rt::availableMemoryBytes() {
  int64_t available = -1;
  {
    std::ifstream meminfo("/proc/meminfo");
    for (std::string line; std::getline(meminfo, line);)
      if (line.rfind("MemAvailable:", 0) == 0) { // "MemAvailable:   123456 kB"
        available = saturatingMul(std::atoll(line.c_str() + 13), 1024);
        break;
      }
  }
  if (available < 0) {
    long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0)
      available = saturatingMul(pages, page);
  }
  // An address-space limit: what is left of it (the mapped size from /proc/self/statm).
  struct rlimit limit;
  if (getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    int64_t mapped = 0;
    std::ifstream statm("/proc/self/statm");
    int64_t pages = 0;
    if (statm >> pages)
      mapped = saturatingMul(pages, sysconf(_SC_PAGESIZE));
    int64_t left = std::max<int64_t>(0, int64_t(limit.rlim_cur) - mapped);
    available = available < 0 ? left : std::min(available, left);
  }
  return available;
}

int64_t rt::saturatingMul(int64_t a, int64_t b) {
  if (a <= 0 || b <= 0)
    return a < 0 || b < 0 ? -1 : 0;
  return a > INT64_MAX / b ? INT64_MAX : a * b;
}

std::string rt::formatMemory(int64_t bytes) {
  if (bytes >= (int64_t(10) << 30))
    return std::to_string(bytes >> 30) + " GiB";
  return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB";
}

std::pair<const uint8_t *, const uint8_t *> rt::dropWholePages(const void *data, size_t bytes) {
  const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = reinterpret_cast<uintptr_t>(data);
  const uintptr_t first = (begin + page - 1) / page * page, last = (begin + bytes) / page * page;
  if (!data || last <= first ||
      madvise(reinterpret_cast<void *>(first), last - first, MADV_DONTNEED) != 0)
    return {nullptr, nullptr};
  return {reinterpret_cast<const uint8_t *>(first), reinterpret_cast<const uint8_t *>(last)};
}
