// Runtime values to compile-time constants, for the host code that picks a kernel
// instantiation (launchers in .cu files, kernel backends in csrc/ops). No torch or CUDA
// headers: it compiles in every translation unit of both libraries.
//
//   dispatch_scalar(kind, [&](auto tag) { launch<decltype(tag)::value>(p, stream); });
//   dispatch_bool(p.vectorized, [&](auto vec) { run<decltype(vec)::value>(); });
//   dispatch_value<64, 128, 256>(head_dim, "head_dim", [&](auto d) { run<d.value>(); });
//
// The callable gets a std::integral_constant for the matching value; every branch must
// return the same type. A value outside the list throws std::invalid_argument that names
// the argument, the value and the supported ones (torch turns it into a RuntimeError).
#pragma once
#include <stdexcept>
#include <string>
#include <type_traits>

#include "../host_types.h"

namespace rdm {

template <ScalarKind kKind>
using ScalarTag = std::integral_constant<ScalarKind, kKind>;

namespace dispatch_detail {

inline std::string text(ScalarKind kind) {
  switch (kind) {
    case ScalarKind::kFloat32: return "float32";
    case ScalarKind::kFloat16: return "float16";
    case ScalarKind::kBFloat16: return "bfloat16";
  }
  return "ScalarKind(" + std::to_string(int(kind)) + ")";
}
inline std::string text(bool value) { return value ? "true" : "false"; }
template <typename T, typename = std::enable_if_t<std::is_integral_v<T>>>
std::string text(T value) {
  return std::to_string(value);
}

template <auto... kValues>
struct ValueList {};

template <auto... kValues, typename T>
[[noreturn]] void unsupported(ValueList<kValues...>, const char* what, T value) {
  std::string supported;
  ((supported += (supported.empty() ? "" : ", ") + text(kValues)), ...);
  throw std::invalid_argument(std::string(what) + ": no kernel instantiation for " + text(value) +
                              " (supported: " + supported + ")");
}

// Compares with each value in turn; All carries the whole list for the error message.
template <class All, auto kFirst, auto... kRest, typename T, typename F>
decltype(auto) dispatch(T value, const char* what, F& f) {
  if (value == kFirst) return f(std::integral_constant<decltype(kFirst), kFirst>{});
  if constexpr (sizeof...(kRest) == 0)
    unsupported(All{}, what, value);
  else
    return dispatch<All, kRest...>(value, what, f);
}

}  // namespace dispatch_detail

// f(std::integral_constant<decltype(v), v>) for the v in kValues equal to value.
template <auto... kValues, typename T, typename F>
decltype(auto) dispatch_value(T value, const char* what, F&& f) {
  static_assert(sizeof...(kValues) > 0, "dispatch_value needs at least one supported value");
  static_assert((std::is_same_v<decltype(kValues), T> && ...), "the values must have the argument's type");
  return dispatch_detail::dispatch<dispatch_detail::ValueList<kValues...>, kValues...>(value, what, f);
}

// f(ScalarTag<kind>) for every element type a kernel is instantiated for.
template <typename F>
decltype(auto) dispatch_scalar(ScalarKind kind, F&& f) {
  return dispatch_value<ScalarKind::kFloat32, ScalarKind::kFloat16, ScalarKind::kBFloat16>(kind, "dtype", f);
}

// f(std::true_type) or f(std::false_type): a feature switch as a template parameter.
template <typename F>
decltype(auto) dispatch_bool(bool value, F&& f) {
  return value ? f(std::true_type{}) : f(std::false_type{});
}

}  // namespace rdm
