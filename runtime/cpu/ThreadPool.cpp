//===- ThreadPool.cpp - The CPU kernels' threads --------------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// A persistent pool, so a kernel call costs a wake-up, not a thread start.
//
//===----------------------------------------------------------------------===//

#include "runtime/cpu/Kernels.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace midllama::rt::cpu {

//===----------------------------------------------------------------------===//
// Threads: a persistent pool, so a kernel call costs a wake-up, not a thread start.
//===----------------------------------------------------------------------===//

namespace {

class Pool {
public:
  explicit Pool(int threads) : size(threads) {
    try {
      for (int i = 1; i < threads; ++i)
        workers.emplace_back([this, i] { loop(i); });
    } catch (const std::system_error &e) {
      // The system refused a thread (a process or memory limit): run with those started
      // rather than abort; the caller asked for more than this machine gives it.
      size = int(workers.size()) + 1;
      std::fprintf(stderr, "midllama: could start only %d of %d threads (%s); running with %d\n",
                   size, threads, e.what(), size);
    }
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(m);
      stop = true;
      generation.fetch_add(1, std::memory_order_release);
    }
    cv.notify_all();
    for (std::thread &t : workers)
      t.join();
  }
  int threads() const { return size; }

  void run(int64_t n, int64_t minGrain, const std::function<void(int64_t, int64_t)> &body) {
    task = &body;
    total = n;
    // Threads take chunks of about 1/8 of an even share as they come free: work whose
    // items differ in cost (causal attention: row r attends over r + 1 positions) or a
    // thread that starts late still balances, at a few atomic increments per call; but
    // no chunk under minGrain items (see parallelFor).
    grain = std::max<int64_t>({1, minGrain, n / (int64_t(size) * 8)});
    next.store(0, std::memory_order_relaxed);
    pending.store(size - 1, std::memory_order_relaxed);
    {
      // Under the lock, so a worker about to sleep cannot miss the new generation.
      std::lock_guard<std::mutex> lock(m);
      generation.fetch_add(1, std::memory_order_release);
    }
    cv.notify_all();
    work(0);
    // The others finish about now (they took the last chunks): spin, then yield.
    for (int spins = 0; pending.load(std::memory_order_acquire) != 0; ++spins)
      if (spins > 4096)
        std::this_thread::yield();
  }

private:
  void work(int) {
    for (;;) {
      int64_t begin = next.fetch_add(grain, std::memory_order_relaxed);
      if (begin >= total)
        return;
      (*task)(begin, std::min(total, begin + grain));
    }
  }
  void loop(int index) {
    uint64_t seen = 0;
    while (true) {
      // Decode calls kernels back to back: a short spin catches the next call without the
      // cost of a sleep and a wake-up; a longer pause sleeps.
      uint64_t now = generation.load(std::memory_order_acquire);
      for (int spins = 0; now == seen && spins < 20000; ++spins) {
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
        now = generation.load(std::memory_order_acquire);
      }
      if (now == seen) {
        std::unique_lock<std::mutex> lock(m);
        cv.wait(lock, [&] { return generation.load(std::memory_order_acquire) != seen; });
        now = generation.load(std::memory_order_acquire);
      }
      seen = now;
      if (stop)
        return;
      work(index);
      pending.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  std::vector<std::thread> workers;
  std::mutex m;
  std::condition_variable cv;
  const std::function<void(int64_t, int64_t)> *task = nullptr;
  int64_t total = 0, grain = 1;
  std::atomic<int64_t> next{0};
  std::atomic<int> pending{0};
  int size = 1;
  std::atomic<uint64_t> generation{0};
  bool stop = false;
};

int requestedThreads = 0;
std::unique_ptr<Pool> pool;

Pool &getPool() {
  // hardware_concurrency() reads /sys on every call (glibc): once is enough.
  static const int available = int(std::max(1u, std::thread::hardware_concurrency()));
  int want = requestedThreads > 0 ? requestedThreads : available;
  if (!pool || pool->threads() != want)
    pool = std::make_unique<Pool>(want);
  return *pool;
}

} // namespace

void setThreadCount(int threads) { requestedThreads = threads; }
int availableCPUs() { return int(std::max(1u, std::thread::hardware_concurrency())); }
int maxThreadCount() { return std::max(64, 4 * availableCPUs()); }
int threadCount() { return getPool().threads(); }

void parallelFor(int64_t n, int64_t costPerItem,
                 const std::function<void(int64_t, int64_t)> &body) {
  constexpr int64_t kMinWorkPerThread = 1 << 16;
  if (n < 2 || n * costPerItem < kMinWorkPerThread * 2) // decode's small calls: inline
    return body(0, n);
  Pool &p = getPool();
  if (p.threads() == 1)
    return body(0, n);
  // A chunk costs an atomic increment on a line both threads write and a kernel call's
  // set-up: with ~1/8 of a share per chunk (one 32-row block of SmolLM2's 576 x 576 decode
  // product), 2 threads ran that product slower than 1. Chunks of at least kMinChunkWork
  // (decode-bench int8 Q4_0, 2 threads: 576x576 160-167k -> 191k products/s, 576x1536 and
  // 1536x576 57-70k -> 77-78k; 2^16 and 2^18 gained less; 4096x4096 unchanged).
  constexpr int64_t kMinChunkWork = int64_t(1) << 17;
  p.run(n, (kMinChunkWork + costPerItem - 1) / std::max<int64_t>(1, costPerItem), body);
}

} // namespace midllama::rt::cpu
