// Self-test of the SIMT emulation layer (no torch).
//   simt_selftest --list     prints the case names
//   simt_selftest NAME...    runs cases; prints "PASS NAME" or "FAIL NAME: why" for each
// Exit status: 0 all passed, 1 a case failed, 2 unknown case or usage error.
#include <cstdio>
#include <cstring>
#include <exception>

#include "selftest.h"

std::map<std::string, std::function<void()>>& selftest::registry() {
  static std::map<std::string, std::function<void()>> cases;
  return cases;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s --list | CASE...\n", argv[0]);
    return 2;
  }
  if (std::strcmp(argv[1], "--list") == 0) {
    for (const auto& [name, fn] : selftest::registry()) std::printf("%s\n", name.c_str());
    return 0;
  }
  int status = 0;
  for (int i = 1; i < argc; ++i) {
    const auto it = selftest::registry().find(argv[i]);
    if (it == selftest::registry().end()) {
      std::fprintf(stderr, "unknown case '%s'\n", argv[i]);
      return 2;
    }
    try {
      it->second();
      std::printf("PASS %s\n", argv[i]);
    } catch (const std::exception& e) {
      std::printf("FAIL %s: %s\n", argv[i], e.what());
      status = 1;
    }
    std::fflush(stdout);
  }
  return status;
}
