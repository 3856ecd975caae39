//===- InputFile.h - Reading what a user names, safely ----------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Every file a midllama tool reads by name goes through here first, because a path can name
// something that is not a file: a named pipe blocks `open` until a writer comes (forever,
// when none does), and `/dev/zero` or `/dev/urandom` never end. So:
//   - only regular files are read (a FIFO is refused without being opened: `open` itself would
//     block), and the message says what the path is instead;
//   - a file that is read into memory has a size limit derived from what it should hold,
//     checked before anything is allocated; `--max-input-mb` raises every limit at once;
//   - every file read is remembered (device and inode), so that an output that would replace
//     one of this run's inputs can be refused (OutputFile.h).
// Builds without LLVM: the runtime and the compiler share it.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_SUPPORT_INPUTFILE_H
#define MIDLLAMA_RUNTIME_SUPPORT_INPUTFILE_H

#include <cstdint>
#include <string>
#include <vector>

namespace midllama::rt {

/// Default size limits of the inputs read whole into memory, by what they are. Files that are
/// mapped (parameter files, artifacts, external data, checkpoints) have none: mapping costs
/// no memory up front.
inline constexpr int64_t kMiB = int64_t(1) << 20;
inline constexpr int64_t kTextInputLimit = 1024 * kMiB;      // calibration, perplexity text
inline constexpr int64_t kTokenizerInputLimit = 256 * kMiB;  // tokenizer.json and friends
inline constexpr int64_t kSmallJsonInputLimit = 16 * kMiB;   // recipes, manifests
inline constexpr int64_t kIRInputLimit = 1024 * kMiB;        // textual llm IR
inline constexpr int64_t kNoInputLimit = -1;

/// Raises (or lowers) every limit above to `bytes` for the rest of the process: what the
/// tools' `--max-input-mb` sets. 0 restores the defaults.
void setInputLimitOverride(int64_t bytes);

/// The limit a reader of `defaultLimit` applies now (the override when one is set).
int64_t effectiveInputLimit(int64_t defaultLimit);

/// What `path` is, in words, when it is not a regular file ("a directory", "a named pipe
/// (FIFO)", "a character device", ...); empty for a regular file. `exists` is set false when
/// nothing is there.
std::string describeNonRegular(const std::string &path, bool &exists);

/// Checks that `path` names a regular file no larger than `limit` bytes (kNoInputLimit: any
/// size) and remembers it as an input of this run. `what` names the role in the message
/// ("calibration text 'x.txt': is a named pipe (FIFO); only regular files are read").
/// Returns false and sets `error` otherwise. Never blocks.
bool checkInputFile(const std::string &path, const std::string &what, int64_t limit,
                    std::string &error, int64_t *size = nullptr);

/// Opens `path` read-only after the same checks, without blocking on a FIFO swapped in
/// between. Returns the descriptor (close it) or -1 with `error` set.
int openInputFile(const std::string &path, const std::string &what, int64_t limit,
                  std::string &error, int64_t *size = nullptr);

/// Reads all of `path` into `contents` after the same checks.
bool readInputFile(const std::string &path, const std::string &what, int64_t limit,
                   std::string &contents, std::string &error);

/// Identity of a file: device and inode when it exists, else its absolute, normalized path
/// (the parent directory resolved), so two spellings of one new path compare equal.
struct FileIdentity {
  bool exists = false;
  uint64_t device = 0, inode = 0;
  std::string canonical; // the resolved path (also for existing files, for messages)
  bool operator==(const FileIdentity &o) const {
    return exists == o.exists && (exists ? device == o.device && inode == o.inode
                                         : canonical == o.canonical);
  }
};
FileIdentity identify(const std::string &path);

/// Records `path` as read by this run (what checkInputFile does); for readers that open
/// files another way (the MLIR parser's input).
void noteInputFile(const std::string &path);

/// The input of this run that `path` is, if any ("" when none). Outputs call this.
std::string inputNamed(const std::string &path);

/// Starts a new run: files read before are no longer its inputs. An OutputTransaction
/// calls it when it opens (a tool may look at its outputs before its run starts).
void forgetInputFiles();

} // namespace midllama::rt

#endif // MIDLLAMA_RUNTIME_SUPPORT_INPUTFILE_H
