// Deterministic column sums of a small row-major fp32 matrix: out[c] = sum_r in[r, c],
// in a fixed order for a given shape. Used to combine per-block partial gradients without
// atomics.
#pragma once
#include <cstdint>

#include "../host_types.h"

namespace rdm {

// The sums go to two outputs, so that an op whose results are two tensors (a weight's and
// a bias's gradient) gets them without a copy: columns [0, split) to out, [split, cols) to
// out_rest (split = cols: out only).
struct ColumnSumParams {
  const float* in;  // (rows, cols), rows in_row_stride elements apart, columns contiguous
  int64_t in_row_stride;
  float* out;       // (split,) contiguous
  float* out_rest;  // (cols - split,) contiguous
  int64_t split;
  int64_t rows;
  int64_t cols;
};

// Parallel over column groups and, inside a block, over interleaved chunks of rows. `sms`:
// the streaming multiprocessors to fill (the grid is at most a few blocks per SM).
void column_sum_launch(const ColumnSumParams& p, int sms, StreamHandle stream);

}  // namespace rdm
