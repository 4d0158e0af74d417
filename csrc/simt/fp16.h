// __half and __nv_bfloat16 (and their pairs) for host compilation, without the CUDA
// toolkit. Conversions round to nearest even and are bit-identical to CUDA's host
// implementation (checked over all 2^32 floats), NaN becoming the canonical 0x7fff.
// Arithmetic goes through float, which rounds correctly for + - * / because float has more
// than twice the precision plus two bits of either format.
#pragma once
#include <bit>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "vector_types.h"

namespace rdm::simt::detail {

// A 16-bit IEEE-style format: 1 sign bit, kExpBits exponent bits, kMantBits mantissa bits.
// kWidenKeepsNaN: CUDA widens bf16 NaNs bit by bit but turns every half NaN into 0x7fffffff.
template <int kExpBits, int kMantBits, bool kWidenKeepsNaN>
struct Format16 {
  static constexpr bool kKeepsNaN = kWidenKeepsNaN;
  static constexpr int kExp = kExpBits;
  static constexpr int kMant = kMantBits;
  static constexpr int kBias = (1 << (kExpBits - 1)) - 1;
  static constexpr std::uint16_t kInf = static_cast<std::uint16_t>(((1u << kExpBits) - 1u) << kMantBits);
  static constexpr std::uint16_t kCanonicalNaN = 0x7fff;
};
using HalfFormat = Format16<5, 10, false>;
using BFloat16Format = Format16<8, 7, true>;

// Rounds a double to the nearest value of format F (ties to even). Every float converts to
// double exactly, so this is also the float conversion.
template <class F>
std::uint16_t round_to(double value) {
  const auto bits = std::bit_cast<std::uint64_t>(value);
  const auto sign = static_cast<std::uint16_t>((bits >> 63) << 15);
  const std::uint64_t magnitude = bits & 0x7fff'ffff'ffff'ffffull;
  if (magnitude > 0x7ff0'0000'0000'0000ull) return F::kCanonicalNaN;
  if (magnitude == 0x7ff0'0000'0000'0000ull) return sign | F::kInf;
  // Zeros and double subnormals take the "far below the smallest subnormal" exit below.
  const int biased = static_cast<int>(magnitude >> 52) - 1023 + F::kBias;
  if (biased >= (1 << F::kExp) - 1) return sign | F::kInf;
  const std::uint64_t significand = (magnitude & ((1ull << 52) - 1)) | (1ull << 52);
  const int shift = 52 - F::kMant + (biased >= 1 ? 0 : 1 - biased);
  if (shift > 63) return sign;
  std::uint64_t q = significand >> shift;
  const std::uint64_t rest = significand & ((1ull << shift) - 1);
  const std::uint64_t half = 1ull << (shift - 1);
  if (rest > half || (rest == half && (q & 1))) ++q;
  // Normals: q in [2^kMant, 2^(kMant+1)], the implicit bit adding 1 to the exponent field;
  // a carry out of the mantissa moves to the next binade (or to infinity). Subnormals: q
  // in [0, 2^kMant], and 2^kMant is exactly the smallest normal.
  const std::uint64_t field = biased >= 1 ? (static_cast<std::uint64_t>(biased - 1) << F::kMant) + q : q;
  return sign | static_cast<std::uint16_t>(field);
}

// Exact widening of a format-F value to float.
template <class F>
float widen(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h >> 15) << 31;
  const std::uint32_t exponent = (h >> F::kMant) & ((1u << F::kExp) - 1u);
  const std::uint32_t mantissa = h & ((1u << F::kMant) - 1u);
  if (exponent == (1u << F::kExp) - 1u) {
    if (mantissa != 0 && !F::kKeepsNaN) return std::bit_cast<float>(0x7fff'ffffu);
    return std::bit_cast<float>(sign | 0x7f80'0000u | (mantissa << (23 - F::kMant)));
  }
  if (exponent == 0) {
    const float magnitude = std::ldexp(static_cast<float>(mantissa), 1 - F::kBias - F::kMant);
    return sign ? -magnitude : magnitude;
  }
  return std::bit_cast<float>(sign | ((exponent - F::kBias + 127) << 23) | (mantissa << (23 - F::kMant)));
}

struct Raw16 {
  unsigned short x;
};

// The storage type of __half / __nv_bfloat16: CUDA's implicit conversions from and to float.
template <class F>
struct alignas(2) Float16 {
  unsigned short __x;

  Float16() = default;
  Float16(float f) : __x(round_to<F>(f)) {}
  Float16(double d) : __x(round_to<F>(d)) {}
  template <class I>
    requires std::is_integral_v<I>
  Float16(I i) : __x(round_to<F>(static_cast<double>(i))) {}
  constexpr Float16(Raw16 r) : __x(r.x) {}
  constexpr operator Raw16() const { return {__x}; }
  operator float() const { return widen<F>(__x); }

  Float16& operator+=(Float16 o) { return *this = Float16(float(*this) + float(o)); }
  Float16& operator-=(Float16 o) { return *this = Float16(float(*this) - float(o)); }
  Float16& operator*=(Float16 o) { return *this = Float16(float(*this) * float(o)); }
  Float16& operator/=(Float16 o) { return *this = Float16(float(*this) / float(o)); }
  friend Float16 operator+(Float16 a, Float16 b) { return a += b; }
  friend Float16 operator-(Float16 a, Float16 b) { return a -= b; }
  friend Float16 operator*(Float16 a, Float16 b) { return a *= b; }
  friend Float16 operator/(Float16 a, Float16 b) { return a /= b; }
  friend Float16 operator-(Float16 a) { return Raw16{static_cast<unsigned short>(a.__x ^ 0x8000u)}; }
  friend Float16 operator+(Float16 a) { return a; }
  friend bool operator==(Float16 a, Float16 b) { return float(a) == float(b); }
  friend bool operator!=(Float16 a, Float16 b) { return float(a) != float(b); }
  friend bool operator<(Float16 a, Float16 b) { return float(a) < float(b); }
  friend bool operator<=(Float16 a, Float16 b) { return float(a) <= float(b); }
  friend bool operator>(Float16 a, Float16 b) { return float(a) > float(b); }
  friend bool operator>=(Float16 a, Float16 b) { return float(a) >= float(b); }
};

// __half2 / __nv_bfloat162: two values in one 32-bit word, x in the low half.
template <class E>
struct alignas(4) Pair16 {
  E x, y;
  friend Pair16 operator+(Pair16 a, Pair16 b) { return {E(a.x + b.x), E(a.y + b.y)}; }
  friend Pair16 operator-(Pair16 a, Pair16 b) { return {E(a.x - b.x), E(a.y - b.y)}; }
  friend Pair16 operator*(Pair16 a, Pair16 b) { return {E(a.x * b.x), E(a.y * b.y)}; }
  friend Pair16 operator/(Pair16 a, Pair16 b) { return {E(a.x / b.x), E(a.y / b.y)}; }
  friend bool operator==(Pair16 a, Pair16 b) { return a.x == b.x && a.y == b.y; }
};

// a * b + c with a single rounding: the product of two floats is exact in double, and a
// sticky bit (round to odd) on the double sum keeps the final rounding to 16 bits exact.
inline double fma_round_to_odd(float a, float b, float c) {
  const double p = static_cast<double>(a) * static_cast<double>(b);
  const double s = p + static_cast<double>(c);
  const double bb = s - p;
  const double err = (p - (s - bb)) + (static_cast<double>(c) - bb);  // TwoSum: s + err == p + c
  auto bits = std::bit_cast<std::uint64_t>(s);
  if (err != 0 && std::isfinite(s) && (bits & 1u) == 0) bits += ((err > 0) == (s > 0)) ? 1 : -1;
  return std::bit_cast<double>(bits);
}

}  // namespace rdm::simt::detail

using __half = ::rdm::simt::detail::Float16<::rdm::simt::detail::HalfFormat>;
using __nv_bfloat16 = ::rdm::simt::detail::Float16<::rdm::simt::detail::BFloat16Format>;
using half = __half;
using nv_bfloat16 = __nv_bfloat16;
using __half2 = ::rdm::simt::detail::Pair16<__half>;
using half2 = __half2;
using __nv_bfloat162 = ::rdm::simt::detail::Pair16<__nv_bfloat16>;
using nv_bfloat162 = __nv_bfloat162;
using __half_raw = ::rdm::simt::detail::Raw16;
using __nv_bfloat16_raw = ::rdm::simt::detail::Raw16;

// ---- conversions ----
inline __half __float2half(float f) { return __half(f); }
inline __half __float2half_rn(float f) { return __half(f); }
inline __half __double2half(double d) { return __half(d); }
inline float __half2float(__half h) { return float(h); }
inline __nv_bfloat16 __float2bfloat16(float f) { return __nv_bfloat16(f); }
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __nv_bfloat16(f); }
inline __nv_bfloat16 __double2bfloat16(double d) { return __nv_bfloat16(d); }
inline float __bfloat162float(__nv_bfloat16 h) { return float(h); }

inline __half2 __floats2half2_rn(float lo, float hi) { return {__half(lo), __half(hi)}; }
inline __half2 __float22half2_rn(float2 v) { return {__half(v.x), __half(v.y)}; }
inline __half2 __halves2half2(__half lo, __half hi) { return {lo, hi}; }
inline __half2 __half2half2(__half h) { return {h, h}; }
inline float2 __half22float2(__half2 v) { return {float(v.x), float(v.y)}; }
inline __half __low2half(__half2 v) { return v.x; }
inline __half __high2half(__half2 v) { return v.y; }
inline __nv_bfloat162 __floats2bfloat162_rn(float lo, float hi) { return {__nv_bfloat16(lo), __nv_bfloat16(hi)}; }
inline __nv_bfloat162 __float22bfloat162_rn(float2 v) { return {__nv_bfloat16(v.x), __nv_bfloat16(v.y)}; }
inline __nv_bfloat162 __halves2bfloat162(__nv_bfloat16 lo, __nv_bfloat16 hi) { return {lo, hi}; }
inline __nv_bfloat162 __bfloat162bfloat162(__nv_bfloat16 h) { return {h, h}; }
inline float2 __bfloat1622float2(__nv_bfloat162 v) { return {float(v.x), float(v.y)}; }
inline __nv_bfloat16 __low2bfloat16(__nv_bfloat162 v) { return v.x; }
inline __nv_bfloat16 __high2bfloat16(__nv_bfloat162 v) { return v.y; }
template <class E>
float __low2float(::rdm::simt::detail::Pair16<E> v) {
  return float(v.x);
}
template <class E>
float __high2float(::rdm::simt::detail::Pair16<E> v) {
  return float(v.y);
}

inline unsigned short __half_as_ushort(__half h) { return h.__x; }
inline short __half_as_short(__half h) { return static_cast<short>(h.__x); }
inline __half __ushort_as_half(unsigned short u) { return __half_raw{u}; }
inline __half __short_as_half(short s) { return __half_raw{static_cast<unsigned short>(s)}; }
inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 h) { return h.__x; }
inline short __bfloat16_as_short(__nv_bfloat16 h) { return static_cast<short>(h.__x); }
inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short u) { return __nv_bfloat16_raw{u}; }
inline __nv_bfloat16 __short_as_bfloat16(short s) { return __nv_bfloat16_raw{static_cast<unsigned short>(s)}; }

// ---- arithmetic, overloaded for both formats as in CUDA ----
template <class F>
using rdm_simt_f16 = ::rdm::simt::detail::Float16<F>;

template <class F>
rdm_simt_f16<F> __hadd(rdm_simt_f16<F> a, rdm_simt_f16<F> b) {
  return a + b;
}
template <class F>
rdm_simt_f16<F> __hsub(rdm_simt_f16<F> a, rdm_simt_f16<F> b) {
  return a - b;
}
template <class F>
rdm_simt_f16<F> __hmul(rdm_simt_f16<F> a, rdm_simt_f16<F> b) {
  return a * b;
}
template <class F>
rdm_simt_f16<F> __hdiv(rdm_simt_f16<F> a, rdm_simt_f16<F> b) {
  return a / b;
}
template <class F>
rdm_simt_f16<F> __hneg(rdm_simt_f16<F> a) {
  return -a;
}
template <class F>
rdm_simt_f16<F> __habs(rdm_simt_f16<F> a) {
  return ::rdm::simt::detail::Raw16{static_cast<unsigned short>(a.__x & 0x7fffu)};
}
template <class F>
rdm_simt_f16<F> __hfma(rdm_simt_f16<F> a, rdm_simt_f16<F> b, rdm_simt_f16<F> c) {
  return rdm_simt_f16<F>(::rdm::simt::detail::fma_round_to_odd(float(a), float(b), float(c)));
}
template <class F>
rdm_simt_f16<F> __hmax(rdm_simt_f16<F> a, rdm_simt_f16<F> b) {  // NaN only if both are NaN
  return std::isnan(float(a)) ? b : std::isnan(float(b)) ? a : (float(a) > float(b) ? a : b);
}
template <class F>
rdm_simt_f16<F> __hmin(rdm_simt_f16<F> a, rdm_simt_f16<F> b) {
  return std::isnan(float(a)) ? b : std::isnan(float(b)) ? a : (float(a) < float(b) ? a : b);
}
template <class F>
bool __hisnan(rdm_simt_f16<F> a) {
  return std::isnan(float(a));
}
template <class F>
int __hisinf(rdm_simt_f16<F> a) {
  const float f = float(a);
  return std::isinf(f) ? (f > 0 ? 1 : -1) : 0;
}

template <class E>
::rdm::simt::detail::Pair16<E> __hadd2(::rdm::simt::detail::Pair16<E> a, ::rdm::simt::detail::Pair16<E> b) {
  return a + b;
}
template <class E>
::rdm::simt::detail::Pair16<E> __hmul2(::rdm::simt::detail::Pair16<E> a, ::rdm::simt::detail::Pair16<E> b) {
  return a * b;
}
template <class E>
::rdm::simt::detail::Pair16<E> __hfma2(::rdm::simt::detail::Pair16<E> a, ::rdm::simt::detail::Pair16<E> b,
                                       ::rdm::simt::detail::Pair16<E> c) {
  return {__hfma(a.x, b.x, c.x), __hfma(a.y, b.y, c.y)};
}
