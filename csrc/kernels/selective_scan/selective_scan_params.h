// Parameters of the selective-scan (Mamba S6) kernels: the chunked forward scan and the
// single-step decode. Plain pointers, sizes and int64 element strides only, shared by the
// launchers (.cu) and the op backends (csrc/ops/selective_scan_kernel.cpp). The time (last)
// dimension of every per-token tensor is contiguous; every other dimension has a stride.
#pragma once
#include <cstdint>

#include "../common/device_error_flag.h"
#include "../host_types.h"

namespace rdm::selective_scan {

// One lane owns kItems consecutive time steps; a warp scans a chunk of 32 * kItems.
inline constexpr int kItems = 4;
inline constexpr int kChunk = 32 * kItems;
// Each warp scans one channel; a block holds kWarps channels (no shared memory, no barrier:
// the warps are independent, so a partial last block simply has idle warps).
inline constexpr int kWarps = 4;
// Resident blocks per SM that __launch_bounds__ asks for: a budget of 65536 / (3 * 128) = 170
// registers per thread. Without it ptxas (CUDA 13) capped the scan at 128 and spilled on sm_90a
// (the lane-owned state and A take 16 registers, a chunk's per-step values ~40).
inline constexpr int kMinBlocksPerSm = 3;
// The backward holds the recomputed states and the adjoint too: 2 blocks, 255 registers
// (it needed ~170 and spilled at 168).
inline constexpr int kBackwardMinBlocksPerSm = 2;
// N <= 256: each lane keeps the running state and A of n = 32 k + lane, k < kStateRegs.
inline constexpr int kMaxState = 256;
inline constexpr int kStateRegs = kMaxState / 32;

constexpr int64_t num_chunks(int64_t length) { return (length + kChunk - 1) / kChunk; }

// u, delta, z, out: (batch, dim, L). B, C: (batch, G, N, L) (G = 1 for the 3-D form).
// A: (dim, N). D, delta_bias: (dim,). initial_state, last_state: (S, dim, N) where S is
// the batch, or the number of packed sequences with cu_seqlens.
struct ForwardParams {
  const void* u;
  int64_t u_batch_stride, u_dim_stride;
  const void* delta;
  int64_t delta_batch_stride, delta_dim_stride;
  const void* z;  // nullptr: no gate
  int64_t z_batch_stride, z_dim_stride;
  const void* B;  // in BC's element type (the launcher's second type)
  int64_t B_batch_stride, B_group_stride, B_state_stride;
  const void* C;
  int64_t C_batch_stride, C_group_stride, C_state_stride;
  const float* A;
  int64_t A_dim_stride, A_state_stride;
  const float* D;  // nullptr: no skip term
  int64_t D_stride;
  const float* delta_bias;  // nullptr: no bias
  int64_t delta_bias_stride;
  const float* initial_state;  // nullptr: zeros
  int64_t initial_seq_stride, initial_dim_stride, initial_state_stride;
  const int32_t* cu_seqlens;  // nullptr: one sequence per batch row; else (num_seqs + 1,)
  int64_t num_seqs;
  void* out;  // nullptr: not written (the backward's checkpoint pass)
  int64_t out_batch_stride, out_dim_stride;
  float* last_state;  // nullptr: not written
  int64_t last_seq_stride, last_dim_stride, last_state_stride;
  // Optional (batch, dim, num_chunks(L), N) contiguous fp32: the running state entering each
  // chunk (a reset at a packed sequence's first token happens inside the chunk), saved for
  // a backward that recomputes the states of one chunk from it. nullptr: not saved.
  float* chunk_states;
  int64_t batch, dim, length;
  int state_size, groups;
  bool softplus;
  // u, delta, z, out, B, C can move kItems elements per lane as one vector: base pointers
  // and batch/dim/group/state strides are multiples of kItems elements, bases aligned.
  bool vectorized;
  DeviceErrorFlag* flag;  // cu_seqlens values out of order or out of range
};

// The backward reads the forward's inputs (fwd: its out and last_state are unused) and the
// chunk checkpoints (fwd.chunk_states, as the forward wrote them), and writes:
// grad_u, grad_delta, grad_z: (batch, dim, L) in u's dtype, contiguous (grad_z iff fwd.z);
// grad_B, grad_C: (batch, G, N, L) fp32, contiguous, zeroed by the caller: channels of a
//   group add into them with atomics (as mamba does; their summation order is not fixed);
// grad_A: (batch, dim, N), grad_D, grad_delta_bias: (batch, dim) fp32 partials, one per
//   batch row, summed over the batch by the caller in a fixed order (deterministic);
// grad_initial_state: (S, dim, N) fp32, contiguous (always written: the caller drops it
//   when there is no initial_state).
// grad_out (batch, dim, L) in u's dtype and grad_last_state (S, dim, N) fp32 are optional.
struct BackwardParams {
  ForwardParams fwd;
  const void* grad_out;
  int64_t grad_out_batch_stride, grad_out_dim_stride;
  const float* grad_last_state;
  int64_t grad_last_seq_stride, grad_last_dim_stride, grad_last_state_stride;
  bool grad_out_vectorized;
  void* grad_u;
  void* grad_delta;
  void* grad_z;
  float* grad_B;
  float* grad_C;
  float* grad_A;
  float* grad_D;
  float* grad_delta_bias;
  float* grad_initial_state;
};

// x, dt, z, y: (batch, heads, head_dim) (a (batch, dim) tensor is heads = dim, head_dim = 1).
// state: (num_states, heads, head_dim, N), row b updates state[state_batch_indices[b]] (or b).
// A: (heads, head_dim, N); D, dt_bias: (heads, head_dim) — per-head values as stride-0 views.
// B, C: (batch, G, N), G dividing heads * head_dim (channel d = h * head_dim + p).
struct DecodeParams {
  void* state;
  int64_t state_batch_stride, state_head_stride, state_dim_stride, state_state_stride;
  int64_t num_states;
  const int32_t* state_batch_indices;  // nullptr: row b updates state[b]
  int64_t state_batch_indices_stride;
  const void* x;
  int64_t x_batch_stride, x_head_stride, x_dim_stride;
  const void* dt;
  int64_t dt_batch_stride, dt_head_stride, dt_dim_stride;
  const void* z;  // nullptr: no gate
  int64_t z_batch_stride, z_head_stride, z_dim_stride;
  const void* B;
  int64_t B_batch_stride, B_group_stride, B_state_stride;
  const void* C;
  int64_t C_batch_stride, C_group_stride, C_state_stride;
  const float* A;
  int64_t A_head_stride, A_dim_stride, A_state_stride;
  const float* D;
  int64_t D_head_stride, D_dim_stride;
  const float* dt_bias;
  int64_t dt_bias_head_stride, dt_bias_dim_stride;
  void* y;
  int64_t y_batch_stride, y_head_stride, y_dim_stride;
  int64_t batch, heads, head_dim;
  int state_size, groups;
  bool softplus;
  DeviceErrorFlag* flag;  // state_batch_indices values past the state's batch
};

// Element types: the activations' (x/u) kind, B/C's (the activations' or fp32), and for the
// decode the state's kind (fp32, or the activations' 16-bit type).
template <ScalarKind kAct, bool kBcFloat32>
void forward_launch(const ForwardParams& p, StreamHandle stream);
template <ScalarKind kAct, bool kBcFloat32>
void backward_launch(const BackwardParams& p, StreamHandle stream);
template <ScalarKind kAct, bool kBcFloat32, ScalarKind kState>
void decode_launch(const DecodeParams& p, StreamHandle stream);

}  // namespace rdm::selective_scan
