// Math functions and intrinsics, evaluated inside a kernel.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "../../csrc/kernels/portable.h"
#include "selftest.h"

using selftest::check;

namespace {

constexpr int kResults = 48;

__global__ void math_kernel(double* r, const float* in) {
  const float one = in[0], two = in[1], nan = in[2], x = in[3];
  int i = 0;
  r[i++] = __expf(one);
  r[i++] = __logf(two);
  r[i++] = exp2f(3.0f);
  r[i++] = __fdividef(one, two);
  r[i++] = __frcp_rn(4.0f);
  r[i++] = __fsqrt_rn(2.0f);
  r[i++] = rsqrtf(4.0f);
  r[i++] = __saturatef(nan);
  r[i++] = __saturatef(-two);
  r[i++] = __saturatef(two);
  r[i++] = __saturatef(0.25f);
  r[i++] = __fmaf_rn(x, x, -1.0f);  // (1 + 2^-12)^2 - 1 = 2^-11 + 2^-24: exact only when fused
  r[i++] = __fmul_rn(x, two);
  r[i++] = __fadd_rn(one, two);
  r[i++] = __float_as_int(one);
  r[i++] = __float_as_uint(-0.0f);
  r[i++] = __int_as_float(0x40000000);
  r[i++] = __uint_as_float(0x3f800000u);
  r[i++] = __popc(0xf0f0u);
  r[i++] = __popcll(~0ull);
  r[i++] = __clz(1);
  r[i++] = __clz(0);
  r[i++] = __clzll(1ll << 40);
  r[i++] = __ffs(0);
  r[i++] = __ffs(8);
  r[i++] = __ffsll(1ll << 40);
  r[i++] = __brev(1u);
  r[i++] = __brev(0x12345678u);
  r[i++] = min(-1, 1u);  // compares as unsigned: 1
  r[i++] = max(-1, 1);
  r[i++] = min(2.5f, 1.5f);
  r[i++] = max(2.5, 1.5f);
  r[i++] = max(1ull, 2ull);
  r[i++] = fmaxf(nan, one);
  r[i++] = __ldg(in + 1);
  r[i++] = tanhf(0.0f) + log1pf(0.0f) + expm1f(0.0f) + fabsf(-1.0f) + floorf(1.5f) + ceilf(1.5f);
  r[i++] = __float2int_rn(2.5f);
  r[i++] = __float2int_rz(-2.7f);
  r[i++] = __umulhi(0x80000000u, 4u);
  r[i++] = __fsub_rn(two, one) + __fdiv_rn(one, two);
  r[i++] = expf(0.0f) + logf(1.0f) + sqrtf(4.0f) + fminf(1.0f, 2.0f);
  r[i++] = warpSize;
  __threadfence();
  __threadfence_block();
  r[i] = i;
}

SIMT_CASE(math_intrinsics) {
  std::vector<double> r(kResults, -12345);
  const float in[4] = {1.0f, 2.0f, std::numeric_limits<float>::quiet_NaN(), 1.0f + 1.0f / 4096};
  rdm::launch_kernel("math_kernel", math_kernel, dim3(1), dim3(1), 0, rdm::StreamHandle{}, r.data(), in);
  const double expected[] = {std::exp(1.0f), std::log(2.0f), 8, 0.5, 0.25, std::sqrt(2.0f), 0.5, 0, 0, 1, 0.25,
                             std::ldexp(1.0, -11) + std::ldexp(1.0, -24), 2 * (1.0 + 1.0 / 4096), 3, 0x3f800000,
                             0x80000000u, 2, 1, 8, 64, 31, 32, 23, 0, 4, 41, 0x80000000u, 0x1e6a2c48u, 1, 1, 1.5, 2.5,
                             2, 1, 2, 1 + 1 + 2, 2, -2, 2, 1.5, 1 + 0 + 2 + 1, 32, 42};
  for (std::size_t i = 0; i < std::size(expected); ++i)
    check(r[i] == expected[i] || std::abs(r[i] - expected[i]) < 1e-6 * std::abs(expected[i]),
          "result " + std::to_string(i) + " is " + std::to_string(r[i]) + ", expected " + std::to_string(expected[i]));
}

}  // namespace
