// CUDA atomics on global or shared memory, via std::atomic_ref (relaxed, like CUDA's).
// Each function template deduces T from the pointer only, so that the value converts as
// it does with CUDA's overloads (atomicAdd(unsigned*, 1) is fine).
#pragma once
#include <atomic>
#include <cstdint>
#include <type_traits>

#include "fp16.h"

namespace rdm::simt::detail {

template <class T>
std::atomic_ref<T> atomic(T* p) {
  return std::atomic_ref<T>(*p);
}

// Read-modify-write through compare-exchange, for operations atomic_ref lacks.
template <class T, class Op>
T atomic_update(T* p, Op op) {
  std::atomic_ref<T> a(*p);
  T old = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(old, op(old), std::memory_order_relaxed)) {
  }
  return old;
}

// 16-bit float add through a 16-bit compare-exchange on the bit pattern.
template <class H>
H atomic_add_16(H* p, H v) {
  auto* bits = reinterpret_cast<unsigned short*>(p);
  const unsigned short old = atomic_update(bits, [v](unsigned short cur) {
    H h;
    h.__x = cur;
    return H(float(h) + float(v)).__x;
  });
  H result;
  result.__x = old;
  return result;
}

template <class T>
concept AtomicInteger = std::is_same_v<T, int> || std::is_same_v<T, unsigned int> ||
                        std::is_same_v<T, unsigned long long>;
template <class T>
concept AtomicAddable = AtomicInteger<T> || std::is_same_v<T, float> || std::is_same_v<T, double>;
template <class T>
concept AtomicBitwise = std::is_same_v<T, int> || std::is_same_v<T, unsigned int> ||
                        std::is_same_v<T, unsigned long long>;

}  // namespace rdm::simt::detail

template <class T>
  requires ::rdm::simt::detail::AtomicAddable<T>
T atomicAdd(T* address, std::type_identity_t<T> val) {
  return ::rdm::simt::detail::atomic(address).fetch_add(val, std::memory_order_relaxed);
}
inline __half atomicAdd(__half* address, __half val) { return ::rdm::simt::detail::atomic_add_16(address, val); }
inline __nv_bfloat16 atomicAdd(__nv_bfloat16* address, __nv_bfloat16 val) {
  return ::rdm::simt::detail::atomic_add_16(address, val);
}

template <class T>
  requires(std::is_same_v<T, int> || std::is_same_v<T, unsigned int>)
T atomicSub(T* address, std::type_identity_t<T> val) {
  return ::rdm::simt::detail::atomic(address).fetch_sub(val, std::memory_order_relaxed);
}

template <class T>
  requires ::rdm::simt::detail::AtomicInteger<T>
T atomicMax(T* address, std::type_identity_t<T> val) {
  return ::rdm::simt::detail::atomic_update(address, [val](T cur) { return cur < val ? val : cur; });
}

template <class T>
  requires ::rdm::simt::detail::AtomicInteger<T>
T atomicMin(T* address, std::type_identity_t<T> val) {
  return ::rdm::simt::detail::atomic_update(address, [val](T cur) { return val < cur ? val : cur; });
}

template <class T>
  requires(::rdm::simt::detail::AtomicInteger<T> || std::is_same_v<T, unsigned short>)
T atomicCAS(T* address, std::type_identity_t<T> compare, std::type_identity_t<T> val) {
  ::rdm::simt::detail::atomic(address).compare_exchange_strong(compare, val, std::memory_order_relaxed);
  return compare;  // holds the old value whether or not the exchange happened
}

template <class T>
  requires(::rdm::simt::detail::AtomicInteger<T> || std::is_same_v<T, float>)
T atomicExch(T* address, std::type_identity_t<T> val) {
  return ::rdm::simt::detail::atomic(address).exchange(val, std::memory_order_relaxed);
}

template <class T>
  requires ::rdm::simt::detail::AtomicBitwise<T>
T atomicAnd(T* address, std::type_identity_t<T> val) {
  return ::rdm::simt::detail::atomic(address).fetch_and(val, std::memory_order_relaxed);
}

template <class T>
  requires ::rdm::simt::detail::AtomicBitwise<T>
T atomicOr(T* address, std::type_identity_t<T> val) {
  return ::rdm::simt::detail::atomic(address).fetch_or(val, std::memory_order_relaxed);
}

template <class T>
  requires ::rdm::simt::detail::AtomicBitwise<T>
T atomicXor(T* address, std::type_identity_t<T> val) {
  return ::rdm::simt::detail::atomic(address).fetch_xor(val, std::memory_order_relaxed);
}
