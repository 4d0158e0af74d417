// mma.sync m16n8k8 (f16, bf16, tf32) and the f16-accumulate variants (m16n8k16, m16n8k8),
// bit for bit against an independent model: the kernel builds every fragment straight from
// the PTX ISA's tables ("Matrix Fragments for mma.m16n8k8 / m16n8k16": element i of a
// fragment sits at row/col given by groupID = lane>>2 and threadID_in_group = lane%4), and
// the host computes D = C + sum_k A[r][k] * B[k][n] in double, k ascending, rounded once.
// Also float_to_tf32 (cvt.rna.tf32.f32) against a model of round-to-nearest, ties away.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../../csrc/kernels/portable.h"
#include "selftest.h"

using selftest::check;

namespace {

enum class Variant { kF16K8, kBF16K8, kTF32K8, kF16AccK16, kF16AccK8 };

constexpr int depth(Variant v) { return v == Variant::kF16AccK16 ? 16 : 8; }
constexpr bool is_tf32(Variant v) { return v == Variant::kTF32K8; }
constexpr bool accumulates_f16(Variant v) { return v == Variant::kF16AccK16 || v == Variant::kF16AccK8; }

// Operand element i of the lane's fragment, per the ISA tables (16-bit types: two elements
// per register, element i in register i/2, half i%2; tf32: element i in register i).
struct RowCol {
  int row, col;
};
__host__ __device__ RowCol a_element(Variant v, int lane, int i) {
  const int g = lane >> 2, t = lane % 4;
  if (is_tf32(v)) return {g + 8 * (i % 2), t + 4 * (i / 2)};         // a0, a2: row g; a1, a3: row g+8
  if (depth(v) == 8) return {i < 2 ? g : g + 8, t * 2 + (i & 1)};  // a0, a1: row g; a2, a3: row g+8
  const bool low_row = i < 2 || (i >= 4 && i < 6);                   // k16: a0, a1, a4, a5 in row g
  return {low_row ? g : g + 8, t * 2 + (i & 1) + (i >= 4 ? 8 : 0)};
}
__host__ __device__ RowCol b_element(Variant v, int lane, int i) {
  const int g = lane >> 2, t = lane % 4;
  if (is_tf32(v)) return {t + 4 * i, g};
  return {t * 2 + (i & 1) + (i >= 2 ? 8 : 0), g};
}
__host__ __device__ RowCol c_element(int lane, int i) {
  return {(lane >> 2) + (i < 2 ? 0 : 8), (lane % 4) * 2 + (i & 1)};
}

// A is 16 x K, B is K x 8, C and D are 16 x 8, all row-major. 16-bit elements are bit
// patterns in the low half of each word, tf32/fp32 elements fp32 bit patterns.
template <Variant kV>
__global__ void mma_variant_kernel(const std::uint32_t* A, const std::uint32_t* B, const std::uint32_t* C,
                                   std::uint32_t* D) {
  constexpr int K = depth(kV);
  constexpr int kAElems = is_tf32(kV) ? 4 : K / 2, kBElems = is_tf32(kV) ? 2 : K / 4;
  constexpr int kPerReg = is_tf32(kV) ? 1 : 2;
  const int lane = static_cast<int>(threadIdx.x);
  std::uint32_t a[kAElems / kPerReg] = {}, b[kBElems / kPerReg] = {};
  for (int i = 0; i < kAElems; ++i) {
    const RowCol p = a_element(kV, lane, i);
    a[i / kPerReg] |= A[p.row * K + p.col] << (kPerReg == 2 ? 16 * (i % 2) : 0);
  }
  for (int i = 0; i < kBElems; ++i) {
    const RowCol p = b_element(kV, lane, i);
    b[i / kPerReg] |= B[p.row * 8 + p.col] << (kPerReg == 2 ? 16 * (i % 2) : 0);
  }
  const auto c_index = [&](int i) { return c_element(lane, i).row * 8 + c_element(lane, i).col; };
  if constexpr (accumulates_f16(kV)) {
    std::uint32_t acc[2] = {};
    for (int i = 0; i < 4; ++i) acc[i / 2] |= C[c_index(i)] << 16 * (i % 2);
    if constexpr (kV == Variant::kF16AccK16) rdm::mma_m16n8k16_f16_f16acc(acc, a, b, acc);
    if constexpr (kV == Variant::kF16AccK8) rdm::mma_m16n8k8_f16_f16acc(acc, a, b, acc);
    for (int i = 0; i < 4; ++i) D[c_index(i)] = acc[i / 2] >> 16 * (i % 2) & 0xffffu;
  } else {
    float acc[4];
    for (int i = 0; i < 4; ++i) acc[i] = __uint_as_float(C[c_index(i)]);
    if constexpr (kV == Variant::kF16K8) rdm::mma_m16n8k8_f16(acc, a, b, acc);
    if constexpr (kV == Variant::kBF16K8) rdm::mma_m16n8k8_bf16(acc, a, b, acc);
    if constexpr (kV == Variant::kTF32K8) rdm::mma_m16n8k8_tf32(acc, a, b, acc);
    for (int i = 0; i < 4; ++i) D[c_index(i)] = __float_as_uint(acc[i]);
  }
}

// Value of an operand bit pattern. tf32: the tensor core ignores the low 13 mantissa bits.
double operand_value(Variant v, std::uint32_t bits) {
  if (is_tf32(v)) return __uint_as_float(bits & ~0x1fffu);
  const auto u = static_cast<unsigned short>(bits);
  return v == Variant::kBF16K8 ? __bfloat162float(__ushort_as_bfloat16(u)) : __half2float(__ushort_as_half(u));
}

// Rounds to the nearest fp16 value, ties to even (the model of the f16 accumulator): the
// quantum is 2^(e-10) for |x| in [2^e, 2^(e+1)), e >= -14, and 2^-24 below.
double round_to_half_model(double x) {
  if (x == 0) return x;
  const int e = std::max(static_cast<int>(std::floor(std::log2(std::abs(x)))), -14);
  const double quantum = std::ldexp(1.0, e - 10);
  const double q = std::nearbyint(x / quantum) * quantum;  // the default rounding mode: to nearest even
  return std::abs(q) >= 65520.0 ? std::copysign(INFINITY, x) : q;
}

std::uint32_t random_operand(Variant v, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  const float f = dist(rng);
  if (is_tf32(v)) return __float_as_uint(f);  // low 13 bits random: truncation is visible
  return v == Variant::kBF16K8 ? __bfloat16_as_ushort(__float2bfloat16(f)) : __half_as_ushort(__float2half(f));
}

template <Variant kV>
void check_variant(const char* name, unsigned seed) {
  constexpr int K = depth(kV);
  std::mt19937 rng(seed);
  std::vector<std::uint32_t> A(16 * K), B(K * 8), C(16 * 8), D(16 * 8, 0xdeadbeefu);
  for (auto& x : A) x = random_operand(kV, rng);
  for (auto& x : B) x = random_operand(kV, rng);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (auto& x : C) x = accumulates_f16(kV) ? __half_as_ushort(__float2half(dist(rng))) : __float_as_uint(dist(rng));
  rdm::launch_kernel("mma_variant_kernel", mma_variant_kernel<kV>, dim3(1), dim3(32), 0, rdm::StreamHandle{},
                     A.data(), B.data(), C.data(), D.data());
  for (int r = 0; r < 16; ++r)
    for (int n = 0; n < 8; ++n) {
      const std::uint32_t c = C[r * 8 + n];
      double sum = accumulates_f16(kV) ? double(__half2float(__ushort_as_half(static_cast<unsigned short>(c))))
                                       : double(__uint_as_float(c));
      for (int k = 0; k < K; ++k) sum += operand_value(kV, A[r * K + k]) * operand_value(kV, B[k * 8 + n]);
      const std::uint32_t got = D[r * 8 + n];
      const auto got_half = [&] { return double(__half2float(__ushort_as_half(static_cast<unsigned short>(got)))); };
      const bool ok = accumulates_f16(kV) ? got <= 0xffffu && got_half() == round_to_half_model(sum)
                                          : got == __float_as_uint(static_cast<float>(sum));
      check(ok, std::string(name) + ": D[" + std::to_string(r) + "][" + std::to_string(n) + "] has bits " +
                    std::to_string(got) + ", the model gives " + std::to_string(sum));
    }
}

SIMT_CASE(mma_m16n8k8) {
  check_variant<Variant::kF16K8>("mma.m16n8k8.f32.f16", 11);
  check_variant<Variant::kBF16K8>("mma.m16n8k8.f32.bf16", 12);
}

SIMT_CASE(mma_tf32) { check_variant<Variant::kTF32K8>("mma.m16n8k8.f32.tf32", 13); }

SIMT_CASE(mma_f16_accumulate) {
  check_variant<Variant::kF16AccK16>("mma.m16n8k16.f16.f16", 14);
  check_variant<Variant::kF16AccK8>("mma.m16n8k8.f16.f16", 15);
}

__global__ void float_to_tf32_kernel(const float* in, std::uint32_t* out, int n) {
  for (int i = 0; i < n; ++i) out[i] = rdm::float_to_tf32(in[i]);
}

// cvt.rna.tf32.f32: the nearest value with 10 mantissa bits, ties away from zero; beyond
// the largest tf32 value by half a quantum or more: infinity.
std::uint32_t tf32_model(float x) {
  const std::uint32_t bits = __float_as_uint(x);
  if (!std::isfinite(x)) return bits;
  const int biased_exponent = static_cast<int>(bits >> 23 & 0xffu);
  const double quantum = std::ldexp(1.0, std::max(biased_exponent, 1) - 127 - 10);
  const double toward_zero = __uint_as_float(bits & ~0x1fffu);
  const double away = toward_zero + std::copysign(quantum, double(x));
  const double nearest = std::abs(x - away) <= std::abs(x - toward_zero) ? away : toward_zero;
  if (std::abs(nearest) >= std::ldexp(1.0, 128)) return (bits & 0x80000000u) | 0x7f800000u;
  return __float_as_uint(static_cast<float>(nearest));
}

SIMT_CASE(float_to_tf32) {
  std::vector<float> in = {1.0f, __uint_as_float(0x3f801000u), __uint_as_float(0x3f800fffu),
                           __uint_as_float(0xbf803000u), __uint_as_float(0x7f7fffffu), -0.0f, INFINITY, NAN,
                           __uint_as_float(0x00001fffu), __uint_as_float(0x80001000u)};
  std::mt19937 rng(16);
  for (int i = 0; i < 1000; ++i) in.push_back(__uint_as_float(static_cast<std::uint32_t>(rng())));
  std::vector<std::uint32_t> out(in.size());
  rdm::launch_kernel("float_to_tf32_kernel", float_to_tf32_kernel, dim3(1), dim3(1), 0, rdm::StreamHandle{},
                     in.data(), out.data(), static_cast<int>(in.size()));
  for (std::size_t i = 0; i < in.size(); ++i)
    check(std::isnan(in[i]) ? std::isnan(__uint_as_float(out[i])) : out[i] == tf32_model(in[i]),
          "float_to_tf32 of bits " + std::to_string(__float_as_uint(in[i])));
}

}  // namespace
