// Selective scan (Mamba S6) forward kernel, after mamba's hardware-aware scan:
//   Δ_t = softplus?(delta_t + delta_bias);  h_t[n] = exp(Δ_t A[n]) h_{t-1}[n] + Δ_t B_t[n] u_t
//   y_t = Σ_n C_t[n] h_t[n] + D u_t;  out_t = y_t · silu(z_t).
//
// One warp per (batch row, channel), kWarps channels per block. Time runs in chunks of
// kChunk = 32 lanes x kItems steps, lane l owning steps l·kItems .. l·kItems + kItems - 1 of
// the chunk (one vector load per tensor). Per state n the step is the affine map
// h -> a_t h + b_t; a lane composes its kItems maps, a 5-step shuffle scan composes the
// lanes' maps (an inclusive scan over (a, b) pairs), and the exclusive prefix applied to
// the state carried in from the previous chunk gives each lane its starting state; the state
// after the chunk comes from lane 31. The running state and A stay in registers: lane l holds
// n = 32 k + l for k < kStateRegs, broadcast by a shuffle when the warp works on n. Shared
// memory holds only each warp's staging buffer for element-wise loads (kChunk floats), so
// any L runs in the same footprint.
//
// Packed sequences (cu_seqlens): the first token of a sequence is a reset, the map
// h -> 0·h + (exp(Δ A) h0[n] + Δ B u) with h0 its sequence's initial state, so one scan
// runs straight through all sequences and chunk boundaries need not align with them. The
// token that ends a sequence writes its last state. cu_seqlens values are clamped to
// [0, L] before use (never an out-of-bounds access) and checked by block (0, 0), which
// reports the first bad one through the device error flag.
//
// Code paths and the tests that reach them (tests/test_selective_scan_kernels.py):
//   vector loads (rows aligned, L % kItems == 0, chunk within L): L = 260 (chunks 0 and 1);
//   staged element-wise loads through shared memory (a chunk reaching past L, or unaligned
//     rows): L = 1, 9, 130, 300 (rows of L elements are not 16-byte aligned), chunk 2 of
//     L = 260; unaligned strides: test_forward_unaligned_and_strided (row stride L + 1);
//   several chunks with the carry between them: L = 130, 300; one chunk: L = 1, 9;
//   N > 32 (k loop, second register of state): N = 40; N <= 32: N = 1, 16;
//   G = 1 and G > 1 (group of a channel): test_forward_matches_reference[..G2..];
//   B/C in fp32 with 16-bit u: test_forward_fp32_bc;
//   D, z, delta_bias, softplus, initial_state present/absent: test_forward_optional_inputs;
//   cu_seqlens: resets mid-chunk, a length-1 sequence, an empty sequence (first, middle,
//   last), a sequence straddling a chunk boundary: test_forward_varlen;
//   bad cu_seqlens reported, no out-of-bounds: test_forward_bad_cu_seqlens_reported;
//   partial last block (dim % kWarps != 0): dim = 6.
#pragma once
#include <type_traits>

#include "../common/device_error.h"
#include "selective_scan_common.h"

namespace rdm::selective_scan {

// The bounds of the packed sequences, clamped to [0, L]; without cu_seqlens one sequence.
struct Sequences {
  const int32_t* cu;
  int64_t count, length;

  __device__ __forceinline__ int64_t bound(int64_t s) const {
    const int64_t v = load_global(cu + s);
    return v < 0 ? 0 : v > length ? length : v;
  }
  // The last sequence starting at or before t (clamped into [0, count)).
  __device__ __forceinline__ int64_t containing(int64_t t) const {
    int64_t lo = 0, hi = count - 1;
    while (lo < hi) {
      const int64_t mid = (lo + hi + 1) / 2;
      if (bound(mid) <= t) lo = mid; else hi = mid - 1;
    }
    return lo;
  }
};

// Lanes of warp 0 of block (0, 0) check every value: 0 first, L last, non-decreasing.
__device__ __forceinline__ void check_cu_seqlens(const ForwardParams& p, int lane) {
  for (int64_t s = lane; s <= p.num_seqs; s += 32) {
    const int64_t v = load_global(p.cu_seqlens + s);
    const bool bad = v < 0 || v > p.length || (s == 0 && v != 0) || (s == p.num_seqs && v != p.length) ||
                     (s > 0 && v < int64_t(load_global(p.cu_seqlens + s - 1)));
    if (bad) report_device_error(p.flag, DeviceError::kCuSeqlensOutOfOrder, s, v);
  }
}

// Where each of the lane's time steps stands in its sequence.
struct StepPlace {
  int64_t seq[kItems];  // index into initial_state / last_state
  bool first[kItems];   // resets to the sequence's initial state
  bool last[kItems];    // writes the sequence's last state (packed sequences only)
};

__device__ __forceinline__ StepPlace place_steps(const ForwardParams& p, int64_t batch, int64_t t0) {
  StepPlace at;
  if (p.cu_seqlens == nullptr) {
#pragma unroll
    for (int i = 0; i < kItems; ++i) at.seq[i] = batch, at.first[i] = t0 + i == 0, at.last[i] = false;
    return at;
  }
  const Sequences seqs{p.cu_seqlens, p.num_seqs, p.length};
  int64_t s = seqs.containing(t0);
#pragma unroll
  for (int i = 0; i < kItems; ++i) {
    const int64_t t = t0 + i;
    while (s + 1 < seqs.count && seqs.bound(s + 1) <= t) ++s;
    const bool valid = t < p.length;
    at.seq[i] = s;
    at.first[i] = valid && seqs.bound(s) == t;
    at.last[i] = valid && seqs.bound(s + 1) - 1 == t;
  }
  return at;
}

template <typename T, typename TBC>
__global__ void __launch_bounds__(kWarps * 32, kMinBlocksPerSm) forward_kernel(ForwardParams p) {
  const int lane = threadIdx.x % 32;
  const int64_t d = int64_t(blockIdx.x) * kWarps + threadIdx.x / 32;
  const int64_t b = blockIdx.y;
  if (p.cu_seqlens != nullptr && blockIdx.x == 0 && blockIdx.y == 0 && threadIdx.x < 32) check_cu_seqlens(p, lane);
  __shared__ __align__(16) float stage[kWarps][kChunk];  // per warp: the element-wise path's staging
  if (d >= p.dim) return;  // the whole warp: idle channel slot of the last block
  const int N = p.state_size;
  const int64_t g = d / (p.dim / p.groups);
  const int64_t chunks = num_chunks(p.length);

  const T* u = static_cast<const T*>(p.u) + b * p.u_batch_stride + d * p.u_dim_stride;
  const T* delta = static_cast<const T*>(p.delta) + b * p.delta_batch_stride + d * p.delta_dim_stride;
  const TBC* B = static_cast<const TBC*>(p.B) + b * p.B_batch_stride + g * p.B_group_stride;
  const TBC* C = static_cast<const TBC*>(p.C) + b * p.C_batch_stride + g * p.C_group_stride;
  T* out = static_cast<T*>(p.out) + (p.out ? b * p.out_batch_stride + d * p.out_dim_stride : 0);
  const float bias = p.delta_bias ? load_global(p.delta_bias + d * p.delta_bias_stride) : 0.f;
  const float skip = p.D ? load_global(p.D + d * p.D_stride) : 0.f;

  float A_own[kStateRegs], h_own[kStateRegs];  // n = 32 k + lane
#pragma unroll
  for (int k = 0; k < kStateRegs; ++k) {
    const int n = 32 * k + lane;
    A_own[k] = n < N ? load_global(p.A + d * p.A_dim_stride + n * p.A_state_stride) : 0.f;
    h_own[k] = 0.f;  // the first token of every sequence resets, so the start value is unused
  }

  // Packed sequences without tokens: their last state is their initial state.
  if (p.cu_seqlens != nullptr && p.last_state != nullptr) {
    const Sequences seqs{p.cu_seqlens, p.num_seqs, p.length};
    for (int64_t s = 0; s < seqs.count; ++s) {
      if (seqs.bound(s) < seqs.bound(s + 1)) continue;
      for (int n = lane; n < N; n += 32) {
        const float h0 = p.initial_state ? load_global(p.initial_state + s * p.initial_seq_stride +
                                                       d * p.initial_dim_stride + n * p.initial_state_stride)
                                         : 0.f;
        store_global(p.last_state + s * p.last_seq_stride + d * p.last_dim_stride + n * p.last_state_stride, h0);
      }
    }
  }

  for (int64_t c = 0; c < chunks; ++c) {
    const WarpChunk w{stage[threadIdx.x / 32], c * kChunk, p.length, lane, (c + 1) * kChunk <= p.length};
    const int64_t t0 = w.first_step();
    if (p.chunk_states != nullptr) {
      float* saved = p.chunk_states + ((b * p.dim + d) * chunks + c) * N;
#pragma unroll
      for (int k = 0; k < kStateRegs; ++k)
        if (32 * k + lane < N) store_global(saved + 32 * k + lane, h_own[k]);
    }
    float x[kItems], dt[kItems], y[kItems] = {};
    load_items(u, w, p.vectorized, x);
    load_items(delta, w, p.vectorized, dt);
#pragma unroll
    for (int i = 0; i < kItems; ++i) dt[i] = discretise(dt[i], bias, p.softplus);
    const StepPlace at = place_steps(p, b, t0);

#pragma unroll
    for (int k = 0; k < kStateRegs; ++k) {
      if (32 * k >= N) break;
      for (int j = 0; j < 32 && 32 * k + j < N; ++j) {
        const int n = 32 * k + j;
        const float A_n = __shfl_sync(0xffffffffu, A_own[k], j);
        const float h_in = __shfl_sync(0xffffffffu, h_own[k], j);
        float Bv[kItems], Cv[kItems];
        load_items(B + n * p.B_state_stride, w, p.vectorized, Bv);
        load_items(C + n * p.C_state_stride, w, p.vectorized, Cv);

        // Each step's map (steps past L: the identity), then the lane's composition.
        float a[kItems], bb[kItems];
#pragma unroll
        for (int i = 0; i < kItems; ++i) {
          const bool valid = t0 + i < p.length;
          a[i] = valid ? expf(dt[i] * A_n) : 1.f;
          bb[i] = valid ? dt[i] * Bv[i] * x[i] : 0.f;
          if (at.first[i]) {
            const float h0 = p.initial_state ? load_global(p.initial_state + at.seq[i] * p.initial_seq_stride +
                                                           d * p.initial_dim_stride + n * p.initial_state_stride)
                                             : 0.f;
            bb[i] = fmaf(a[i], h0, bb[i]);
            a[i] = 0.f;
          }
        }
        float h = state_before_lane(a, bb, h_in, lane);
#pragma unroll
        for (int i = 0; i < kItems; ++i) {
          h = fmaf(a[i], h, bb[i]);
          y[i] = fmaf(Cv[i], h, y[i]);
          if (at.last[i] && p.last_state != nullptr)
            store_global(p.last_state + at.seq[i] * p.last_seq_stride + d * p.last_dim_stride +
                             n * p.last_state_stride, h);
        }
        const float h_out = __shfl_sync(0xffffffffu, h, 31);  // the state after the chunk
        if (lane == j) h_own[k] = h_out;
      }
    }

    if (p.out == nullptr) continue;  // the backward's checkpoint pass
#pragma unroll
    for (int i = 0; i < kItems; ++i) y[i] = fmaf(skip, x[i], y[i]);
    if (p.z != nullptr) {
      float gate[kItems];
      load_items(static_cast<const T*>(p.z) + b * p.z_batch_stride + d * p.z_dim_stride, w, p.vectorized, gate);
#pragma unroll
      for (int i = 0; i < kItems; ++i) y[i] *= silu(gate[i]);
    }
    store_items(out, w, p.vectorized, y);
  }

  if (p.cu_seqlens == nullptr && p.last_state != nullptr) {  // one sequence per row: the carry
#pragma unroll
    for (int k = 0; k < kStateRegs; ++k)
      if (32 * k + lane < N)
        store_global(p.last_state + b * p.last_seq_stride + d * p.last_dim_stride +
                         (32 * k + lane) * p.last_state_stride, h_own[k]);
  }
}

template <typename T, typename TBC>
void launch_forward(const ForwardParams& p, StreamHandle stream) {
  const dim3 grid(unsigned((p.dim + kWarps - 1) / kWarps), unsigned(p.batch));
  launch_kernel("selective_scan_forward_kernel", forward_kernel<T, TBC>, grid, dim3(kWarps * 32), 0, stream, p);
}

}  // namespace rdm::selective_scan
