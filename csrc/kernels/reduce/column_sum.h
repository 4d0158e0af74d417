// Deterministic column sums of a small row-major fp32 matrix: out[c] = sum_r in[r, c],
// rows added in order. Used to combine per-block partial gradients without atomics.
#pragma once
#include <cstdint>

#include "../host_types.h"

namespace rdm {

struct ColumnSumParams {
  const float* in;  // (rows, cols)
  float* out;       // (cols,)
  int64_t rows;
  int64_t cols;
};

void column_sum_launch(const ColumnSumParams& p, StreamHandle stream);

}  // namespace rdm
