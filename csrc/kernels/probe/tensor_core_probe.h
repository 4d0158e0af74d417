// Probe kernel that checks the tensor-core wrappers of portable.h (cp.async, ldmatrix in all
// six variants, mma.sync m16n8k16 f16/bf16) against a reference: run it on a GPU and under
// the SIMT emulation and compare both with A.float() @ B.float().
//
// One warp computes, with 16-bit elements of `dtype` (kFloat16 or kBFloat16):
//   out[16][8] (fp32, row-major)   = A @ B
//   tile[0][8][8] (dtype, row-major) = A[0:8, 8:16]     (loaded with ldmatrix_x1)
//   tile[1][8][8] (dtype, row-major) = A[0:8, 8:16]^T   (loaded with ldmatrix_x1_trans)
// where A is 16x16 row-major and B (16 x 8, k x n) is stored either
//   k-major (b_k_major = true):  16 rows (k) of 8 elements (n), loaded with ldmatrix_x2_trans;
//   n-major (b_k_major = false): 8 rows (n) of 16 elements (k), i.e. B^T row-major, ldmatrix_x2.
// All pointers are device pointers (host pointers under the emulation), contiguous, and
// 16-byte aligned.
#pragma once
#include "../host_types.h"

namespace rdm {

struct TensorCoreProbeParams {
  const void* a = nullptr;  // [16][16] dtype
  const void* b = nullptr;  // [16][8] (k-major) or [8][16] (n-major) dtype
  float* out = nullptr;     // [16][8] fp32
  void* tile = nullptr;     // [2][8][8] dtype
  ScalarKind dtype = ScalarKind::kFloat16;
  bool b_k_major = true;
};

// Launches the probe (one block of 32 threads). Throws std::runtime_error for a dtype
// other than kFloat16/kBFloat16 or a failed launch.
void tensor_core_probe_launch(const TensorCoreProbeParams& p, StreamHandle stream);

}  // namespace rdm
