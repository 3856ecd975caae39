//===- Codebooks.cpp - The value tables quantized formats index -----------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/format/Codebooks.h"

#include <algorithm>
#include <cmath>
#include <vector>

const std::array<float, 256> &midllama::rt::dynamicCode8() {
  // create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8): for exponent i,
  // 2^i values at 10^(i-6) times the midpoints of linspace(0.1, 1, 2^i + 1), both signs,
  // plus 0 and 1, sorted. linspace as torch computes it in float32 (found by comparing
  // every value): start + k * step with one rounding (a fused multiply-add) for the first
  // half, end - (steps - 1 - k) * step for the second.
  static const std::array<float, 256> code = [] {
    std::vector<float> data;
    for (int i = 0; i < 7; ++i) {
      int items = (1 << i) + 1;
      std::vector<float> bounds(static_cast<size_t>(items));
      float step = (1.0f - 0.1f) / float(items - 1);
      int half = items / 2;
      for (int k = 0; k < items; ++k)
        bounds[k] = k < half ? std::fma(float(k), step, 0.1f)
                             : std::fma(-float(items - 1 - k), step, 1.0f);
      float scale = float(std::pow(10.0, double(i - 6))); // Python 10 ** (i - 6), to float32
      for (int k = 0; k + 1 < items; ++k) {
        float mean = (bounds[k] + bounds[k + 1]) / 2.0f;
        data.push_back(scale * mean);
        data.push_back(-scale * mean);
      }
    }
    data.push_back(0.0f);
    data.push_back(1.0f);
    std::sort(data.begin(), data.end());
    std::array<float, 256> out{};
    std::copy(data.begin(), data.end(), out.begin());
    return out;
  }();
  return code;
}

