//===- Codebooks.h - The value tables quantized formats index ---*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Shared by the compiler's quantizers (lib/Quantize/NF4.cpp), which must pick codes from
// exactly the table the runtime decodes with, and the runtime's loader and kernels.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_FORMAT_CODEBOOKS_H
#define MIDLLAMA_RUNTIME_FORMAT_CODEBOOKS_H

#include <array>

namespace midllama::rt {

/// The 16 NormalFloat4 values (QLoRA, Dettmers et al. 2023), in code order.
inline constexpr float kNF4Values[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
    0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};

/// bitsandbytes' signed 8-bit dynamic code (create_dynamic_map), which double-quantized
/// NF4 absmax values index.
const std::array<float, 256> &dynamicCode8();

} // namespace midllama::rt

#endif // MIDLLAMA_RUNTIME_FORMAT_CODEBOOKS_H
