// Selective-scan decode step (selective_state_update): one time step of the recurrence,
// in place on the state, for serving.
//
// One warp per (batch row, channel), kWarps channels per block; lanes stride over the
// state index n and a shuffle sum gives y. The channel d = head · head_dim + p indexes
// every per-channel tensor through its (head, head_dim) strides, so Mamba-2's per-head
// A / D / dt_bias arrive as stride-0 views of (heads,) tensors without a copy. The state is
// read and written in its own dtype (fp32, fp16 or bf16); the math is fp32.
// state_batch_indices maps row b to the state row it updates; a negative index is a padding
// slot (the row is skipped and its y is 0); an index past the state's rows is reported
// through the device error flag and skipped the same way.
//
// Code paths and the tests that reach them (tests/test_selective_scan_kernels.py):
//   N <= 32 (one n per lane, idle lanes at N = 16) and N > 32 (lanes loop: N = 40):
//     test_decode_matches_scan; state in fp32 / fp16 / bf16: test_decode_state_dtypes;
//   state_batch_indices with padding and a bad index: test_decode_state_batch_indices;
//   4-D head layout with stride-0 A / D / dt_bias: test_decode_head_layout;
//   z, D, dt_bias absent: test_decode_matches_scan[..minimal..].
#pragma once
#include "../common/device_error.h"
#include "../common/warp_reduce.h"
#include "selective_scan_common.h"

namespace rdm::selective_scan {

template <typename T, typename TBC, typename TS>
__global__ void __launch_bounds__(kWarps * 32) decode_kernel(DecodeParams p) {
  const int lane = threadIdx.x % 32;
  const int64_t channel = int64_t(blockIdx.x) * kWarps + threadIdx.x / 32;
  const int64_t b = blockIdx.y;
  if (channel >= p.heads * p.head_dim) return;  // the whole warp
  const int64_t head = channel / p.head_dim, q = channel % p.head_dim;
  const int64_t g = channel / (p.heads * p.head_dim / p.groups);
  T* y_out = static_cast<T*>(p.y) + b * p.y_batch_stride + head * p.y_head_stride + q * p.y_dim_stride;

  int64_t row = b;
  if (p.state_batch_indices != nullptr) {
    row = load_global(p.state_batch_indices + b * p.state_batch_indices_stride);
    if (row >= p.num_states && lane == 0 && channel == 0)
      report_device_error(p.flag, DeviceError::kStateBatchIndexOutOfRange, b, row);
    if (row < 0 || row >= p.num_states) {
      if (lane == 0) store_global(y_out, from_float<T>(0.f));
      return;
    }
  }

  const auto at = [&](const void* base, int64_t bs, int64_t hs, int64_t ds) {
    return to_float(load_global(static_cast<const T*>(base) + b * bs + head * hs + q * ds));
  };
  const float x = at(p.x, p.x_batch_stride, p.x_head_stride, p.x_dim_stride);
  const float bias = p.dt_bias ? load_global(p.dt_bias + head * p.dt_bias_head_stride + q * p.dt_bias_dim_stride) : 0.f;
  const float dt = discretise(at(p.dt, p.dt_batch_stride, p.dt_head_stride, p.dt_dim_stride), bias, p.softplus);

  TS* state = static_cast<TS*>(p.state) + row * p.state_batch_stride + head * p.state_head_stride +
              q * p.state_dim_stride;
  const float* A = p.A + head * p.A_head_stride + q * p.A_dim_stride;
  const TBC* B = static_cast<const TBC*>(p.B) + b * p.B_batch_stride + g * p.B_group_stride;
  const TBC* C = static_cast<const TBC*>(p.C) + b * p.C_batch_stride + g * p.C_group_stride;
  float y[1] = {0.f};
  for (int n = lane; n < p.state_size; n += 32) {
    const float h = fmaf(expf(dt * load_global(A + n * p.A_state_stride)),
                         to_float(load_global(state + n * p.state_state_stride)),
                         dt * to_float(load_global(B + n * p.B_state_stride)) * x);
    store_global(state + n * p.state_state_stride, from_float<TS>(h));
    y[0] = fmaf(to_float(load_global(C + n * p.C_state_stride)), h, y[0]);
  }
  warp_sum(y);
  if (lane != 0) return;
  float result = y[0];
  if (p.D) result = fmaf(load_global(p.D + head * p.D_head_stride + q * p.D_dim_stride), x, result);
  if (p.z) result *= silu(at(p.z, p.z_batch_stride, p.z_head_stride, p.z_dim_stride));
  store_global(y_out, from_float<T>(result));
}

template <typename T, typename TBC, typename TS>
void launch_decode(const DecodeParams& p, StreamHandle stream) {
  const dim3 grid(unsigned((p.heads * p.head_dim + kWarps - 1) / kWarps), unsigned(p.batch));
  launch_kernel("selective_scan_decode_kernel", decode_kernel<T, TBC, TS>, grid, dim3(kWarps * 32), 0, stream, p);
}

}  // namespace rdm::selective_scan
