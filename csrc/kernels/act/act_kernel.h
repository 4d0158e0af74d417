// Fused ACT halting-accumulate kernels, forward and backward, one pass over h each.
//
// Per row (position): p = sigmoid(h . w + b); running = cum_p < threshold;
// halt_now = running && (cum_p + p >= threshold || is_last);
// weight = running ? (halt_now ? 1 - cum_p : p) : 0;
// h_acc_out = h_acc + weight * h; cum_p_out = cum_p + weight.
// The forward stores the decision (HaltState, act_params.h); the backward reads it.
//
// Code paths and the tests that reach them (tests/test_act_accumulate.py, emulated; the
// emulation counts 2 SMs, so a backward grid holds at most 8 blocks of tiles 0-2 and 2 of
// tile 3, see backward_blocks()). Shapes are (lead, D) of KERNEL_SHAPES unless named:
//   tile 0 (warp per row, 8/thread, 4 row slots): D = 1, 3 (scalar), 40 (vectorised, every dtype);
//   tile 1 (warp per row, 16/thread, 4 row slots): D = 300 (vectorised, every dtype);
//   tile 2 (128 threads per row, kWarpsPerRow = 4): D = 1000 (vectorised), 999 (scalar);
//   tile 3 (512 threads per row, kWarpsPerRow = 16): D = 5000 (vectorised), 2999 (scalar);
//   scalar path forced by a misaligned pointer or a row stride that is not a whole number
//     of vectors: test_emulated_kernel_unaligned_rows_and_bf16_parameters,
//     test_emulated_kernel_strided_inputs (row stride D + 1);
//   valid = false row slots (rows not a multiple of 4 in tiles 0-1; load_row_scalar's lanes
//     past the last row skip their load): (1, 1) x 1, (2, 3) x 3, (1, 7) x 40, (3, 5) x 300;
//   row_sum with kWarpsPerRow > 1 and the grid-stride loop running more than one row per
//     block (rows > blocks at D > 512): (3, 4) x 1000 (12 rows, 8 blocks), (1, 5) x 2999 and
//     (1, 5) x 5000 (5 rows, 2 blocks); for_each_row looping in a multi-row tile:
//     (4, 9) x 40 (36 rows, 9 row slots > 8 blocks);
//   backward partials, single row slot (tiles 2-3): every tile 2-3 shape; several row
//     slots combined in shared memory (tiles 0-1): every tile 0-1 shape;
//   grad_cum_p_out / grad_weight present and absent: test_emulated_backward_kernel runs
//     each shape with both, without grad_cum_p_out, and without grad_weight;
//   the exact tie cum_p + p == threshold (halts): test_exact_threshold_tie_halts;
//   every HaltState in the backward: each backward case has running, halting and halted rows.
// column_sum (kernels/reduce) runs after every backward; with D + 1 > 16 x its blocks,
// its blocks loop over more than one column group.
#pragma once
#include "../common/dispatch.h"
#include "../common/vec_io.h"
#include "../common/warp_reduce.h"
#include "../portable.h"
#include "act_params.h"

namespace rdm::act {

__device__ __forceinline__ float halting_probability(float logit) { return 1.f / (1.f + __expf(-logit)); }

// `>=`: a position exactly on the threshold halts (tests pin the tie).
__device__ __forceinline__ HaltState halting_decision(float p, float cum_p, float threshold, bool is_last) {
  if (!(cum_p < threshold)) return HaltState::kHalted;
  return (cum_p + p >= threshold || is_last) ? HaltState::kHaltsNow : HaltState::kRunning;
}

__device__ __forceinline__ float step_weight(HaltState state, float p, float cum_p) {
  return state == HaltState::kHaltsNow ? 1.f - cum_p : state == HaltState::kRunning ? p : 0.f;
}

// Compile-time view of one kTileShapes entry with a vector width: kVec = kVectorElements
// (act_params.h) or 1.
template <int kTile, int kVec_>
struct Tile {
  static constexpr TileShape kShape = kTileShapes[kTile];
  static constexpr int kThreadsPerRow = kShape.threads_per_row;
  static constexpr int kVec = kVec_;
  static constexpr int kVecsPerThread = kShape.elements_per_thread / kVec;
  static_assert(kShape.elements_per_thread % kVec == 0, "a thread holds whole vectors");
  static constexpr int kBlockThreads = block_threads(kShape);
  static constexpr int kRowsPerBlock = rows_per_block(kShape);
  static constexpr int kMinBlocksPerSm = min_blocks_per_sm(kShape);
  static constexpr int kWarpsPerRow = kThreadsPerRow / 32;
  static_assert(kThreadsPerRow % 32 == 0, "a row is owned by whole warps");

  // Column of the first element of this thread's i-th vector (vectors interleave across
  // the row's threads so that consecutive threads touch consecutive vectors: 16 bytes of
  // every fp32 tensor, 16 or 8 bytes of h, so every warp request is fully coalesced).
  static __device__ __forceinline__ int column(int i, int thread_in_row) {
    return (i * kThreadsPerRow + thread_in_row) * kVec;
  }
};

// Sums N values over the threads of a row; every thread of the row gets the totals.
// All threads of the block must call it (it may contain barriers).
template <class TileT, int N>
__device__ __forceinline__ void row_sum(float (&v)[N], int row_in_block) {
  warp_sum(v);
  if constexpr (TileT::kWarpsPerRow > 1) {
    __shared__ float warp_totals[TileT::kBlockThreads / 32][N];
    const int warp = threadIdx.x / 32;
    if (threadIdx.x % 32 == 0) {
#pragma unroll
      for (int n = 0; n < N; ++n) store_shared(&warp_totals[warp][n], v[n]);
    }
    __syncthreads();
#pragma unroll
    for (int n = 0; n < N; ++n) {
      float total = 0.f;
#pragma unroll
      for (int w = 0; w < TileT::kWarpsPerRow; ++w)
        total += load_shared(&warp_totals[row_in_block * TileT::kWarpsPerRow + w][n]);
      v[n] = total;
    }
    __syncthreads();  // warp_totals is rewritten for the next row
  }
}

// Calls body(row, valid) for each row this thread's row slot owns, striding over the grid.
// The trip count is uniform across the block, so every thread reaches every barrier that
// body contains; `valid` is false past the last row (such threads only join barriers).
template <class TileT, class Body>
__device__ __forceinline__ void for_each_row(int64_t rows, Body&& body) {
  const int row_in_block = threadIdx.x / TileT::kThreadsPerRow;
  for (int64_t base = int64_t(blockIdx.x) * TileT::kRowsPerBlock; base < rows;
       base += int64_t(gridDim.x) * TileT::kRowsPerBlock)
    body(base + row_in_block, base + row_in_block < rows);
}

// Loads this thread's slice of a row (zeros past the end of the row).
template <class TileT, typename T>
__device__ __forceinline__ void load_row_slice(const T* row, int dim, int thread_in_row, bool valid,
                                               float (&x)[TileT::kVecsPerThread][TileT::kVec]) {
#pragma unroll
  for (int i = 0; i < TileT::kVecsPerThread; ++i) {
    const int col = TileT::column(i, thread_in_row);
    if (valid && col < dim) {
      load_floats<TileT::kVec>(row + col, x[i]);
    } else {
#pragma unroll
      for (int e = 0; e < TileT::kVec; ++e) x[i][e] = 0.f;
    }
  }
}

// This thread's row's element of a per-row tensor (cum_p, the halting decisions, ...): x[row *
// stride]. In warp-per-row tiles lane j of each warp loads the element of the block's row slot
// j, so one request carries the block's rows (16 bytes of fp32 in one sector when the tensor
// is contiguous) instead of 4 bytes in a sector of its own, and a shuffle hands each warp
// its row's value. Every lane of a warp whose row is valid calls it (rows past the end are
// not read).
template <class TileT, typename T>
__device__ __forceinline__ T load_row_scalar(const T* x, int64_t stride, int64_t row, int64_t rows) {
  if constexpr (TileT::kRowsPerBlock == 1) {
    return load_global(x + row * stride);
  } else {
    static_assert(TileT::kRowsPerBlock <= 32, "a lane per row slot");
    const int slot = threadIdx.x / TileT::kThreadsPerRow, lane = threadIdx.x % 32;
    const int64_t lane_row = row - slot + lane;
    T value{};
    if (lane < TileT::kRowsPerBlock && lane_row < rows) value = load_global(x + lane_row * stride);
    if constexpr (sizeof(T) == 4) {
      return __shfl_sync(0xffffffffu, value, slot);
    } else {
      return static_cast<T>(__shfl_sync(0xffffffffu, static_cast<unsigned>(value), slot));
    }
  }
}

// N consecutive floats of shared memory in one access (a 16-byte vector for N = 4).
template <int N>
__device__ __forceinline__ void load_shared_floats(const float* src, float (&v)[N]) {
  if constexpr (N == 4) {
    const float4 q = load_shared(reinterpret_cast<const float4*>(src));
    v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
  } else {
    static_assert(N == 1, "a vector of 4 floats or one float");
    v[0] = load_shared(src);
  }
}
template <int N>
__device__ __forceinline__ void store_shared_floats(float* dst, const float (&v)[N]) {
  if constexpr (N == 4) {
    store_shared(reinterpret_cast<float4*>(dst), make_float4(v[0], v[1], v[2], v[3]));
  } else {
    static_assert(N == 1, "a vector of 4 floats or one float");
    store_shared(dst, v[0]);
  }
}

template <class TileT, int N>
__device__ __forceinline__ float dot_slice(const float (&a)[TileT::kVecsPerThread][N],
                                           const float (&b)[TileT::kVecsPerThread][N]) {
  float s = 0.f;
#pragma unroll
  for (int i = 0; i < TileT::kVecsPerThread; ++i)
#pragma unroll
    for (int e = 0; e < N; ++e) s = fmaf(a[i][e], b[i][e], s);
  return s;
}

// __launch_bounds__ names the resident blocks per SM that the host's grid sizing assumes
// (min_blocks_per_sm: a 128-register budget). Without a minimum, ptxas (CUDA 13) picked a
// 32-register budget for the warp-per-row 16-bit tile and spilled.
template <typename T, class TileT>
__global__ void __launch_bounds__(TileT::kBlockThreads, TileT::kMinBlocksPerSm) forward_kernel(ForwardParams p) {
  constexpr int kVecs = TileT::kVecsPerThread, kVec = TileT::kVec;
  const int row_in_block = threadIdx.x / TileT::kThreadsPerRow;
  const int t = threadIdx.x % TileT::kThreadsPerRow;
  const T* h = static_cast<const T*>(p.h);
  const float bias = load_global(p.halt_bias);

  float w[kVecs][kVec];  // this thread's columns are the same for every row
  load_row_slice<TileT>(p.halt_weight, p.dim, t, true, w);

  for_each_row<TileT>(p.rows, [&](int64_t row, bool valid) {
    float x[kVecs][kVec];
    load_row_slice<TileT>(h + row * p.h_row_stride, p.dim, t, valid, x);
    float dot[1] = {dot_slice<TileT>(x, w)};
    row_sum<TileT>(dot, row_in_block);
    if (!valid) return;

    const float cum = load_row_scalar<TileT>(p.cum_p, p.cum_p_stride, row, p.rows);
    const float prob = halting_probability(dot[0] + bias);
    const HaltState state = halting_decision(prob, cum, p.threshold, p.is_last);
    const float weight = step_weight(state, prob, cum);
    if (t == 0) {
      store_global(p.cum_p_out + row * p.cum_p_out_stride, cum + weight);
      store_global(p.weight + row * p.weight_stride, weight);
      store_global(p.halt_state + row * p.halt_state_stride, static_cast<uint8_t>(state));
    }
    const float* acc_row = p.h_acc + row * p.h_acc_row_stride;
    float* out_row = p.h_acc_out + row * p.h_acc_out_row_stride;
#pragma unroll
    for (int i = 0; i < kVecs; ++i) {
      const int col = TileT::column(i, t);
      if (col >= p.dim) continue;
      float acc[kVec];
      load_floats<kVec>(acc_row + col, acc);
#pragma unroll
      for (int e = 0; e < kVec; ++e) acc[e] = fmaf(weight, x[i][e], acc[e]);
      store_floats<kVec>(out_row + col, acc);
    }
  });
}

// The saved decision; values other than the three states read as kHalted (weight 0).
__device__ __forceinline__ HaltState to_halt_state(uint8_t raw) {
  return raw == uint8_t(HaltState::kRunning)    ? HaltState::kRunning
         : raw == uint8_t(HaltState::kHaltsNow) ? HaltState::kHaltsNow
                                                : HaltState::kHalted;
}

// Gradients per row, with dW the total gradient reaching the weight
// (dW = grad_h_acc_out . h + grad_cum_p_out + grad_weight), given the forward's decision:
//   grad_h     = weight * grad_h_acc_out + dlogit * w,  dlogit = dW * p * (1 - p) while
//                running on (weight = p), 0 otherwise (weight constant or 1 - cum_p);
//   grad_cum_p = grad_cum_p_out - (halts now ? dW : 0)   (the remainder 1 - cum_p);
//   grad_w += dlogit * h, grad_b += dlogit, accumulated per thread over its rows.
template <typename T, class TileT>
__global__ void __launch_bounds__(TileT::kBlockThreads, TileT::kMinBlocksPerSm) backward_kernel(BackwardParams p) {
  constexpr int kVecs = TileT::kVecsPerThread, kVec = TileT::kVec;
  const int row_in_block = threadIdx.x / TileT::kThreadsPerRow;
  const int t = threadIdx.x % TileT::kThreadsPerRow;
  const T* h = static_cast<const T*>(p.h);
  T* grad_h = static_cast<T*>(p.grad_h);
  const float bias = load_global(p.halt_bias);

  float w[kVecs][kVec];
  load_row_slice<TileT>(p.halt_weight, p.dim, t, true, w);
  float grad_w[kVecs][kVec] = {};
  float grad_b = 0.f;

  for_each_row<TileT>(p.rows, [&](int64_t row, bool valid) {
    float x[kVecs][kVec], g[kVecs][kVec];
    load_row_slice<TileT>(h + row * p.h_row_stride, p.dim, t, valid, x);
    load_row_slice<TileT>(p.grad_h_acc_out + row * p.grad_h_acc_out_row_stride, p.dim, t, valid, g);
    float sums[2] = {dot_slice<TileT>(x, w), dot_slice<TileT>(g, x)};
    row_sum<TileT>(sums, row_in_block);
    if (!valid) return;

    const float cum = load_row_scalar<TileT>(p.cum_p, p.cum_p_stride, row, p.rows);
    const HaltState state = to_halt_state(load_row_scalar<TileT>(p.halt_state, p.halt_state_stride, row, p.rows));
    const float prob = halting_probability(sums[0] + bias);
    const float weight = step_weight(state, prob, cum);
    const float grad_cum_out =
        p.grad_cum_p_out ? load_row_scalar<TileT>(p.grad_cum_p_out, p.grad_cum_p_out_stride, row, p.rows) : 0.f;
    const float grad_weight_out =
        p.grad_weight ? load_row_scalar<TileT>(p.grad_weight, p.grad_weight_stride, row, p.rows) : 0.f;
    const float d_weight = sums[1] + grad_cum_out + grad_weight_out;
    const float dlogit = state == HaltState::kRunning ? d_weight * prob * (1.f - prob) : 0.f;
    if (t == 0) {
      store_global(p.grad_cum_p + row * p.grad_cum_p_stride,
                   state == HaltState::kHaltsNow ? grad_cum_out - d_weight : grad_cum_out);
      grad_b += dlogit;
    }
    T* grad_row = grad_h + row * p.grad_h_row_stride;
#pragma unroll
    for (int i = 0; i < kVecs; ++i) {
      const int col = TileT::column(i, t);
      if (col >= p.dim) continue;
      float gh[kVec];
#pragma unroll
      for (int e = 0; e < kVec; ++e) {
        gh[e] = fmaf(weight, g[i][e], dlogit * w[i][e]);
        grad_w[i][e] = fmaf(dlogit, x[i][e], grad_w[i][e]);
      }
      store_floats<kVec>(grad_row + col, gh);
    }
  });

  // Combine the block's row slots in a fixed order, then write the block's partial row.
  float* partial = p.partials + int64_t(blockIdx.x) * p.partials_row_stride;
  if constexpr (TileT::kRowsPerBlock == 1) {
#pragma unroll
    for (int i = 0; i < kVecs; ++i) {
      const int col = TileT::column(i, t);
      if (col < p.dim) store_floats<kVec>(partial + col, grad_w[i]);
    }
    if (t == 0) store_global(partial + p.dim, grad_b);
  } else {
    // One vector per lane and access: consecutive lanes fill whole rows of the 32 banks.
    RDM_DYNAMIC_SHARED(float, block_sum);  // (dim + 1,)
    for (int slot = 0; slot < TileT::kRowsPerBlock; ++slot) {
      if (row_in_block == slot) {
#pragma unroll
        for (int i = 0; i < kVecs; ++i) {
          const int col = TileT::column(i, t);
          if (col >= p.dim) continue;
          float sum[kVec];
          if (slot == 0) {
#pragma unroll
            for (int e = 0; e < kVec; ++e) sum[e] = grad_w[i][e];
          } else {
            load_shared_floats(block_sum + col, sum);
#pragma unroll
            for (int e = 0; e < kVec; ++e) sum[e] += grad_w[i][e];
          }
          store_shared_floats(block_sum + col, sum);
        }
        if (t == 0) store_shared(block_sum + p.dim, (slot == 0 ? 0.f : load_shared(block_sum + p.dim)) + grad_b);
      }
      __syncthreads();
    }
    // dim is a whole number of vectors; the bias gradient follows it.
    for (int col = threadIdx.x * kVec; col < p.dim; col += TileT::kBlockThreads * kVec) {
      float sum[kVec];
      load_shared_floats(block_sum + col, sum);
      store_floats<kVec>(partial + col, sum);
    }
    if (threadIdx.x == 0) store_global(partial + p.dim, load_shared(block_sum + p.dim));
  }
}

// Host side: pick the tile for the row length (checked on the host before launch) and the
// vector width, instantiate, launch.
template <template <typename, class> class KernelLauncher, typename T, typename Params>
void dispatch_tile(ScalarKind, const Params& p, StreamHandle stream) {
  dispatch_value<0, 1, 2, 3>(tile_index(p.dim), "rdm::act: row tile", [&](auto tile) {
    static_assert(kNumTiles == 4, "dispatch every tile");
    dispatch_bool(p.vectorized, [&](auto vectorized) {
      constexpr int kVec = decltype(vectorized)::value ? kVectorElements : 1;
      KernelLauncher<T, Tile<decltype(tile)::value, kVec>>::launch(p, stream);
    });
  });
}

template <typename T, class TileT>
struct ForwardLauncher {
  static void launch(const ForwardParams& p, StreamHandle stream) {
    const int64_t blocks = (p.rows + TileT::kRowsPerBlock - 1) / TileT::kRowsPerBlock;
    const unsigned grid = unsigned(blocks < 0x7fffffff ? blocks : 0x7fffffff);
    launch_kernel("act_forward_kernel", forward_kernel<T, TileT>, dim3(grid), dim3(TileT::kBlockThreads), 0, stream, p);
  }
};

// p.num_blocks comes from backward_blocks() on the host, which also sized p.partials.
template <typename T, class TileT>
struct BackwardLauncher {
  static void launch(const BackwardParams& p, StreamHandle stream) {
    const size_t smem = TileT::kRowsPerBlock > 1 ? size_t(p.dim + 1) * sizeof(float) : 0;
    launch_kernel("act_backward_kernel", backward_kernel<T, TileT>, dim3(p.num_blocks), dim3(TileT::kBlockThreads),
                  smem, stream, p);
  }
};

}  // namespace rdm::act

// One instantiation per generated .cu file (csrc/kernels/instantiations.json lists them):
// RDM_ACT_INSTANTIATE(forward|backward, ScalarKind enumerator, element type).
#define RDM_ACT_INSTANTIATE(direction, Kind, T) RDM_ACT_INSTANTIATE_##direction(Kind, T)
#define RDM_ACT_INSTANTIATE_forward(Kind, T) \
  RDM_ACT_INSTANTIATE_LAUNCH(forward, ForwardParams, ForwardLauncher, Kind, T)
#define RDM_ACT_INSTANTIATE_backward(Kind, T) \
  RDM_ACT_INSTANTIATE_LAUNCH(backward, BackwardParams, BackwardLauncher, Kind, T)
#define RDM_ACT_INSTANTIATE_LAUNCH(direction, Params, Launcher, Kind, T)                             \
  template <>                                                                                    \
  void rdm::act::direction##_launch<rdm::ScalarKind::Kind>(const rdm::act::Params& p,            \
                                                           rdm::StreamHandle stream) {           \
    rdm::act::dispatch_tile<rdm::act::Launcher, T>(rdm::ScalarKind::Kind, p, stream);             \
  }
