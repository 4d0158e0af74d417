// stmatrix (x1/x2/x4, plain and .trans) and movmatrix against an independent model of the
// 8x8 fragment layout (PTX ISA: lane l holds row l/4, columns 2*(l%4) and 2*(l%4)+1), and
// ldmatrix reading every row at the instruction.
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "../../csrc/kernels/portable.h"
#include "selftest.h"

using selftest::check;

namespace {

constexpr int kRowElems = 8;                 // 16 bytes: one matrix row
constexpr std::uint16_t kPoison16 = 0xffff;  // shared memory's poison

// Element (r, c) of matrix m.
__host__ __device__ std::uint16_t element(int m, int r, int c) {
  return static_cast<std::uint16_t>(4096 * m + 64 * r + c + 7);
}

// Shared-memory row slot of row r of matrix m: scattered, to check per-lane addressing.
__host__ __device__ int row_slot(int m, int r) { return (m * 8 + r) * 5 % 32; }

// The lane's fragment of matrix m, built from the ISA's table.
__host__ __device__ std::uint32_t fragment(int m, int lane) {
  const int r = lane / 4, c = 2 * (lane % 4);
  return element(m, r, c) | static_cast<std::uint32_t>(element(m, r, c + 1)) << 16;
}

template <int kNum, bool kTrans>
__global__ void stmatrix_kernel(std::uint16_t* out) {
  __shared__ __align__(16) std::uint16_t smem[32][kRowElems];
  const int lane = static_cast<int>(threadIdx.x);
  std::uint32_t r[kNum];
  for (int m = 0; m < kNum; ++m) r[m] = fragment(m, lane);
  void* row = lane < 8 * kNum ? &smem[row_slot(lane / 8, lane % 8)][0] : nullptr;  // others are ignored
  if constexpr (kTrans)
    rdm::stmatrix_trans(r, row);
  else
    rdm::stmatrix(r, row);
  __syncwarp();
  for (int i = lane; i < 32 * kRowElems; i += 32) out[i] = smem[i / kRowElems][i % kRowElems];
}

template <int kNum, bool kTrans>
void check_stmatrix() {
  std::vector<std::uint16_t> out(32 * kRowElems, 0);
  rdm::launch_kernel("stmatrix_kernel", stmatrix_kernel<kNum, kTrans>, dim3(1), dim3(32), 0, rdm::StreamHandle{},
                     out.data());
  const std::string name = "stmatrix.x" + std::to_string(kNum) + (kTrans ? ".trans" : "");
  std::vector<bool> written(32, false);
  for (int m = 0; m < kNum; ++m)
    for (int r = 0; r < 8; ++r) {
      written[row_slot(m, r)] = true;
      for (int c = 0; c < 8; ++c)  // .trans stores the transpose: stored (r, c) = matrix (c, r)
        check(out[row_slot(m, r) * kRowElems + c] == (kTrans ? element(m, c, r) : element(m, r, c)),
              name + ": matrix " + std::to_string(m) + " row " + std::to_string(r) + " col " + std::to_string(c));
    }
  for (int slot = 0; slot < 32; ++slot)
    for (int c = 0; c < 8 && !written[slot]; ++c)
      check(out[slot * kRowElems + c] == kPoison16, name + ": wrote a row no lane supplied");
}

SIMT_CASE(stmatrix) {
  check_stmatrix<1, false>();
  check_stmatrix<2, false>();
  check_stmatrix<4, false>();
  check_stmatrix<1, true>();
  check_stmatrix<2, true>();
  check_stmatrix<4, true>();
}

__global__ void movmatrix_kernel(std::uint32_t* out) {
  out[threadIdx.x] = rdm::movmatrix_trans(fragment(3, static_cast<int>(threadIdx.x)));
}

SIMT_CASE(movmatrix) {
  std::vector<std::uint32_t> out(32);
  rdm::launch_kernel("movmatrix_kernel", movmatrix_kernel, dim3(1), dim3(32), 0, rdm::StreamHandle{}, out.data());
  for (int lane = 0; lane < 32; ++lane) {
    // The fragment of the transpose: element (r, c) of it is element (c, r) of matrix 3.
    const int r = lane / 4, c = 2 * (lane % 4);
    const std::uint32_t want = element(3, c, r) | static_cast<std::uint32_t>(element(3, c + 1, r)) << 16;
    check(out[lane] == want, "movmatrix.trans lane " + std::to_string(lane));
  }
}

// Every lane overwrites the row it supplied right after the ldmatrix, without __syncwarp.
// On a GPU the instruction has read all rows by then. Lane 0 arrives last, after the
// others went to sleep, and overwrites row 0 at once: an emulation reading the rows after
// the warp exchange (as it once did) would hand lanes 1-3 the new row 0.
template <bool kTrans>
__global__ void ldmatrix_then_overwrite_kernel(std::uint32_t* out) {
  __shared__ __align__(16) std::uint16_t smem[32][kRowElems];
  const int lane = static_cast<int>(threadIdx.x);
  for (int c = 0; c < kRowElems; ++c) smem[row_slot(lane / 8, lane % 8)][c] = element(lane / 8, lane % 8, c);
  __syncwarp();
  if (lane == 0) std::this_thread::sleep_for(std::chrono::milliseconds(30));
  std::uint16_t* row = &smem[row_slot(lane / 8, lane % 8)][0];
  std::uint32_t d[4];
  if constexpr (kTrans)
    rdm::ldmatrix_x4_trans(d, row);
  else
    rdm::ldmatrix_x4(d, row);
  for (int c = 0; c < kRowElems; ++c) row[c] = 0;
  for (int m = 0; m < 4; ++m) out[lane * 4 + m] = d[m];
}

template <bool kTrans>
void check_ldmatrix_captures_rows() {
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::vector<std::uint32_t> out(32 * 4, 0);
    rdm::launch_kernel("ldmatrix_then_overwrite_kernel", ldmatrix_then_overwrite_kernel<kTrans>, dim3(1), dim3(32), 0,
                       rdm::StreamHandle{}, out.data());
    for (int lane = 0; lane < 32; ++lane)
      for (int m = 0; m < 4; ++m) {
        const int r = lane / 4, c = 2 * (lane % 4);
        const std::uint32_t want =
            kTrans ? element(m, c, r) | static_cast<std::uint32_t>(element(m, c + 1, r)) << 16 : fragment(m, lane);
        check(out[lane * 4 + m] == want, std::string("ldmatrix.x4") + (kTrans ? ".trans" : "") + " lane " +
                                             std::to_string(lane) + " matrix " + std::to_string(m) +
                                             ": a row overwritten after the instruction leaked into the result");
      }
  }
}

SIMT_CASE(ldmatrix_captures_rows) {
  check_ldmatrix_captures_rows<false>();
  check_ldmatrix_captures_rows<true>();
}

}  // namespace
