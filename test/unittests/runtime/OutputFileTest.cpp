//===- OutputFileTest.cpp - Outputs that never lose a file ----------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The rules of runtime/support/OutputFile.h and InputFile.h, one test each: atomic replace,
// staging in a transaction (all or nothing, readable before commit), refusal of inputs and
// of a second writer, devices written in place, and temporary files removed when the
// process is killed by a signal.
//
//===----------------------------------------------------------------------===//

#include "runtime/support/InputFile.h"
#include "runtime/support/OutputFile.h"

#include "../TempDirTest.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <sys/sysmacros.h>
#include <dirent.h>
#include <fstream>
#include <iterator>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace midllama::rt;

namespace {

class OutputFileTest : public midllama::testing::TempDirTest {
protected:
  /// Names in the folder, sorted (temporary files show here).
  std::vector<std::string> entries() {
    std::vector<std::string> names;
    if (DIR *d = opendir(dir.c_str())) {
      while (dirent *e = readdir(d))
        if (std::string(e->d_name) != "." && std::string(e->d_name) != "..")
          names.push_back(e->d_name);
      closedir(d);
    }
    std::sort(names.begin(), names.end());
    return names;
  }
};

TEST_F(OutputFileTest, ReplacesARegularFileOnlyOnCommit) {
  writeAll(path("out"), "old");
  std::string error;
  auto f = OutputFile::create(path("out"), "-o", error);
  ASSERT_TRUE(f) << error;
  f->write("new");
  EXPECT_EQ(readAll(path("out")), "old"); // nothing replaced while writing
  ASSERT_TRUE(f->commit(error)) << error;
  EXPECT_EQ(readAll(path("out")), "new");
  EXPECT_EQ(entries(), std::vector<std::string>{"out"});
}

TEST_F(OutputFileTest, AnUncommittedOutputLeavesNothing) {
  writeAll(path("out"), "old");
  std::string error;
  {
    auto f = OutputFile::create(path("out"), "-o", error);
    ASSERT_TRUE(f) << error;
    f->write("half");
  }
  EXPECT_EQ(readAll(path("out")), "old");
  EXPECT_EQ(entries(), std::vector<std::string>{"out"});
}

TEST_F(OutputFileTest, EmptyPathDirectoryAndMissingFolderAreRefused) {
  std::string error;
  EXPECT_FALSE(checkOutputPath("", "-o", error));
  EXPECT_EQ(error, "-o: an empty path");
  EXPECT_FALSE(OutputFile::create(dir, "-o", error));
  EXPECT_NE(error.find("is a directory"), std::string::npos) << error;
  EXPECT_FALSE(OutputFile::create(path("no/such/file"), "-o", error));
  EXPECT_NE(error.find("does not exist"), std::string::npos) << error;
}

TEST_F(OutputFileTest, ACharacterDeviceIsWrittenInPlace) {
  // A private null device (the system's /dev/null is not ours to risk).
  if (mknod(path("null").c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0)
    GTEST_SKIP() << "mknod needs root: " << std::strerror(errno);
  std::string error;
  auto f = OutputFile::create(path("null"), "-o", error);
  ASSERT_TRUE(f) << error;
  f->write("bytes");
  ASSERT_TRUE(f->commit(error)) << error;
  struct stat st;
  ASSERT_EQ(stat(path("null").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(entries(), std::vector<std::string>{"null"});
}

TEST_F(OutputFileTest, AFifoWithoutReaderIsRefusedNotWaitedOn) {
  ASSERT_EQ(mkfifo(path("fifo").c_str(), 0644), 0);
  std::string error;
  EXPECT_FALSE(OutputFile::create(path("fifo"), "--json", error));
  EXPECT_NE(error.find("a named pipe with no reader"), std::string::npos) << error;
}

TEST_F(OutputFileTest, ASymlinkIsFollowedAndKept) {
  writeAll(path("target"), "old");
  ASSERT_EQ(symlink(path("target").c_str(), path("link").c_str()), 0);
  std::string error;
  ASSERT_TRUE(writeOutputFile(path("link"), "-o", "new", error)) << error;
  struct stat st;
  ASSERT_EQ(lstat(path("link").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(readAll(path("target")), "new");
}

TEST_F(OutputFileTest, ATransactionCommitsAllOrNothing) {
  writeAll(path("a"), "old a");
  std::string error;
  {
    OutputTransaction t;
    ASSERT_TRUE(writeOutputFile(path("a"), "output", "new a", error)) << error;
    ASSERT_TRUE(writeOutputFile(path("b"), "-o", "new b", error)) << error;
    EXPECT_EQ(t.size(), 2u);
    EXPECT_EQ(readAll(path("a")), "old a");   // staged, not yet in place
    EXPECT_EQ(readAll(stagedPath(path("a"))), "new a"); // but readable in the process
    // abandoned: the destructor aborts
  }
  EXPECT_EQ(readAll(path("a")), "old a");
  EXPECT_EQ(entries(), std::vector<std::string>{"a"});
  {
    OutputTransaction t;
    ASSERT_TRUE(writeOutputFile(path("a"), "output", "new a", error)) << error;
    ASSERT_TRUE(writeOutputFile(path("b"), "-o", "new b", error)) << error;
    ASSERT_TRUE(t.commit(error)) << error;
  }
  EXPECT_EQ(readAll(path("a")), "new a");
  EXPECT_EQ(readAll(path("b")), "new b");
  EXPECT_EQ(entries(), (std::vector<std::string>{"a", "b"}));
}

TEST_F(OutputFileTest, InputsAndSecondWritersAreRefusedByIdentity) {
  writeAll(path("in.txt"), "text");
  std::string error, contents;
  OutputTransaction t;
  ASSERT_TRUE(readInputFile(path("in.txt"), "calibration data", kTextInputLimit, contents, error));
  // Another spelling of the same file.
  EXPECT_FALSE(checkOutputPath(dir + "/./in.txt", "output", error));
  EXPECT_NE(error.find("an input of this run"), std::string::npos) << error;
  ASSERT_TRUE(checkOutputPath(path("out"), "-o", error, /*declare=*/true)) << error;
  EXPECT_FALSE(checkOutputPath(dir + "/../" + dir.substr(dir.rfind('/') + 1) + "/out", "output",
                               error));
  EXPECT_NE(error.find("also written by -o"), std::string::npos) << error;
  ASSERT_TRUE(writeOutputFile(path("x"), "output", "1", error)) << error;
  EXPECT_FALSE(writeOutputFile(path("x"), "output", "2", error));
  EXPECT_NE(error.find("also written by"), std::string::npos) << error;
}

TEST_F(OutputFileTest, DiscardedIntermediatesNeverReachTheDisk) {
  std::string error;
  OutputTransaction t;
  ASSERT_TRUE(writeOutputFile(path("step1"), "output", "tmp", error)) << error;
  discardOutput(path("step1"));
  ASSERT_TRUE(t.commit(error)) << error;
  EXPECT_TRUE(entries().empty());
}

TEST_F(OutputFileTest, InputsMustBeRegularAndWithinTheirLimit) {
  std::string error, contents;
  ASSERT_EQ(mkfifo(path("fifo").c_str(), 0644), 0);
  EXPECT_FALSE(readInputFile(path("fifo"), "perplexity text", kTextInputLimit, contents, error));
  EXPECT_NE(error.find("is a named pipe (FIFO); only regular files are read"), std::string::npos)
      << error;
  EXPECT_FALSE(readInputFile("/dev/zero", "tokenizer", kTokenizerInputLimit, contents, error));
  EXPECT_NE(error.find("is a character device"), std::string::npos) << error;
  EXPECT_FALSE(readInputFile(dir, "recipe", kSmallJsonInputLimit, contents, error));
  EXPECT_NE(error.find("is a directory"), std::string::npos) << error;
  writeAll(path("big"), std::string(2 * kMiB + 1, 'x'));
  setInputLimitOverride(2 * kMiB);
  EXPECT_FALSE(readInputFile(path("big"), "recipe", kSmallJsonInputLimit, contents, error));
  EXPECT_NE(error.find("more than the 2 MiB a recipe may have (raise the limit with "
                       "--max-input-mb)"),
            std::string::npos)
      << error;
  setInputLimitOverride(0);
  EXPECT_TRUE(readInputFile(path("big"), "recipe", kSmallJsonInputLimit, contents, error));
  EXPECT_EQ(contents.size(), 2 * kMiB + 1);
}

// A process killed while it writes (SIGTERM, SIGINT, SIGPIPE from a closed pipe, a crash)
// leaves no temporary file: each child writes, then dies by the signal.
TEST_F(OutputFileTest, SignalsRemoveTemporaryFiles) {
  for (int sig : {SIGTERM, SIGINT, SIGPIPE, SIGHUP, SIGABRT}) {
    // A signal this process ignores (a background job ignores SIGINT) cannot stop it: the
    // output module leaves it ignored, and there is nothing to test.
    struct sigaction now;
    if (sigaction(sig, nullptr, &now) == 0 && now.sa_handler == SIG_IGN)
      continue;
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      std::string error;
      OutputTransaction t; // one staged and one being written
      writeOutputFile(path("staged"), "output", "x", error);
      auto f = OutputFile::create(path("out"), "-o", error);
      if (!f)
        _exit(3);
      f->write("partial");
      std::fflush(f->stream());
      raise(sig);
      _exit(4); // not reached: the signal's default action ends the child
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "signal " << sig << ": status " << status;
    EXPECT_EQ(WTERMSIG(status), sig);
    EXPECT_TRUE(entries().empty()) << "signal " << sig << " left " << entries().front();
  }
}

} // namespace
