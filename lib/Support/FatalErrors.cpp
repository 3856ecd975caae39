//===- FatalErrors.cpp - One line instead of an abort for uncaught exceptions ----===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Support/FatalErrors.h"

#include <cstdio>
#include <exception>
#include <new>
#include <string>
#include <system_error>
#include <unistd.h>

namespace {

const char *toolName = "midllama";

[[noreturn]] void reportAndExit() {
  std::string message = "terminated without an exception";
  if (std::exception_ptr e = std::current_exception()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::bad_alloc &) {
      message = "out of memory (an allocation failed; the input or an option asks for more "
                "memory than this machine has)";
    } catch (const std::system_error &error) {
      message = "system error: " + std::string(error.what());
    } catch (const std::exception &error) {
      message = "unexpected error: " + std::string(error.what());
    } catch (...) {
      message = "unexpected error (an unknown exception)";
    }
  }
  std::fprintf(stderr, "%s: %s\n", toolName, message.c_str());
  std::fflush(stderr);
  // _exit: another thread may still run, and static destructors could block on it.
  _exit(1);
}

} // namespace

void midllama::installFatalExceptionHandler(const char *tool) {
  toolName = tool;
  std::set_terminate(reportAndExit);
}
