//===- InputFile.cpp - Reading what a user names, safely ------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/support/InputFile.h"

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <sys/stat.h>
#include <unistd.h>

namespace midllama::rt {
namespace {

std::atomic<int64_t> limitOverride{0};

std::mutex inputsMutex;
std::vector<FileIdentity> &inputsOfThisRun() {
  static std::vector<FileIdentity> inputs;
  return inputs;
}

std::string kindOf(mode_t mode) {
  if (S_ISREG(mode))
    return "";
  if (S_ISDIR(mode))
    return "a directory";
  if (S_ISFIFO(mode))
    return "a named pipe (FIFO)";
  if (S_ISCHR(mode))
    return "a character device";
  if (S_ISBLK(mode))
    return "a block device";
  if (S_ISSOCK(mode))
    return "a socket";
  return "not a regular file";
}

std::string mib(int64_t bytes) { return std::to_string((bytes + kMiB - 1) / kMiB) + " MiB"; }

/// The shared checks on an lstat/stat result; `st` is of the path with links followed.
bool checkStat(const std::string &path, const std::string &what, const struct stat &st,
               int64_t limit, std::string &error) {
  std::string kind = kindOf(st.st_mode);
  if (!kind.empty()) {
    error = what + " '" + path + "': is " + kind + "; only regular files are read";
    return false;
  }
  int64_t effective = effectiveInputLimit(limit);
  if (effective >= 0 && int64_t(st.st_size) > effective) {
    error = what + " '" + path + "': " + std::to_string(int64_t(st.st_size)) +
            " bytes, more than the " + mib(effective) + " a " + what +
            " may have (raise the limit with --max-input-mb)";
    return false;
  }
  return true;
}

void remember(const struct stat &st, const std::string &path) {
  FileIdentity id;
  id.exists = true;
  id.device = uint64_t(st.st_dev);
  id.inode = uint64_t(st.st_ino);
  id.canonical = path; // as read (kept to check the file is still there, and for messages)
  std::lock_guard<std::mutex> lock(inputsMutex);
  for (const FileIdentity &known : inputsOfThisRun())
    if (known == id)
      return;
  inputsOfThisRun().push_back(id);
}

} // namespace

void setInputLimitOverride(int64_t bytes) { limitOverride = bytes > 0 ? bytes : 0; }

int64_t effectiveInputLimit(int64_t defaultLimit) {
  if (defaultLimit < 0)
    return defaultLimit;
  int64_t o = limitOverride.load();
  return o > 0 ? o : defaultLimit;
}

std::string describeNonRegular(const std::string &path, bool &exists) {
  struct stat st;
  exists = ::stat(path.c_str(), &st) == 0;
  return exists ? kindOf(st.st_mode) : "";
}

bool checkInputFile(const std::string &path, const std::string &what, int64_t limit,
                    std::string &error, int64_t *size) {
  if (path.empty()) {
    error = what + ": an empty path";
    return false;
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    error = what + " '" + path + "': " + std::strerror(errno);
    return false;
  }
  if (!checkStat(path, what, st, limit, error))
    return false;
  remember(st, path);
  if (size)
    *size = int64_t(st.st_size);
  return true;
}

int openInputFile(const std::string &path, const std::string &what, int64_t limit,
                  std::string &error, int64_t *size) {
  if (!checkInputFile(path, what, limit, error))
    return -1;
  // O_NONBLOCK: if a FIFO replaced the file since the check, open returns instead of
  // waiting for a writer; the fstat below then refuses it.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    error = what + " '" + path + "': " + std::strerror(errno);
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !checkStat(path, what, st, limit, error)) {
    if (error.empty())
      error = what + " '" + path + "': " + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  int flags = fcntl(fd, F_GETFL);
  if (flags >= 0)
    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  remember(st, path);
  if (size)
    *size = int64_t(st.st_size);
  return fd;
}

bool readInputFile(const std::string &path, const std::string &what, int64_t limit,
                   std::string &contents, std::string &error) {
  int64_t size = 0;
  int fd = openInputFile(path, what, limit, error, &size);
  if (fd < 0)
    return false;
  contents.clear();
  contents.resize(size_t(size));
  int64_t done = 0;
  while (done < size) {
    ssize_t n = ::read(fd, contents.data() + done, size_t(size - done));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      error = what + " '" + path + "': " +
              (n < 0 ? std::string(std::strerror(errno)) : "shorter than its size; changed while read");
      ::close(fd);
      return false;
    }
    done += n;
  }
  ::close(fd);
  return true;
}

FileIdentity identify(const std::string &path) {
  FileIdentity id;
  struct stat st;
  char resolved[PATH_MAX];
  if (::stat(path.c_str(), &st) == 0) {
    id.exists = true;
    id.device = uint64_t(st.st_dev);
    id.inode = uint64_t(st.st_ino);
    id.canonical = ::realpath(path.c_str(), resolved) ? std::string(resolved) : path;
    return id;
  }
  // A new path: its parent resolved, its own name as given.
  std::string parent = ".", name = path;
  if (size_t slash = path.find_last_of('/'); slash != std::string::npos) {
    parent = slash == 0 ? "/" : path.substr(0, slash);
    name = path.substr(slash + 1);
  }
  id.canonical = (::realpath(parent.c_str(), resolved) ? std::string(resolved) : parent);
  if (id.canonical.empty() || id.canonical.back() != '/')
    id.canonical += '/';
  id.canonical += name;
  return id;
}

void noteInputFile(const std::string &path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode))
    remember(st, path);
}

std::string inputNamed(const std::string &path) {
  FileIdentity id = identify(path);
  if (!id.exists)
    return "";
  std::lock_guard<std::mutex> lock(inputsMutex);
  for (const FileIdentity &known : inputsOfThisRun()) {
    // Still the file read: a scratch input deleted since may have lent its inode to a new
    // file, which is then no input at all.
    struct stat st;
    if (known == id && ::stat(known.canonical.c_str(), &st) == 0 &&
        uint64_t(st.st_dev) == known.device && uint64_t(st.st_ino) == known.inode)
      return known.canonical;
  }
  return "";
}

void forgetInputFiles() {
  std::lock_guard<std::mutex> lock(inputsMutex);
  inputsOfThisRun().clear();
}

} // namespace midllama::rt
