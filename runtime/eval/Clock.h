//===- Clock.h - Wall-clock seconds for the evaluation timings --*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_EVAL_CLOCK_H
#define MIDLLAMA_RUNTIME_EVAL_CLOCK_H

#include <chrono>

namespace midllama::rt::eval {

/// Seconds on the monotonic clock (differences only: time to first token, throughput).
inline double nowSeconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

} // namespace midllama::rt::eval

#endif // MIDLLAMA_RUNTIME_EVAL_CLOCK_H
