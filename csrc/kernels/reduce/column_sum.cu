#include "column_sum.h"

#include "../portable.h"

namespace rdm {

namespace {
// A block sums kColumns adjacent columns with kRowLanes lanes per column: lane l adds
// rows l, l + kRowLanes, ... in order, then lane 0 adds the lanes' totals in lane order,
// so the result does not depend on the grid. Half a warp spans 16 columns (64 bytes, two
// full sectors per row), so the loads stay coalesced while narrow matrices still get
// many blocks.
constexpr int kColumns = 16, kRowLanes = 16, kThreads = kColumns * kRowLanes;
constexpr int kBlocksPerSm = 4;

__global__ void __launch_bounds__(kThreads) column_sum_kernel(ColumnSumParams p) {
  __shared__ float lane_totals[kRowLanes][kColumns];
  const int column_lane = threadIdx.x % kColumns, row_lane = threadIdx.x / kColumns;
  // The trip count is uniform across the block: every thread reaches both barriers.
  for (int64_t first = int64_t(blockIdx.x) * kColumns; first < p.cols; first += int64_t(gridDim.x) * kColumns) {
    const int64_t col = first + column_lane;
    float total = 0.f;
    if (col < p.cols)
      for (int64_t r = row_lane; r < p.rows; r += kRowLanes) total += load_global(p.in + r * p.in_row_stride + col);
    store_shared(&lane_totals[row_lane][column_lane], total);
    __syncthreads();
    if (row_lane == 0 && col < p.cols) {
      float sum = 0.f;
#pragma unroll
      for (int lane = 0; lane < kRowLanes; ++lane) sum += load_shared(&lane_totals[lane][column_lane]);
      store_global(col < p.split ? p.out + col : p.out_rest + (col - p.split), sum);
    }
    __syncthreads();  // lane_totals is rewritten for the next column group
  }
}
}  // namespace

void column_sum_launch(const ColumnSumParams& p, int sms, StreamHandle stream) {
  const int64_t groups = (p.cols + kColumns - 1) / kColumns;
  const int64_t limit = int64_t(sms) * kBlocksPerSm;
  const unsigned blocks = unsigned(groups < limit ? groups : limit);
  launch_kernel("column_sum_kernel", column_sum_kernel, dim3(blocks), dim3(kThreads), 0, stream, p);
}

}  // namespace rdm
