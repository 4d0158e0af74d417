// Call sites of synchronisation points and the errors the emulation reports.
#pragma once
#include <cstdint>
#include <source_location>
#include <stdexcept>
#include <string>

namespace rdm::simt {

// Where a thread reached a barrier or warp collective. Two arrivals belong to the same
// program point iff file, line and column agree. A synchronisation point inside a helper
// function is identified by its position in that helper, not by the helper's caller.
struct CallSite {
  const char* file = "";
  const char* function = "";
  std::uint32_t line = 0;
  std::uint32_t column = 0;

  static CallSite from(const std::source_location& loc) {
    return {loc.file_name(), loc.function_name(), loc.line(), loc.column()};
  }
  bool same_as(const CallSite& o) const;
  std::string str() const;  // "file:line:col (in function)"
};

// Thrown from rdm::launch_kernel for every error the emulation detects. The message
// names the kernel, the launch configuration, the block and what went wrong.
class LaunchError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
// Unwinds a kernel thread after its launch was aborted (by an error detected in another
// thread or by this one). Caught by the pool worker; never escapes to user code.
struct LaunchAborted {};

// Records `message` as the launch's error (the first one wins), wakes every waiting
// thread and unwinds the calling kernel thread.
[[noreturn]] void fault(std::string message);
}  // namespace detail

}  // namespace rdm::simt
