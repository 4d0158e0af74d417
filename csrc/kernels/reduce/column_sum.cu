#include "../portable.h"
#include "column_sum.h"

namespace rdm {

namespace {
constexpr int kColumnSumThreads = 256;

__global__ void __launch_bounds__(kColumnSumThreads) column_sum_kernel(ColumnSumParams p) {
  const int64_t col = int64_t(blockIdx.x) * kColumnSumThreads + threadIdx.x;
  if (col >= p.cols) return;
  float total = 0.f;
  for (int64_t r = 0; r < p.rows; ++r) total += load_global(p.in + r * p.cols + col);
  store_global(p.out + col, total);
}
}  // namespace

void column_sum_launch(const ColumnSumParams& p, StreamHandle stream) {
  const unsigned blocks = unsigned((p.cols + kColumnSumThreads - 1) / kColumnSumThreads);
  launch_kernel("column_sum_kernel", column_sum_kernel, dim3(blocks), dim3(kColumnSumThreads), 0, stream, p);
}

}  // namespace rdm
