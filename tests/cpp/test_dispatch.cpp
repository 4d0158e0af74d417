// Self-test of csrc/kernels/common/dispatch.h (compiled and run by tests/test_dispatch_header.py).
// Prints one line per check; the Python side compares them with what it expects.
#include <cstdio>
#include <stdexcept>

#include "kernels/common/dispatch.h"

using rdm::ScalarKind;

template <ScalarKind kKind>
constexpr int element_bytes() {
  return kKind == ScalarKind::kFloat32 ? 4 : 2;
}

int main() {
  for (ScalarKind kind : {ScalarKind::kFloat32, ScalarKind::kFloat16, ScalarKind::kBFloat16}) {
    // The tag is a compile-time constant: it can pick a template instantiation.
    const int bytes = rdm::dispatch_scalar(kind, [](auto tag) { return element_bytes<decltype(tag)::value>(); });
    std::printf("scalar %d -> %d bytes\n", int(kind), bytes);
  }
  for (bool flag : {false, true}) {
    rdm::dispatch_bool(flag, [](auto on) {
      static_assert(std::is_same_v<decltype(on), std::true_type> || std::is_same_v<decltype(on), std::false_type>);
      std::printf("bool %d\n", int(decltype(on)::value));
    });
  }
  for (int dim : {64, 128, 256, 96}) {
    try {
      rdm::dispatch_value<64, 128, 256>(dim, "head_dim", [](auto d) {
        static_assert(decltype(d)::value % 64 == 0);
        std::printf("int %d\n", decltype(d)::value);
      });
    } catch (const std::invalid_argument& e) {
      std::printf("error %s\n", e.what());
    }
  }
  try {
    rdm::dispatch_scalar(static_cast<ScalarKind>(7), [](auto) {});
  } catch (const std::invalid_argument& e) {
    std::printf("error %s\n", e.what());
  }
  try {
    rdm::dispatch_value<ScalarKind::kFloat16, ScalarKind::kBFloat16>(ScalarKind::kFloat32, "a", [](auto) {});
  } catch (const std::invalid_argument& e) {
    std::printf("error %s\n", e.what());
  }
  return 0;
}
