//===- OutputFile.h - Writing what a user names, without losing anything --*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Every file a midllama tool writes goes through here, so the rules hold everywhere:
//   - A regular file, or a path where nothing is yet, is written through a temporary file
//     in the same directory, renamed over the path once complete: a failed or killed run
//     never leaves half a file under the final name. The temporary is created when writing
//     starts (not at start-up) and removed on SIGINT/SIGTERM/SIGHUP/SIGPIPE/SIGQUIT and on
//     crashes; only SIGKILL can leave one behind.
//   - Anything else is never replaced: a character device (`/dev/null`, a terminal) or a
//     named pipe is written directly (a pipe with no reader is refused instead of blocking),
//     a directory, block device or socket is refused. A symbolic link is followed: the file
//     it points at is replaced, the link stays.
//   - An output that is one of this run's inputs (InputFile.h; compared by device and inode,
//     not by spelling) or another output of this run is refused.
//   - While an OutputTransaction is open, completed outputs are staged, not renamed: all of
//     one run's outputs replace their paths together at the end, or none does. Readers in
//     the same process find a staged file through stagedPath().
// Builds without LLVM: the runtime and the compiler share it.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_SUPPORT_OUTPUTFILE_H
#define MIDLLAMA_RUNTIME_SUPPORT_OUTPUTFILE_H

#include <cstdio>
#include <memory>
#include <string>

namespace midllama::rt {

/// Checks, before any work, that `path` can be written by the rules above: not empty, not a
/// directory, block device or socket, its directory exists, not an input of this run (as far
/// as inputs are known yet) nor an output declared by the tool. `what` names the option in
/// the message ("--json", "output"). `declare`: the tool's own output (its -o), which any
/// other output of the run is then checked against.
bool checkOutputPath(const std::string &path, const std::string &what, std::string &error,
                     bool declare = false);

class OutputFile {
public:
  /// Starts writing `path`. Returns null and sets `error` (naming `what` and the path) when
  /// the rules above refuse it or the temporary file cannot be created.
  static std::unique_ptr<OutputFile> create(const std::string &path, const std::string &what,
                                            std::string &error);
  ~OutputFile(); // an output never committed is discarded: its temporary file removed

  OutputFile(const OutputFile &) = delete;
  OutputFile &operator=(const OutputFile &) = delete;

  /// The stream to write to (binary). Check commit's result, not fwrite's.
  FILE *stream() { return out_; }
  bool write(const void *data, size_t n);
  bool write(const std::string &s) { return write(s.data(), s.size()); }

  /// Finishes the output: flushed and synced, then renamed over the path (or staged, in a
  /// transaction). Returns false with `error` on any write error since create.
  bool commit(std::string &error);

  const std::string &path() const { return path_; }

private:
  OutputFile() = default;
  std::string path_;   // as the user named it
  std::string target_; // what is replaced: the path with links followed
  std::string tmp_;    // the temporary file ("" when written directly)
  FILE *out_ = nullptr;
  bool failed_ = false;
  int savedErrno_ = 0;
  int slot_ = -1; // its entry in the signal-cleanup table
};

/// Writes `contents` to `path` as one OutputFile.
bool writeOutputFile(const std::string &path, const std::string &what,
                     const std::string &contents, std::string &error);

/// All outputs committed while one is open are renamed into place by commit(), together;
/// destroyed uncommitted, it removes them. One at a time per process.
class OutputTransaction {
public:
  OutputTransaction();
  ~OutputTransaction();
  OutputTransaction(const OutputTransaction &) = delete;
  OutputTransaction &operator=(const OutputTransaction &) = delete;

  /// Renames every staged output over its path, in the order they were staged. Returns false
  /// with `error` when one cannot be (those before it are in place; those after removed).
  bool commit(std::string &error);
  /// Removes every staged output; their paths keep what they held.
  void abort();
  /// How many outputs are staged.
  size_t size() const;
};

/// The file to read for `path` in this process: the staged temporary file when an open
/// transaction holds a newer version of `path`, else `path` itself.
std::string stagedPath(const std::string &path);

/// Removes `path`, an intermediate file this run wrote: its staged temporary file when a
/// transaction holds it (the path itself is then untouched), else the file.
void discardOutput(const std::string &path);

} // namespace midllama::rt

#endif // MIDLLAMA_RUNTIME_SUPPORT_OUTPUTFILE_H
