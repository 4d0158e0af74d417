// A missing __syncthreads that no check of the layer can see: the emulation runs CUDA
// threads as OS threads, so a ThreadSanitizer build of this program reports the race
// (missing_barrier) and stays silent once the barrier is there (fixed_barrier).
#include <vector>

#include "../../csrc/kernels/portable.h"
#include "selftest.h"

using selftest::check;

namespace {

template <bool kBarrier>
__global__ void neighbour_kernel(float* out) {
  __shared__ float smem[128];
  const unsigned t = threadIdx.x;
  smem[t] = static_cast<float>(t);
  if constexpr (kBarrier) __syncthreads();
  out[t] = smem[(t + 1) % 128];
}

SIMT_CASE(missing_barrier) {
  // Without ThreadSanitizer the result may even be right: this case only runs the kernel.
  std::vector<float> out(128);
  rdm::launch_kernel("neighbour_kernel", neighbour_kernel<false>, dim3(1), dim3(128), 0, rdm::StreamHandle{},
                     out.data());
}

SIMT_CASE(fixed_barrier) {
  std::vector<float> out(128);
  rdm::launch_kernel("neighbour_kernel", neighbour_kernel<true>, dim3(2), dim3(128), 0, rdm::StreamHandle{},
                     out.data());
  for (unsigned t = 0; t < 128; ++t) check(out[t] == static_cast<float>((t + 1) % 128), "wrong neighbour");
}

}  // namespace
