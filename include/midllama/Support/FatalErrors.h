//===- FatalErrors.h - One line instead of an abort for uncaught exceptions -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// An exception nobody catches (std::bad_alloc from an allocation sized by an input,
// std::system_error when a thread cannot be started) ends in std::terminate, which prints
// "terminate called after throwing ..." and aborts with a core dump. Each tool installs this
// handler first thing in main, so such a failure is one line naming the tool and exit 1;
// code that knows what it was allocating catches bad_alloc itself and says so.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_SUPPORT_FATALERRORS_H
#define MIDLLAMA_SUPPORT_FATALERRORS_H

namespace midllama {

/// Makes std::terminate print "<tool>: out of memory" (bad_alloc), "<tool>: <what>"
/// (other exceptions) and exit with status 1. `tool` must outlive the process.
void installFatalExceptionHandler(const char *tool);

} // namespace midllama

#endif // MIDLLAMA_SUPPORT_FATALERRORS_H
