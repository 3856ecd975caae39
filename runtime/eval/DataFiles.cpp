//===- DataFiles.cpp - The files of a task's data directory ---------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/eval/DataFiles.h"

#include <algorithm>
#include <dirent.h>

bool midllama::rt::eval::filesEndingIn(const std::string &dir, const std::string &suffix,
                                       const std::string &unreadable,
                                       std::vector<std::string> &stems, std::string &error) {
  DIR *d = opendir(dir.c_str());
  if (!d) {
    error = unreadable;
    return false;
  }
  while (dirent *e = readdir(d)) {
    std::string name = e->d_name;
    if (name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      stems.push_back(name.substr(0, name.size() - suffix.size()));
  }
  closedir(d);
  std::sort(stems.begin(), stems.end());
  return true;
}
