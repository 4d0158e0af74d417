// Deterministic column sums of a small row-major fp32 matrix: out[c] = sum_r in[r, c],
// in a fixed order for a given shape. Used to combine per-block partial gradients without
// atomics.
#pragma once
#include <cstdint>

#include "../host_types.h"

namespace rdm {

struct ColumnSumParams {
  const float* in;  // (rows, cols), rows in_row_stride elements apart, columns contiguous
  int64_t in_row_stride;
  float* out;  // (cols,) contiguous
  int64_t rows;
  int64_t cols;
};

// Parallel over column groups and, inside a block, over interleaved chunks of rows. `sms`:
// the streaming multiprocessors to fill (the grid is at most a few blocks per SM).
void column_sum_launch(const ColumnSumParams& p, int sms, StreamHandle stream);

}  // namespace rdm
