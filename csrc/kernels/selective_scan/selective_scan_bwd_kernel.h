// Selective scan (Mamba S6) backward kernel. Same decomposition as the forward (one warp per
// (batch row, channel), chunks of kChunk steps, lane-owned state registers), chunks in
// reverse order. Per chunk and state n it recomputes the chunk's states from the forward's
// checkpoint (the state entering the chunk) with the forward's shuffle scan, then runs the
// adjoint scan backwards in time:
//   λ_t = e_t + μ_{t+1},  e_t = dy_t C_t[n] (+ grad_last_state at a sequence's last token),
//   μ_t = a'_t λ_t       (a'_t = exp(Δ_t A[n]), 0 at a sequence's first token: no gradient
//                         crosses into the previous sequence),
// a map μ -> a'_t (e_t + μ) per step composed within a lane and across lanes by a suffix
// scan with __shfl_down_sync; μ leaving the chunk's first step is carried to the previous
// chunk in registers. With h'_t the state the step starts from (h_{t-1}, or the sequence's
// initial state at its first token):
//   dΔ_t += λ_t (A a_t h'_t + B_t u_t),  dA += λ_t Δ_t a_t h'_t,  du_t += λ_t Δ_t B_t,
//   dB_t += λ_t Δ_t u_t,  dC_t += dy_t h_t,  d initial_state = λ_t a_t at a first token,
// with dy = grad_out · silu(z), dz = grad_out · y · silu'(z), dD += dy u, and the softplus
// and delta_bias chain rule on dΔ. dA, dD and d delta_bias are per-(batch, channel)
// partials (summed over the batch by the caller); dB and dC are shared by the channels of a
// group and added with atomics (staged so that a warp request covers 32 consecutive steps).
//
// Code paths and the tests that reach them (tests/test_selective_scan_kernels.py,
// test_backward_matches_reference and test_backward_varlen): the forward's shapes (one and
// several chunks, tails, N = 1 / 16 / 40, G = 1 / 2), with and without every optional input
// and each of grad_out / grad_last_state absent; packed sequences with empty, length-1 and
// chunk-straddling sequences; softplus on and off.
#pragma once
#include "../common/warp_reduce.h"
#include "selective_scan_fwd_kernel.h"

namespace rdm::selective_scan {

// d softplus(x) / dx with torch's threshold: 1 where softplus is the identity.
__device__ __forceinline__ float softplus_grad(float x) { return x > 20.f ? 1.f : 1.f / (1.f + expf(-x)); }

__device__ __forceinline__ float silu_grad(float x) {
  const float s = 1.f / (1.f + expf(-x));
  return s * (1.f + x * (1.f - s));
}

template <typename T, typename TBC>
__global__ void __launch_bounds__(kWarps * 32, kBackwardMinBlocksPerSm) backward_kernel(BackwardParams bp) {
  const ForwardParams& p = bp.fwd;
  const int lane = threadIdx.x % 32;
  const int64_t d = int64_t(blockIdx.x) * kWarps + threadIdx.x / 32;
  const int64_t b = blockIdx.y;
  __shared__ __align__(16) float stage[kWarps][kChunk];  // per warp: the element-wise path's staging
  if (d >= p.dim) return;  // the whole warp
  const int N = p.state_size;
  const int64_t g = d / (p.dim / p.groups);
  const int64_t chunks = num_chunks(p.length);
  const int64_t L = p.length;

  const T* u = static_cast<const T*>(p.u) + b * p.u_batch_stride + d * p.u_dim_stride;
  const T* delta = static_cast<const T*>(p.delta) + b * p.delta_batch_stride + d * p.delta_dim_stride;
  const TBC* B = static_cast<const TBC*>(p.B) + b * p.B_batch_stride + g * p.B_group_stride;
  const TBC* C = static_cast<const TBC*>(p.C) + b * p.C_batch_stride + g * p.C_group_stride;
  const int64_t row = (b * p.dim + d) * L;  // of the contiguous (batch, dim, L) gradients
  const int64_t bc_row = (b * p.groups + g) * N * L;
  const float bias = p.delta_bias ? load_global(p.delta_bias + d * p.delta_bias_stride) : 0.f;
  const float skip = p.D ? load_global(p.D + d * p.D_stride) : 0.f;
  const float* checkpoints = p.chunk_states + (b * p.dim + d) * chunks * N;
  const auto grad_last = [&](int64_t seq, int n) {
    return bp.grad_last_state ? load_global(bp.grad_last_state + seq * bp.grad_last_seq_stride +
                                            d * bp.grad_last_dim_stride + n * bp.grad_last_state_stride)
                              : 0.f;
  };
  const auto initial = [&](int64_t seq, int n) {
    return p.initial_state ? load_global(p.initial_state + seq * p.initial_seq_stride + d * p.initial_dim_stride +
                                         n * p.initial_state_stride)
                           : 0.f;
  };

  float A_own[kStateRegs], mu_own[kStateRegs], dA_own[kStateRegs];  // n = 32 k + lane
#pragma unroll
  for (int k = 0; k < kStateRegs; ++k) {
    const int n = 32 * k + lane;
    A_own[k] = n < N ? load_global(p.A + d * p.A_dim_stride + n * p.A_state_stride) : 0.f;
    // Without packed sequences the last step's λ takes grad_last_state: it enters as the
    // μ carried in from past the end (steps past L are the identity).
    mu_own[k] = n < N && p.cu_seqlens == nullptr ? grad_last(b, n) : 0.f;
    dA_own[k] = 0.f;
  }

  // Packed sequences without tokens pass grad_last_state straight to their initial state.
  if (p.cu_seqlens != nullptr) {
    const Sequences seqs{p.cu_seqlens, p.num_seqs, L};
    for (int64_t s = 0; s < seqs.count; ++s) {
      if (seqs.bound(s) < seqs.bound(s + 1)) continue;
      for (int n = lane; n < N; n += 32) store_global(bp.grad_initial_state + (s * p.dim + d) * N + n, grad_last(s, n));
    }
  }

  float dD_acc = 0.f, dbias_acc = 0.f;
  for (int64_t c = chunks - 1; c >= 0; --c) {
    const WarpChunk w{stage[threadIdx.x / 32], c * kChunk, p.length, lane, (c + 1) * kChunk <= p.length};
    const int64_t t0 = w.first_step();
    float x[kItems], dt_raw[kItems], dt[kItems], gout[kItems], zv[kItems], dy[kItems];
    load_items(u, w, p.vectorized, x);
    load_items(delta, w, p.vectorized, dt_raw);
#pragma unroll
    for (int i = 0; i < kItems; ++i) dt_raw[i] += bias, dt[i] = p.softplus ? softplus(dt_raw[i]) : dt_raw[i];
    if (bp.grad_out != nullptr)
      load_items(static_cast<const T*>(bp.grad_out) + b * bp.grad_out_batch_stride + d * bp.grad_out_dim_stride, w,
                 bp.grad_out_vectorized, gout);
    else
      for (int i = 0; i < kItems; ++i) gout[i] = 0.f;
    if (p.z != nullptr)
      load_items(static_cast<const T*>(p.z) + b * p.z_batch_stride + d * p.z_dim_stride, w, p.vectorized, zv);
#pragma unroll
    for (int i = 0; i < kItems; ++i) dy[i] = p.z != nullptr ? gout[i] * silu(zv[i]) : gout[i];
    const StepPlace at = place_steps(p, b, t0);

    float y[kItems] = {}, du[kItems] = {}, ddt[kItems] = {};
#pragma unroll
    for (int k = 0; k < kStateRegs; ++k) {
      if (32 * k >= N) break;
      const float h_chunk = 32 * k + lane < N ? load_global(checkpoints + c * N + 32 * k + lane) : 0.f;
      for (int j = 0; j < 32 && 32 * k + j < N; ++j) {
        const int n = 32 * k + j;
        const float A_n = __shfl_sync(0xffffffffu, A_own[k], j);
        const float h_in = __shfl_sync(0xffffffffu, h_chunk, j);
        const float mu_in = __shfl_sync(0xffffffffu, mu_own[k], j);
        float Bv[kItems], Cv[kItems];
        load_items(B + n * p.B_state_stride, w, p.vectorized, Bv);
        load_items(C + n * p.C_state_stride, w, p.vectorized, Cv);

        // Recompute: the forward's maps and scan (see selective_scan_fwd_kernel.h).
        float decay[kItems], a[kItems], bb[kItems], h_start[kItems];
#pragma unroll
        for (int i = 0; i < kItems; ++i) {
          const bool valid = t0 + i < L;
          decay[i] = valid ? expf(dt[i] * A_n) : 1.f;
          a[i] = at.first[i] ? 0.f : decay[i];
          h_start[i] = at.first[i] ? initial(at.seq[i], n) : 0.f;
          bb[i] = valid ? fmaf(decay[i], h_start[i], dt[i] * Bv[i] * x[i]) : 0.f;
        }
        float h = state_before_lane(a, bb, h_in, lane), states[kItems];
#pragma unroll
        for (int i = 0; i < kItems; ++i) {
          if (!at.first[i]) h_start[i] = h;
          h = fmaf(a[i], h, bb[i]);
          states[i] = h;
          y[i] = fmaf(Cv[i], h, y[i]);
        }

        // Adjoint: per step the map μ -> a'_t (e_t + μ); the lane's composition (last step
        // first), then a suffix scan over the lanes (later lanes apply first).
        float e[kItems];
#pragma unroll
        for (int i = 0; i < kItems; ++i) e[i] = dy[i] * Cv[i] + (at.last[i] ? grad_last(at.seq[i], n) : 0.f);
        float lane_ma = 1.f, lane_mb = 0.f;
#pragma unroll
        for (int i = kItems - 1; i >= 0; --i) lane_mb = a[i] * (lane_mb + e[i]), lane_ma *= a[i];
#pragma unroll
        for (int offset = 1; offset < 32; offset *= 2) {
          const float next_a = __shfl_down_sync(0xffffffffu, lane_ma, offset);
          const float next_b = __shfl_down_sync(0xffffffffu, lane_mb, offset);
          if (lane + offset < 32) lane_mb = fmaf(lane_ma, next_b, lane_mb), lane_ma *= next_a;
        }
        float after_a = __shfl_down_sync(0xffffffffu, lane_ma, 1);
        float after_b = __shfl_down_sync(0xffffffffu, lane_mb, 1);
        if (lane == 31) after_a = 1.f, after_b = 0.f;
        float mu = fmaf(after_a, mu_in, after_b), dA_lane = 0.f, dB[kItems], dC[kItems];
#pragma unroll
        for (int i = kItems - 1; i >= 0; --i) {
          const float lambda = e[i] + mu;
          mu = a[i] * lambda;
          dB[i] = lambda * dt[i] * x[i];
          dC[i] = dy[i] * states[i];
          if (t0 + i >= L) continue;
          const float dh_decay = lambda * decay[i] * h_start[i];  // d/d(exp(ΔA)) times exp(ΔA)
          dA_lane = fmaf(dh_decay, dt[i], dA_lane);
          ddt[i] += dh_decay * A_n + lambda * Bv[i] * x[i];
          du[i] = fmaf(lambda * dt[i], Bv[i], du[i]);
          if (at.first[i])
            store_global(bp.grad_initial_state + (at.seq[i] * p.dim + d) * N + n, lambda * decay[i]);
        }
        add_items(bp.grad_B + bc_row + n * L, w, dB);
        add_items(bp.grad_C + bc_row + n * L, w, dC);
        const float mu_out = __shfl_sync(0xffffffffu, mu, 0);  // leaves the chunk's first step
        if (lane == j) mu_own[k] = mu_out;
        float total[1] = {dA_lane};
        warp_sum(total);
        if (lane == j) dA_own[k] += total[0];
      }
    }

    float dz[kItems], ddelta[kItems];
#pragma unroll
    for (int i = 0; i < kItems; ++i) {
      const bool valid = t0 + i < L;
      y[i] = fmaf(skip, x[i], y[i]);
      du[i] = fmaf(dy[i], skip, du[i]);
      dz[i] = p.z != nullptr ? gout[i] * y[i] * silu_grad(zv[i]) : 0.f;
      ddelta[i] = p.softplus ? ddt[i] * softplus_grad(dt_raw[i]) : ddt[i];
      if (valid) dD_acc = fmaf(dy[i], x[i], dD_acc), dbias_acc += ddelta[i];
    }
    store_items(static_cast<T*>(bp.grad_u) + row, w, p.vectorized, du);
    store_items(static_cast<T*>(bp.grad_delta) + row, w, p.vectorized, ddelta);
    if (p.z != nullptr) store_items(static_cast<T*>(bp.grad_z) + row, w, p.vectorized, dz);
  }

#pragma unroll
  for (int k = 0; k < kStateRegs; ++k)
    if (32 * k + lane < N) store_global(bp.grad_A + (b * p.dim + d) * N + 32 * k + lane, dA_own[k]);
  float sums[2] = {dD_acc, dbias_acc};
  warp_sum(sums);
  if (lane == 0) {
    store_global(bp.grad_D + b * p.dim + d, sums[0]);
    store_global(bp.grad_delta_bias + b * p.dim + d, sums[1]);
  }
}

template <typename T, typename TBC>
void launch_backward(const BackwardParams& p, StreamHandle stream) {
  const dim3 grid(unsigned((p.fwd.dim + kWarps - 1) / kWarps), unsigned(p.fwd.batch));
  launch_kernel("selective_scan_backward_kernel", backward_kernel<T, TBC>, grid, dim3(kWarps * 32), 0, stream, p);
}

}  // namespace rdm::selective_scan
