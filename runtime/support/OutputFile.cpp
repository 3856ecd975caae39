//===- OutputFile.cpp - Writing what a user names, without losing anything ===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/support/OutputFile.h"

#include "runtime/support/InputFile.h"

#include <atomic>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace midllama::rt {
namespace {

//===----------------------------------------------------------------------===//
// Temporary files removed on signals
//===----------------------------------------------------------------------===//

// A fixed table the handler can read without locks or allocation (async-signal-safe): a
// slot is filled before its flag is raised and cleared after the flag is dropped.
constexpr int kSlots = 64;
char tempPaths[kSlots][PATH_MAX];
std::atomic<bool> slotUsed[kSlots];

constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT, SIGXFSZ,
                            SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL};
struct sigaction previous[NSIG];

void removeTemporariesAndReraise(int sig) {
  for (int i = 0; i < kSlots; ++i)
    if (slotUsed[i].load(std::memory_order_acquire))
      ::unlink(tempPaths[i]);
  // Hand the signal to whoever handled it before (LLVM's stack printer, or the default
  // action): restored, then raised again; a fault re-raises itself on return.
  sigaction(sig, &previous[sig], nullptr);
  raise(sig);
}

void installHandlersOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (int sig : kSignals) {
      struct sigaction old;
      if (sigaction(sig, nullptr, &old) != 0 || old.sa_handler == SIG_IGN)
        continue; // an ignored signal stays ignored (nohup, a shell's SIGPIPE choice)
      previous[sig] = old;
      struct sigaction mine = {};
      mine.sa_handler = removeTemporariesAndReraise;
      sigemptyset(&mine.sa_mask);
      sigaction(sig, &mine, nullptr);
    }
  });
}

int registerTemporary(const std::string &path) {
  installHandlersOnce();
  if (path.size() >= PATH_MAX)
    return -1;
  static std::mutex m;
  std::lock_guard<std::mutex> lock(m);
  for (int i = 0; i < kSlots; ++i)
    if (!slotUsed[i].load(std::memory_order_acquire)) {
      std::memcpy(tempPaths[i], path.c_str(), path.size() + 1);
      slotUsed[i].store(true, std::memory_order_release);
      return i;
    }
  return -1; // more than kSlots at once: written still, just not cleaned on a signal
}

void unregisterTemporary(int slot) {
  if (slot >= 0)
    slotUsed[slot].store(false, std::memory_order_release);
}

//===----------------------------------------------------------------------===//
// The run's outputs
//===----------------------------------------------------------------------===//

struct Staged {
  std::string tmp, target, canonical;
  int slot;
};

struct Run {
  std::mutex m;
  bool transactionOpen = false;
  std::vector<Staged> staged;
  // Outputs are told apart by their resolved path, not their inode: a scratch file deleted
  // and another created may share an inode.
  std::vector<std::pair<std::string, std::string>> outputs; // canonical path, "what 'path'"
  // Outputs a tool announces before any work (checkOutputPath's `declare`: its -o): another
  // output naming the same file is refused as soon as it is checked.
  struct Declared {
    std::string canonical, label;
  };
  std::vector<Declared> declared;

  /// Forgets the run's outputs (a transaction opens or closes); under `m`.
  void reset(bool open) {
    staged.clear();
    outputs.clear();
    declared.clear();
    transactionOpen = open;
  }
};

Run &run() {
  static Run r;
  return r;
}

std::string quoted(const std::string &what, const std::string &path) {
  return what + " '" + path + "'";
}

/// The checks shared by checkOutputPath and create. Sets `target` (links followed) and
/// `kind` (the existing file's type, 0 when nothing is there).
bool classify(const std::string &path, const std::string &what, std::string &target,
              mode_t &kind, std::string &error, bool declare, bool creating) {
  if (path.empty()) {
    error = what + ": an empty path";
    return false;
  }
  target = path;
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    char resolved[PATH_MAX];
    if (!::realpath(path.c_str(), resolved)) {
      error = quoted(what, path) + ": a symbolic link to a missing file";
      return false;
    }
    target = resolved;
  }
  kind = 0;
  if (::stat(target.c_str(), &st) == 0) {
    kind = st.st_mode & S_IFMT;
    if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode) && !S_ISFIFO(st.st_mode)) {
      bool exists = true;
      error = quoted(what, path) + ": is " + describeNonRegular(target, exists) +
              "; refusing to write to it";
      return false;
    }
  } else if (errno != ENOENT) {
    error = quoted(what, path) + ": " + std::strerror(errno);
    return false;
  } else {
    std::string parent = ".";
    if (size_t slash = target.find_last_of('/'); slash != std::string::npos)
      parent = slash == 0 ? "/" : target.substr(0, slash);
    if (::stat(parent.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      error = quoted(what, path) + ": its directory '" + parent + "' does not exist";
      return false;
    }
  }
  if (kind != 0 && !S_ISREG(kind))
    return true; // devices and pipes are never inputs replaced by a rename
  Run &r = run();
  std::lock_guard<std::mutex> lock(r.m);
  if (!r.transactionOpen)
    return true;
  if (std::string input = inputNamed(target); !input.empty()) {
    error = quoted(what, path) + " is '" + input +
            "', an input of this run; refusing to overwrite it (write elsewhere)";
    return false;
  }
  std::string id = identify(target).canonical;
  auto clash = [&](const std::string &name) {
    error = quoted(what, path) + " is also written by " + name +
            " in this run; give each output its own file";
    return false;
  };
  for (auto &[other, name] : r.outputs)
    if (other == id)
      return clash(name);
  for (auto d = r.declared.begin(); d != r.declared.end(); ++d)
    if (d->canonical == id) {
      if (!creating)
        return clash(d->label);
      r.declared.erase(d); // the declared output itself, being written now
      break;
    }
  if (declare)
    r.declared.push_back({id, quoted(what, path)});
  return true;
}

} // namespace

bool checkOutputPath(const std::string &path, const std::string &what, std::string &error,
                     bool declare) {
  std::string target;
  mode_t kind;
  return classify(path, what, target, kind, error, declare, /*creating=*/false);
}

std::unique_ptr<OutputFile> OutputFile::create(const std::string &path, const std::string &what,
                                               std::string &error) {
  std::string target;
  mode_t kind;
  if (!classify(path, what, target, kind, error, /*declare=*/false, /*creating=*/true))
    return nullptr;
  std::unique_ptr<OutputFile> f(new OutputFile());
  f->path_ = path;
  f->target_ = target;
  if (kind != 0 && !S_ISREG(kind)) {
    // A device or a pipe: written in place, never replaced. A pipe nobody reads would block
    // the open forever; O_NONBLOCK makes that an error (ENXIO) instead.
    int fd = ::open(target.c_str(), O_WRONLY | O_CLOEXEC | (S_ISFIFO(kind) ? O_NONBLOCK : 0));
    if (fd < 0) {
      error = quoted(what, path) + ": " +
              (errno == ENXIO ? std::string("a named pipe with no reader")
                              : std::string(std::strerror(errno)));
      return nullptr;
    }
    if (S_ISFIFO(kind))
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    f->out_ = fdopen(fd, "wb");
  } else {
    std::string tmp = target + ".tmp-XXXXXX";
    int fd = mkstemp(tmp.data());
    if (fd < 0) {
      error = quoted(what, path) + ": cannot create a temporary file beside it: " +
              std::strerror(errno);
      return nullptr;
    }
    f->tmp_ = tmp;
    f->slot_ = registerTemporary(tmp);
    // The replaced file's permissions, or the usual ones for a new file.
    struct stat st;
    fchmod(fd, kind != 0 && ::stat(target.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0644);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    f->out_ = fdopen(fd, "wb");
    Run &r = run();
    std::lock_guard<std::mutex> lock(r.m);
    if (r.transactionOpen)
      r.outputs.emplace_back(identify(target).canonical, quoted(what, path));
  }
  if (!f->out_) {
    error = quoted(what, path) + ": " + std::strerror(errno);
    return nullptr;
  }
  return f;
}

OutputFile::~OutputFile() {
  if (out_)
    std::fclose(out_);
  if (!tmp_.empty()) {
    ::unlink(tmp_.c_str());
    unregisterTemporary(slot_);
  }
}

bool OutputFile::write(const void *data, size_t n) {
  if (failed_ || !out_)
    return false;
  if (n && std::fwrite(data, 1, n, out_) != n) {
    failed_ = true;
    savedErrno_ = errno;
  }
  return !failed_;
}

bool OutputFile::commit(std::string &error) {
  auto fail = [&](int err) {
    error = "cannot write '" + path_ + "': " + std::strerror(err ? err : EIO);
    return false;
  };
  if (!out_)
    return fail(EBADF);
  bool ok = !failed_ && !std::ferror(out_) && std::fflush(out_) == 0;
  int err = failed_ ? savedErrno_ : errno;
  // fsync before the rename: otherwise a crash soon after can leave the new name on an
  // empty file. Devices and pipes are not synced (nothing to sync, and it fails on them).
  if (ok && !tmp_.empty() && fsync(fileno(out_)) != 0) {
    ok = false;
    err = errno;
  }
  if (std::fclose(out_) != 0 && ok) {
    ok = false;
    err = errno;
  }
  out_ = nullptr;
  if (!ok)
    return fail(err); // the destructor removes the temporary file
  if (tmp_.empty())
    return true;
  Run &r = run();
  {
    std::lock_guard<std::mutex> lock(r.m);
    if (r.transactionOpen) {
      r.staged.push_back({tmp_, target_, identify(target_).canonical, slot_});
      tmp_.clear(); // the transaction owns it now
      slot_ = -1;
      return true;
    }
  }
  if (std::rename(tmp_.c_str(), target_.c_str()) != 0)
    return fail(errno);
  unregisterTemporary(slot_);
  tmp_.clear();
  return true;
}

bool writeOutputFile(const std::string &path, const std::string &what,
                     const std::string &contents, std::string &error) {
  std::unique_ptr<OutputFile> f = OutputFile::create(path, what, error);
  if (!f)
    return false;
  f->write(contents); // a write error is reported by commit
  return f->commit(error);
}

OutputTransaction::OutputTransaction() {
  forgetInputFiles();
  Run &r = run();
  std::lock_guard<std::mutex> lock(r.m);
  r.reset(/*open=*/true);
}

OutputTransaction::~OutputTransaction() { abort(); }

bool OutputTransaction::commit(std::string &error) {
  Run &r = run();
  std::lock_guard<std::mutex> lock(r.m);
  bool ok = true;
  for (Staged &s : r.staged) {
    if (ok && std::rename(s.tmp.c_str(), s.target.c_str()) != 0) {
      ok = false;
      error = "cannot write '" + s.target + "': " + std::strerror(errno);
    }
    if (!ok)
      ::unlink(s.tmp.c_str());
    unregisterTemporary(s.slot);
  }
  r.reset(/*open=*/false);
  return ok;
}

void OutputTransaction::abort() {
  Run &r = run();
  std::lock_guard<std::mutex> lock(r.m);
  for (Staged &s : r.staged) {
    ::unlink(s.tmp.c_str());
    unregisterTemporary(s.slot);
  }
  r.reset(/*open=*/false);
}

size_t OutputTransaction::size() const {
  Run &r = run();
  std::lock_guard<std::mutex> lock(r.m);
  return r.staged.size();
}

std::string stagedPath(const std::string &path) {
  Run &r = run();
  std::lock_guard<std::mutex> lock(r.m);
  if (r.staged.empty())
    return path;
  std::string canonical = identify(path).canonical;
  // The latest version wins (a path is staged at most once: outputs are distinct).
  for (auto it = r.staged.rbegin(); it != r.staged.rend(); ++it)
    if (it->canonical == canonical)
      return it->tmp;
  return path;
}

void discardOutput(const std::string &path) {
  Run &r = run();
  {
    std::lock_guard<std::mutex> lock(r.m);
    std::string canonical = identify(path).canonical;
    for (auto it = r.staged.begin(); it != r.staged.end(); ++it)
      if (it->canonical == canonical) {
        ::unlink(it->tmp.c_str());
        unregisterTemporary(it->slot);
        r.staged.erase(it);
        for (auto o = r.outputs.begin(); o != r.outputs.end(); ++o)
          if (o->first == canonical) {
            r.outputs.erase(o);
            break;
          }
        return;
      }
  }
  ::unlink(path.c_str());
}

} // namespace midllama::rt
