// Parameters of the fused ACT halting-accumulate kernels (see rdm.ops.act_accumulate).
// Plain pointers, sizes and strides only: shared by the launchers (.cu) and registration (.cpp).
#pragma once
#include <cstdint>

#include "../host_types.h"

namespace rdm::act {

// The forward's halting decision per position, saved for the backward so that it never
// recomputes a comparison that could come out the other way in another precision.
// Stored as uint8; the backward treats any other value as kHalted (weight 0).
enum class HaltState : uint8_t {
  kHalted = 0,    // cum_p >= threshold already: weight 0
  kRunning = 1,   // keeps running: weight p
  kHaltsNow = 2,  // halts at this step (cum_p + p >= threshold, or is_last): weight 1 - cum_p
};

// Layout: every (rows, dim) tensor has contiguous rows (innermost stride 1) `*_row_stride`
// elements apart; every per-position (rows,) tensor has its elements `*_stride` apart.
// h is in its own dtype; every other tensor is fp32 but the uint8 halt_state.
// halt_weight (dim,) and halt_bias (1,) are contiguous.
struct ForwardParams {
  const void* h;
  int64_t h_row_stride;
  const float* halt_weight;
  const float* halt_bias;
  const float* h_acc;
  int64_t h_acc_row_stride;
  const float* cum_p;
  int64_t cum_p_stride;
  float* h_acc_out;
  int64_t h_acc_out_row_stride;
  float* cum_p_out;
  int64_t cum_p_out_stride;
  float* weight;
  int64_t weight_stride;
  uint8_t* halt_state;  // HaltState per position
  int64_t halt_state_stride;
  int64_t rows;
  int dim;
  float threshold;
  bool is_last;
  // Vectors of kVectorElements: dim % kVectorElements == 0, every (rows, dim) pointer and
  // row stride aligned to the vector's bytes (16 for fp32, 8 for 16-bit h).
  bool vectorized;
};

struct BackwardParams {
  const void* h;
  int64_t h_row_stride;
  const float* halt_weight;
  const float* halt_bias;
  const float* cum_p;
  int64_t cum_p_stride;
  const uint8_t* halt_state;  // the forward's decisions
  int64_t halt_state_stride;
  const float* grad_h_acc_out;
  int64_t grad_h_acc_out_row_stride;
  const float* grad_cum_p_out;  // nullptr when no gradient flows into it
  int64_t grad_cum_p_out_stride;
  const float* grad_weight;  // nullptr when no gradient flows into it
  int64_t grad_weight_stride;
  void* grad_h;  // in h's dtype
  int64_t grad_h_row_stride;
  float* grad_cum_p;
  int64_t grad_cum_p_stride;
  // One contiguous row of per-block partial sums per block: columns [0, dim) hold
  // d halt_weight, column dim holds d halt_bias. Summed over blocks afterwards in a fixed
  // order, so the result is deterministic (no atomics).
  float* partials;  // (num_blocks, dim + 1), rows partials_row_stride apart
  int64_t partials_row_stride;  // partials_row_stride(dim): rows start on a 32-byte sector
  int num_blocks;   // the grid: backward_blocks()
  int64_t rows;
  int dim;
  bool vectorized;  // as in ForwardParams
};

// Row tiles: threads_per_row threads own one row of h at a time, each caching
// elements_per_thread elements in registers (as vectors of kVectorElements when vectorized), so h is
// read once per kernel: the halting dot product must be complete before the accumulation
// can start. 16 elements per thread keep the backward's four per-thread arrays (h, its
// gradient, halt_weight and the halt_weight gradient) within 128 registers without spills.
// Narrowest first; a row takes the first tile that covers it. Warp-per-row tiles put 4
// rows in a 128-thread block.
struct TileShape {
  int threads_per_row;
  int elements_per_thread;
};
inline constexpr TileShape kTileShapes[] = {{32, 8}, {32, 16}, {128, 16}, {512, 16}};
inline constexpr int kNumTiles = 4;

constexpr int block_threads(TileShape s) { return s.threads_per_row < 128 ? 128 : s.threads_per_row; }
constexpr int rows_per_block(TileShape s) { return block_threads(s) / s.threads_per_row; }
constexpr int64_t tile_elements(TileShape s) { return int64_t(s.threads_per_row) * s.elements_per_thread; }

// Blocks of a tile that every SM holds at once: the kernels' __launch_bounds__ ask for
// this many, which caps them at 128 registers per thread (64K registers per SM on sm_80
// and sm_90), so the host can size grids from it without an occupancy query.
constexpr int min_blocks_per_sm(TileShape s) { return 65536 / (128 * block_threads(s)); }

// The backward's grid: one block per row slot while that fills the GPU, else one full
// wave (sms x resident blocks) whose blocks stride over the rows. A grid-stride loop
// instead of more waves keeps the per-block partials (and their column sum) small.
constexpr int64_t backward_blocks(TileShape s, int64_t rows, int sms) {
  const int64_t row_blocks = (rows + rows_per_block(s) - 1) / rows_per_block(s);
  const int64_t wave = int64_t(sms) * min_blocks_per_sm(s);
  return row_blocks < wave ? row_blocks : wave;
}

// Elements per vector of the vectorised kernels: one 16-byte vector of the fp32 tensors
// (h_acc, the gradients, halt_weight), with h in its dtype (16 bytes of fp32, 8 of fp16 or
// bf16). Sizing vectors by the fp32 tensors keeps every warp request fully coalesced: with
// 16-byte vectors of 16-bit h, a lane would move 32 bytes of each fp32 tensor per vector,
// two 16-byte accesses whose warp requests each span twice the sectors they use.
inline constexpr int kVectorElements = 4;

// Elements between rows of the backward's partials: dim + 1 rounded up to a 32-byte sector,
// so that the rows' vector stores are aligned and the column sum's reads coalesce.
constexpr int64_t partials_row_stride(int64_t dim) { return (dim + 1 + 7) / 8 * 8; }

// Index into kTileShapes of the tile for a row of `dim` elements, or -1 if none fits.
constexpr int tile_index(int64_t dim) {
  for (int i = 0; i < kNumTiles; ++i)
    if (dim <= tile_elements(kTileShapes[i])) return i;
  return -1;
}

inline constexpr int64_t kMaxDim = tile_elements(kTileShapes[kNumTiles - 1]);

template <ScalarKind kKind> void forward_launch(const ForwardParams& p, StreamHandle stream);
template <ScalarKind kKind> void backward_launch(const BackwardParams& p, StreamHandle stream);

}  // namespace rdm::act
