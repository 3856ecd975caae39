//===- KernelCall.h - Kernel calls: op codes and named arguments -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The kernel-call ABI, generated from the one table in KernelCalls.def: the op codes, a
// Call (op code + arguments as stored), and for each op a struct with its arguments by
// name and type (e.g. `calls::Attention`), which the artifact writer encodes and the CPU
// session, the CUDA executor and calibration decode:
//
//   auto at = calls::Attention::decode(call);   // at.heads, at.theta, at.interleaved
//   program.calls.push_back(calls::MatMul{in, out, w, false}.encode());
//
// Compiled by the host compiler and nvcc alike (no MLIR, no exceptions).
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_ARTIFACT_KERNELCALL_H
#define MIDLLAMA_RUNTIME_ARTIFACT_KERNELCALL_H

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace midllama::rt {

inline int64_t floatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return int64_t(u);
}
inline float bitsFloat(int64_t bits) {
  uint32_t u = uint32_t(bits);
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

enum class OpCode : uint32_t {
#define MIDLLAMA_ARG(Kind, Field)
#define MIDLLAMA_CALL(Name, Code, Str, Args) Name = Code,
#include "runtime/artifact/KernelCalls.def"
};

/// One kernel call as stored: its op code and its arguments in the table's order.
struct Call {
  OpCode op;
  std::vector<int64_t> args;
};

/// What an argument is (KernelCalls.def).
enum class ArgKind : uint8_t { SlotIn, SlotOut, Weight, Int, Float, Flag };

/// An op's argument kinds and names, in order; empty for an unknown op code.
struct ArgList {
  const ArgKind *kinds = nullptr;
  const char *const *names = nullptr;
  size_t size = 0;
};
ArgList argumentsOf(OpCode op);
/// The number of arguments an op takes (0 for unknown codes) and its name ("?").
inline int opArgumentCount(OpCode op) { return int(argumentsOf(op).size); }
const char *opName(OpCode op);
inline bool isSlot(ArgKind k) { return k == ArgKind::SlotIn || k == ArgKind::SlotOut; }

namespace calls {

template <ArgKind K> struct ArgType { using type = int64_t; };
template <> struct ArgType<ArgKind::Float> { using type = float; };
template <> struct ArgType<ArgKind::Flag> { using type = bool; };

template <ArgKind K> typename ArgType<K>::type decodeArg(int64_t raw) {
  if constexpr (K == ArgKind::Float)
    return bitsFloat(raw);
  else if constexpr (K == ArgKind::Flag)
    return raw != 0;
  else
    return raw;
}
inline int64_t encodeArg(int64_t v) { return v; }
inline int64_t encodeArg(float f) { return floatBits(f); }
inline int64_t encodeArg(bool b) { return b ? 1 : 0; }

// One struct per op: its arguments as fields, decode (from a Call of that op code, whose
// argument count the program decoder has checked) and encode.
#define MIDLLAMA_ARG(Kind, Field) ArgType<ArgKind::Kind>::type Field{};
#define MIDLLAMA_CALL(Name, Code, Str, Args)                                                   \
  struct Name {                                                                                \
    static constexpr OpCode kOp = OpCode::Name;                                                \
    Args                                                                                       \
    static Name decode(const Call &call);                                                      \
    Call encode() const;                                                                       \
  };
#include "runtime/artifact/KernelCalls.def"

#define MIDLLAMA_ARG(Kind, Field) r.Field = decodeArg<ArgKind::Kind>(call.args[i++]);
#define MIDLLAMA_CALL(Name, Code, Str, Args)                                                   \
  inline Name Name::decode(const Call &call) {                                                 \
    Name r;                                                                                    \
    size_t i = 0;                                                                              \
    Args return r;                                                                             \
  }
#include "runtime/artifact/KernelCalls.def"

#define MIDLLAMA_ARG(Kind, Field) c.args.push_back(encodeArg(Field));
#define MIDLLAMA_CALL(Name, Code, Str, Args)                                                   \
  inline Call Name::encode() const {                                                           \
    Call c{kOp, {}};                                                                           \
    Args return c;                                                                             \
  }
#include "runtime/artifact/KernelCalls.def"

} // namespace calls
} // namespace midllama::rt

#endif // MIDLLAMA_RUNTIME_ARTIFACT_KERNELCALL_H
