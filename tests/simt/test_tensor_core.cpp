// ldmatrix (x1/x2/x4, plain and .trans) against a direct read of the matrices, mma.sync
// m16n8k16 (f16, bf16) against a float64 matmul, and the tensor-core probe kernel.
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "../../csrc/kernels/portable.h"
#include "../../csrc/kernels/probe/tensor_core_probe.h"
#include "selftest.h"

using selftest::check;

namespace {

constexpr int kRowStride = 24;  // elements per shared-memory row: 48 bytes, rows stay 16-byte aligned

// Shared-memory row holding row r of matrix m: scattered, to check per-lane addressing.
__host__ __device__ int smem_row(int m, int r) { return (m * 8 + r) * 3 % 32; }

std::uint16_t element(int m, int r, int c) { return static_cast<std::uint16_t>(1000 * m + 10 * r + c); }

template <int kNum, bool kTrans>
__global__ void ldmatrix_kernel(const std::uint16_t* mats, std::uint32_t* out) {
  __shared__ __align__(16) std::uint16_t smem[32][kRowStride];
  const int lane = threadIdx.x;
  for (int i = lane; i < 32 * 8; i += 32) {  // matrix m, row r, col c from mats[m][r][c]
    const int m = i / 64, r = i / 8 % 8, c = i % 8;
    smem[smem_row(m, r)][c] = mats[i];
  }
  __syncthreads();
  // Lanes 8*m .. 8*m+7 supply the rows of matrix m; the others pass nullptr, which the
  // instruction ignores.
  const void* row = lane < 8 * kNum ? &smem[smem_row(lane / 8, lane % 8)][0] : nullptr;
  std::uint32_t d[kNum];
  if constexpr (kNum == 1) kTrans ? rdm::ldmatrix_x1_trans(d, row) : rdm::ldmatrix_x1(d, row);
  if constexpr (kNum == 2) kTrans ? rdm::ldmatrix_x2_trans(d, row) : rdm::ldmatrix_x2(d, row);
  if constexpr (kNum == 4) kTrans ? rdm::ldmatrix_x4_trans(d, row) : rdm::ldmatrix_x4(d, row);
  for (int i = 0; i < kNum; ++i) out[lane * 4 + i] = d[i];
}

template <int kNum, bool kTrans>
void check_ldmatrix() {
  std::vector<std::uint16_t> mats(4 * 64);
  for (int i = 0; i < 4 * 64; ++i) mats[i] = element(i / 64, i / 8 % 8, i % 8);
  std::vector<std::uint32_t> out(32 * 4, 0);
  rdm::launch_kernel("ldmatrix_kernel", ldmatrix_kernel<kNum, kTrans>, dim3(1), dim3(32), 0, rdm::StreamHandle{},
                     mats.data(), out.data());
  for (int lane = 0; lane < 32; ++lane)
    for (int m = 0; m < kNum; ++m) {
      // Lane l holds row l/4, columns 2*(l%4) and 2*(l%4)+1 of the (transposed) matrix.
      const int r = lane / 4, c = 2 * (lane % 4);
      const std::uint32_t lo = kTrans ? element(m, c, r) : element(m, r, c);
      const std::uint32_t hi = kTrans ? element(m, c + 1, r) : element(m, r, c + 1);
      check(out[lane * 4 + m] == (lo | hi << 16), "ldmatrix.x" + std::to_string(kNum) + (kTrans ? ".trans" : "") +
                                                      " lane " + std::to_string(lane) + " matrix " + std::to_string(m));
    }
}

SIMT_CASE(ldmatrix) {
  check_ldmatrix<1, false>();
  check_ldmatrix<2, false>();
  check_ldmatrix<4, false>();
  check_ldmatrix<1, true>();
  check_ldmatrix<2, true>();
  check_ldmatrix<4, true>();
}

__global__ void ldmatrix_bad_address_kernel(const std::uint16_t* global, int mode) {
  __shared__ __align__(16) std::uint16_t smem[8][8];
  smem[threadIdx.x % 8][threadIdx.x / 8] = 0;
  __syncthreads();
  std::uint32_t d[1];
  if (mode == 0)
    rdm::ldmatrix_x1(d, &smem[threadIdx.x % 8][1]);  // 2 bytes off: not 16-byte aligned
  else
    rdm::ldmatrix_x1(d, global);  // not shared memory
}

SIMT_CASE(ldmatrix_bad_address) {
  alignas(16) std::uint16_t global[8] = {};
  selftest::expect_launch_error(
      [&] {
        rdm::launch_kernel("ldmatrix_bad_address_kernel", ldmatrix_bad_address_kernel, dim3(1), dim3(32), 0,
                           rdm::StreamHandle{}, global, 0);
      },
      {"ldmatrix.x1", "not 16-byte aligned"});
  selftest::expect_launch_error(
      [&] {
        rdm::launch_kernel("ldmatrix_bad_address_kernel", ldmatrix_bad_address_kernel, dim3(1), dim3(32), 0,
                           rdm::StreamHandle{}, global, 1);
      },
      {"ldmatrix.x1", "not in shared memory"});
}

// Packs two 16-bit elements into one register, the lower index in the low half.
__host__ __device__ std::uint32_t pack(std::uint16_t lo, std::uint16_t hi) { return lo | std::uint32_t{hi} << 16; }

// Builds the fragments straight from global memory with the documented layouts, runs
// the mma with d aliasing c, and scatters d back.
template <bool kF16>
__global__ void mma_kernel(const std::uint16_t* A, const std::uint16_t* B, const float* C, float* D) {
  const int lane = threadIdx.x, g = lane / 4, t = lane % 4;
  const auto a_at = [&](int r, int k) { return A[r * 16 + k]; };
  const auto b_at = [&](int k, int n) { return B[k * 8 + n]; };
  const std::uint32_t a[4] = {
      pack(a_at(g, 2 * t), a_at(g, 2 * t + 1)), pack(a_at(g + 8, 2 * t), a_at(g + 8, 2 * t + 1)),
      pack(a_at(g, 2 * t + 8), a_at(g, 2 * t + 9)), pack(a_at(g + 8, 2 * t + 8), a_at(g + 8, 2 * t + 9))};
  const std::uint32_t b[2] = {pack(b_at(2 * t, g), b_at(2 * t + 1, g)), pack(b_at(2 * t + 8, g), b_at(2 * t + 9, g))};
  float acc[4] = {C[g * 8 + 2 * t], C[g * 8 + 2 * t + 1], C[(g + 8) * 8 + 2 * t], C[(g + 8) * 8 + 2 * t + 1]};
  if constexpr (kF16)
    rdm::mma_m16n8k16_f16(acc, a, b, acc);
  else
    rdm::mma_m16n8k16_bf16(acc, a, b, acc);
  D[g * 8 + 2 * t] = acc[0];
  D[g * 8 + 2 * t + 1] = acc[1];
  D[(g + 8) * 8 + 2 * t] = acc[2];
  D[(g + 8) * 8 + 2 * t + 1] = acc[3];
}

template <bool kF16>
std::uint16_t to_bits(float f) {
  return kF16 ? __half_as_ushort(__float2half(f)) : __bfloat16_as_ushort(__float2bfloat16(f));
}
template <bool kF16>
double from_bits16(std::uint16_t u) {
  return kF16 ? __half2float(__ushort_as_half(u)) : __bfloat162float(__ushort_as_bfloat16(u));
}

// Random 16-bit matrix (bit patterns) of `n` elements in [-2, 2].
template <bool kF16>
std::vector<std::uint16_t> random_matrix(std::mt19937& rng, int n) {
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  std::vector<std::uint16_t> m(n);
  for (auto& v : m) v = to_bits<kF16>(dist(rng));
  return m;
}

template <bool kF16>
void check_mma() {
  std::mt19937 rng(kF16 ? 1 : 2);
  const auto A = random_matrix<kF16>(rng, 16 * 16), B = random_matrix<kF16>(rng, 16 * 8);
  std::vector<float> C(16 * 8), D(16 * 8);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (float& c : C) c = dist(rng);
  rdm::launch_kernel("mma_kernel", mma_kernel<kF16>, dim3(1), dim3(32), 0, rdm::StreamHandle{}, A.data(), B.data(),
                     C.data(), D.data());
  for (int r = 0; r < 16; ++r)
    for (int n = 0; n < 8; ++n) {
      double ref = C[r * 8 + n];
      for (int k = 0; k < 16; ++k) ref += from_bits16<kF16>(A[r * 16 + k]) * from_bits16<kF16>(B[k * 8 + n]);
      check(std::abs(D[r * 8 + n] - ref) <= 1e-6 * (1 + std::abs(ref)),
            std::string(kF16 ? "f16" : "bf16") + " mma D[" + std::to_string(r) + "][" + std::to_string(n) +
                "] = " + std::to_string(D[r * 8 + n]) + ", expected " + std::to_string(ref));
    }
}

SIMT_CASE(mma_f16) { check_mma<true>(); }
SIMT_CASE(mma_bf16) { check_mma<false>(); }

template <bool kF16>
void check_probe(bool b_k_major) {
  std::mt19937 rng(b_k_major ? 3 : 4);
  const auto A = random_matrix<kF16>(rng, 16 * 16), B = random_matrix<kF16>(rng, 16 * 8);  // B: [k][n]
  std::vector<std::uint16_t> b_stored(16 * 8);
  for (int k = 0; k < 16; ++k)
    for (int n = 0; n < 8; ++n) (b_k_major ? b_stored[k * 8 + n] : b_stored[n * 16 + k]) = B[k * 8 + n];
  alignas(16) std::uint16_t a_buf[256], b_buf[128], tile[128];
  std::copy(A.begin(), A.end(), a_buf);
  std::copy(b_stored.begin(), b_stored.end(), b_buf);
  std::vector<float> out(16 * 8);
  rdm::TensorCoreProbeParams p;
  p.a = a_buf;
  p.b = b_buf;
  p.out = out.data();
  p.tile = tile;
  p.dtype = kF16 ? rdm::ScalarKind::kFloat16 : rdm::ScalarKind::kBFloat16;
  p.b_k_major = b_k_major;
  rdm::tensor_core_probe_launch(p, rdm::StreamHandle{});
  const std::string what = std::string("probe ") + (kF16 ? "f16" : "bf16") + (b_k_major ? " k-major" : " n-major");
  for (int r = 0; r < 16; ++r)
    for (int n = 0; n < 8; ++n) {
      double ref = 0;
      for (int k = 0; k < 16; ++k) ref += from_bits16<kF16>(A[r * 16 + k]) * from_bits16<kF16>(B[k * 8 + n]);
      check(std::abs(out[r * 8 + n] - ref) <= 1e-6 * (1 + std::abs(ref)), what + ": wrong product");
    }
  for (int r = 0; r < 8; ++r)
    for (int c = 0; c < 8; ++c) {
      check(tile[r * 8 + c] == A[r * 16 + 8 + c], what + ": ldmatrix_x1 tile");
      check(tile[64 + r * 8 + c] == A[c * 16 + 8 + r], what + ": ldmatrix_x1_trans tile");
    }
}

SIMT_CASE(tensor_core_probe) {
  check_probe<true>(true);
  check_probe<true>(false);
  check_probe<false>(true);
  check_probe<false>(false);
  rdm::TensorCoreProbeParams p;
  p.dtype = rdm::ScalarKind::kFloat32;
  try {
    rdm::tensor_core_probe_launch(p, rdm::StreamHandle{});
    check(false, "fp32 probe accepted");
  } catch (const std::runtime_error& e) {
    check(std::string(e.what()).find("dtype") != std::string::npos, "fp32 probe error message");
  }
}

}  // namespace
