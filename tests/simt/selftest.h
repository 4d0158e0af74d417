// Minimal harness of the SIMT layer's self-test: named cases, checks, and helpers for
// planted bugs that the layer must report.
#pragma once
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>

namespace selftest {

struct CheckFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Defined in main.cpp (so that cases in a shared library register with the executable).
std::map<std::string, std::function<void()>>& registry();

struct Register {
  Register(const char* name, std::function<void()> fn) { registry().emplace(name, std::move(fn)); }
};

inline void check(bool ok, const std::string& what) {
  if (!ok) throw CheckFailure(what);
}

// Runs `launch` and returns the error message it throws; fails if it throws nothing or if
// the message lacks one of `needles`. Prints the message, so that the report is visible.
template <class F>
std::string expect_launch_error(F&& launch, std::initializer_list<std::string_view> needles) {
  try {
    launch();
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    std::printf("caught: %s\n", message.c_str());
    for (std::string_view n : needles)
      check(message.find(n) != std::string::npos, "error message lacks '" + std::string(n) + "': " + message);
    return message;
  }
  throw CheckFailure("the launch did not fail");
}

// "file:line" of the line after the one `here` is on, to match call sites in messages.
inline std::string site_of_line(const char* file, int line) {
  const std::string_view path(file);
  return std::string(path.substr(path.find_last_of('/') + 1)) + ":" + std::to_string(line);
}

}  // namespace selftest

#define SELFTEST_CONCAT_(a, b) a##b
#define SELFTEST_CONCAT(a, b) SELFTEST_CONCAT_(a, b)
// SIMT_CASE(name) { body }  registers a case run by `simt_selftest name`.
#define SIMT_CASE(name)                                                                   \
  static void selftest_case_##name();                                                     \
  static const ::selftest::Register SELFTEST_CONCAT(selftest_register_, name)(#name,      \
                                                                              selftest_case_##name); \
  static void selftest_case_##name()
