//===- KernelCall.cpp - The kernel-call tables ----------------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/artifact/KernelCall.h"

#include <iterator>

using namespace midllama::rt;

namespace {
#define MIDLLAMA_ARG(Kind, Field) ArgKind::Kind,
#define MIDLLAMA_CALL(Name, Code, Str, Args) constexpr ArgKind k##Name##Kinds[] = {Args};
#include "runtime/artifact/KernelCalls.def"

#define MIDLLAMA_ARG(Kind, Field) #Field,
#define MIDLLAMA_CALL(Name, Code, Str, Args) constexpr const char *k##Name##Names[] = {Args};
#include "runtime/artifact/KernelCalls.def"
} // namespace

ArgList midllama::rt::argumentsOf(OpCode op) {
  switch (op) {
#define MIDLLAMA_ARG(Kind, Field)
#define MIDLLAMA_CALL(Name, Code, Str, Args)                                                   \
  case OpCode::Name:                                                                           \
    return {k##Name##Kinds, k##Name##Names, std::size(k##Name##Kinds)};
#include "runtime/artifact/KernelCalls.def"
  }
  return {};
}

const char *midllama::rt::opName(OpCode op) {
  switch (op) {
#define MIDLLAMA_ARG(Kind, Field)
#define MIDLLAMA_CALL(Name, Code, Str, Args)                                                   \
  case OpCode::Name:                                                                           \
    return Str;
#include "runtime/artifact/KernelCalls.def"
  }
  return "?";
}
