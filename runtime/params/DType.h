//===- DType.h - Element types of stored tensors ----------------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_PARAMS_DTYPE_H
#define MIDLLAMA_RUNTIME_PARAMS_DTYPE_H

#include <cstdint>
#include <optional>
#include <string_view>

namespace midllama::rt {

/// Element types of the tensors in a parameter file, named as safetensors names them.
enum class DType { F32, F16, BF16, U8, I8, I32 };

constexpr int64_t dtypeSize(DType dtype) {
  switch (dtype) {
  case DType::F32:
  case DType::I32:
    return 4;
  case DType::F16:
  case DType::BF16:
    return 2;
  case DType::U8:
  case DType::I8:
    return 1;
  }
  return 0;
}

constexpr std::string_view dtypeName(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "F32";
  case DType::F16:
    return "F16";
  case DType::BF16:
    return "BF16";
  case DType::U8:
    return "U8";
  case DType::I8:
    return "I8";
  case DType::I32:
    return "I32";
  }
  return "?";
}

inline std::optional<DType> parseDType(std::string_view name) {
  for (DType d : {DType::F32, DType::F16, DType::BF16, DType::U8, DType::I8, DType::I32})
    if (dtypeName(d) == name)
      return d;
  return std::nullopt;
}

} // namespace midllama::rt

#endif // MIDLLAMA_RUNTIME_PARAMS_DTYPE_H
