// __half / __nv_bfloat16: conversions against known bit patterns (RNE ties, subnormals,
// overflow, NaN/Inf), round trips, independent references, pairs and arithmetic.
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>

#include "../../csrc/kernels/portable.h"
#include "selftest.h"

using selftest::check;

namespace {

std::string hex(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

float from_bits(std::uint32_t u) { return std::bit_cast<float>(u); }

void expect_half(float f, std::uint16_t bits) {
  const std::uint16_t got = __half_as_ushort(__float2half_rn(f));
  check(got == bits, "__float2half_rn(" + hex(std::bit_cast<std::uint32_t>(f)) + ") = " + hex(got) + ", expected " +
                         hex(bits));
  check(__half_as_ushort(__float2half(f)) == bits && __half_as_ushort(__half(f)) == bits,
        "__float2half / __half(float)");
}

void expect_bf16(float f, std::uint16_t bits) {
  const std::uint16_t got = __bfloat16_as_ushort(__float2bfloat16_rn(f));
  check(got == bits, "__float2bfloat16_rn(" + hex(std::bit_cast<std::uint32_t>(f)) + ") = " + hex(got) +
                         ", expected " + hex(bits));
  check(__bfloat16_as_ushort(__float2bfloat16(f)) == bits, "__float2bfloat16");
}

SIMT_CASE(half_conversions) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  expect_half(1.0f, 0x3c00);
  expect_half(-2.0f, 0xc000);
  expect_half(0.0f, 0x0000);
  expect_half(-0.0f, 0x8000);
  expect_half(65504.0f, 0x7bff);                     // largest finite
  expect_half(65519.996f, 0x7bff);                   // just below the overflow threshold
  expect_half(65520.0f, 0x7c00);                     // halfway to 2^16: ties to even = inf
  expect_half(1e6f, 0x7c00);
  expect_half(inf, 0x7c00);
  expect_half(-inf, 0xfc00);
  expect_half(nan, 0x7fff);                          // canonical NaN, as CUDA
  expect_half(-nan, 0x7fff);
  expect_half(from_bits(0x7f800001u), 0x7fff);       // signalling NaN
  expect_half(1.0f + std::ldexp(1.0f, -11), 0x3c00);      // tie, even stays
  expect_half(1.0f + 3 * std::ldexp(1.0f, -11), 0x3c02);  // tie, odd rounds up
  expect_half(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20), 0x3c01);  // above the tie
  expect_half(std::ldexp(1.0f, -14), 0x0400);        // smallest normal
  expect_half(std::ldexp(1.0f, -24), 0x0001);        // smallest subnormal
  expect_half(std::ldexp(1.0f, -25), 0x0000);        // tie between 0 and 2^-24: even = 0
  expect_half(std::ldexp(1.5f, -25), 0x0001);
  expect_half(std::ldexp(3.0f, -25), 0x0002);        // tie 1.5 ulp: even = 2
  expect_half(-std::ldexp(1.0f, -26), 0x8000);
  expect_half(std::ldexp(1023.5f, -24), 0x0400);     // rounds up into the smallest normal
  expect_half(from_bits(1), 0x0000);                 // float subnormal
  expect_half(0.1f, 0x2e66);
  check(__half_as_ushort(__double2half(0.1)) == 0x2e66, "__double2half");

  // Every half survives half -> float -> half (NaNs become the canonical NaN).
  for (std::uint32_t u = 0; u < 0x10000; ++u) {
    const __half h = __ushort_as_half(static_cast<std::uint16_t>(u));
    const float f = __half2float(h);
    const bool is_nan = (u & 0x7c00) == 0x7c00 && (u & 0x3ff) != 0;
    check(is_nan == std::isnan(f), "__half2float NaN-ness of " + hex(u));
    check(!is_nan || std::bit_cast<std::uint32_t>(f) == 0x7fffffffu, "__half2float of a NaN is canonical, as CUDA's");
    check(__half_as_ushort(__float2half_rn(f)) == (is_nan ? 0x7fff : u), "round trip of half " + hex(u));
  }
  // Against the compiler's own _Float16 conversion (round to nearest even) on a sweep of
  // floats covering every exponent and many mantissas.
  for (std::uint64_t u = 0; u < (1ull << 32); u += 65521) {
    const float f = from_bits(static_cast<std::uint32_t>(u));
    if (std::isnan(f)) continue;
    const auto ref = std::bit_cast<std::uint16_t>(static_cast<_Float16>(f));
    check(__half_as_ushort(__float2half_rn(f)) == ref, "half of " + hex(static_cast<std::uint32_t>(u)));
  }
}

SIMT_CASE(bf16_conversions) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  expect_bf16(1.0f, 0x3f80);
  expect_bf16(-2.0f, 0xc000);
  expect_bf16(-0.0f, 0x8000);
  expect_bf16(1.0f + std::ldexp(1.0f, -8), 0x3f80);      // tie, even stays
  expect_bf16(1.0f + 3 * std::ldexp(1.0f, -8), 0x3f82);  // tie, odd rounds up
  expect_bf16(from_bits(0x3f808001u), 0x3f81);            // above the tie
  expect_bf16(from_bits(0x7f7f0000u), 0x7f7f);            // largest finite bf16
  expect_bf16(std::numeric_limits<float>::max(), 0x7f80);  // rounds to inf
  expect_bf16(inf, 0x7f80);
  expect_bf16(-inf, 0xff80);
  expect_bf16(nan, 0x7fff);
  expect_bf16(from_bits(0xff800001u), 0x7fff);
  expect_bf16(from_bits(0x00008000u), 0x0000);  // subnormal tie: even = 0
  expect_bf16(from_bits(0x00018000u), 0x0002);  // subnormal tie: odd rounds up
  expect_bf16(from_bits(0x00010000u), 0x0001);  // smallest bf16 subnormal
  expect_bf16(0.1f, 0x3dcd);
  for (std::uint32_t u = 0; u < 0x10000; ++u) {
    const float f = __bfloat162float(__ushort_as_bfloat16(static_cast<std::uint16_t>(u)));
    check(std::bit_cast<std::uint32_t>(f) == u << 16, "__bfloat162float of " + hex(u));
    const bool is_nan = std::isnan(f);
    check(__bfloat16_as_ushort(__float2bfloat16_rn(f)) == (is_nan ? 0x7fff : u), "round trip of bf16 " + hex(u));
  }
  // Against the classic integer formula for round-to-nearest-even truncation.
  for (std::uint64_t u = 0; u < (1ull << 32); u += 65521) {
    const auto bits = static_cast<std::uint32_t>(u);
    if (std::isnan(from_bits(bits))) continue;
    const auto ref = static_cast<std::uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
    check(__bfloat16_as_ushort(__float2bfloat16_rn(from_bits(bits))) == ref, "bf16 of " + hex(bits));
  }
}

SIMT_CASE(half_pairs_and_arithmetic) {
  const __half2 h2 = __floats2half2_rn(1.5f, -2.25f);
  check(std::bit_cast<std::uint32_t>(h2) == (0xc080u << 16 | 0x3e00u), "__half2 layout: x in the low half");
  check(__low2float(h2) == 1.5f && __high2float(h2) == -2.25f, "__low2float/__high2float (half2)");
  const float2 f2 = __half22float2(h2);
  check(f2.x == 1.5f && f2.y == -2.25f, "__half22float2");
  check(__half_as_ushort(__low2half(__float22half2_rn(make_float2(3.0f, 4.0f)))) == 0x4200, "__float22half2_rn");
  const __nv_bfloat162 b2 = __floats2bfloat162_rn(1.5f, -2.25f);
  check(std::bit_cast<std::uint32_t>(b2) == (0xc010u << 16 | 0x3fc0u), "__nv_bfloat162 layout");
  check(__low2float(b2) == 1.5f && __high2float(b2) == -2.25f, "__low2float/__high2float (bf162)");
  const float2 g2 = __bfloat1622float2(b2);
  check(g2.x == 1.5f && g2.y == -2.25f, "__bfloat1622float2");
  check(alignof(__half2) == 4 && sizeof(__half2) == 4 && alignof(__half) == 2, "half type sizes");
  check(alignof(float4) == 16 && alignof(float2) == 8 && alignof(int4) == 16 && alignof(uint2) == 8,
        "vector alignment");

  const __half a = __float2half(1.0f), b = __float2half(std::ldexp(1.0f, -11));
  check(__half_as_ushort(__hadd(a, b)) == 0x3c00, "__hadd rounds ties to even");
  check(__half_as_ushort(__hadd(a, __hadd(b, b))) == 0x3c01, "__hadd");
  check(__half2float(__hmul(__float2half(3.0f), __float2half(0.5f))) == 1.5f, "__hmul");
  check(__half2float(__hsub(a, a)) == 0.0f && __half2float(a + a) == 2.0f && __half2float(-a) == -1.0f, "operators");
  check(a < __float2half(2.0f) && !(a > a) && a == __float2half(1.0f), "comparisons");
  // (1 + 2^-10)^2 = 1 + 2^-9 + 2^-20: rounds to 1 + 2^-9 (0x3c02).
  const __half one_ulp = __float2half(1.0f + std::ldexp(1.0f, -10));
  check(__half_as_ushort(__hfma(one_ulp, one_ulp, __float2half(0.0f))) == 0x3c02, "__hfma");
  check(__bfloat162float(__hfma(__float2bfloat16(2.0f), __float2bfloat16(3.0f), __float2bfloat16(1.0f))) == 7.0f,
        "__hfma (bf16)");
  check(__half_as_ushort(__hfma(__float2half(65504.0f), __float2half(2.0f), __float2half(-65504.0f))) == 0x7bff,
        "__hfma keeps the exact product");
  check(std::isnan(__half2float(__float2half(std::numeric_limits<float>::quiet_NaN()))), "NaN survives");
  check(std::isinf(__bfloat162float(__float2bfloat16(std::numeric_limits<float>::infinity()))), "Inf survives");
}

}  // namespace
