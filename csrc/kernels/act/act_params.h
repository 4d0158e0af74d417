// Parameters of the fused ACT halting-accumulate kernels (see rdm.ops.act_accumulate).
// Plain pointers and sizes only: shared by the launchers (.cu) and registration (.cpp).
#pragma once
#include <cstdint>

#include "../host_types.h"

namespace rdm::act {

// h is (rows, dim) row-major in its own dtype; every other per-position tensor is fp32.
struct ForwardParams {
  const void* h;
  const float* halt_weight;  // (dim,)
  const float* halt_bias;    // (1,)
  const float* h_acc;        // (rows, dim)
  const float* cum_p;        // (rows,)
  float* h_acc_out;          // (rows, dim)
  float* cum_p_out;          // (rows,)
  float* weight;             // (rows,)
  int64_t rows;
  int dim;
  float threshold;
  bool is_last;
  bool vectorized;  // 16-byte vectors: dim % elements_per_vector == 0 and every pointer 16-byte aligned
};

struct BackwardParams {
  const void* h;
  const float* halt_weight;
  const float* halt_bias;
  const float* cum_p;
  const float* grad_h_acc_out;  // (rows, dim)
  const float* grad_cum_p_out;  // (rows,) or nullptr when no gradient flows into it
  const float* grad_weight;     // (rows,) or nullptr
  void* grad_h;                 // (rows, dim) in h's dtype
  float* grad_cum_p;            // (rows,)
  // One row of per-block partial sums per block: columns [0, dim) hold d halt_weight,
  // column dim holds d halt_bias. Summed over blocks afterwards in a fixed order, so the
  // result is deterministic (no atomics).
  float* partials;  // (num_blocks, dim + 1)
  int num_blocks;
  int64_t rows;
  int dim;
  float threshold;
  bool is_last;
  bool vectorized;
};

// Row tiles: threads_per_row threads own one row of h at a time, each caching
// elements_per_thread elements in registers (as 16-byte vectors when vectorized), so h is
// read once per kernel: the halting dot product must be complete before the accumulation
// can start. 16 elements per thread keep the backward's four per-thread arrays (h, its
// gradient, halt_weight and the halt_weight gradient) within 128 registers, the budget of
// a 512-thread block, without spills. Narrowest first; a row takes the first tile that
// covers it. Warp-per-row tiles put 4 rows in a 128-thread block.
struct TileShape {
  int threads_per_row;
  int elements_per_thread;
};
inline constexpr TileShape kTileShapes[] = {{32, 8}, {32, 16}, {128, 16}, {512, 16}};
inline constexpr int kNumTiles = 4;

constexpr int block_threads(TileShape s) { return s.threads_per_row < 128 ? 128 : s.threads_per_row; }
constexpr int rows_per_block(TileShape s) { return block_threads(s) / s.threads_per_row; }
constexpr int64_t tile_elements(TileShape s) { return int64_t(s.threads_per_row) * s.elements_per_thread; }

// Elements moved per vector: one 16-byte vector of h's dtype, or one element.
constexpr int elements_per_vector(ScalarKind kind, bool vectorized) {
  return vectorized ? (kind == ScalarKind::kFloat32 ? 4 : 8) : 1;
}

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
