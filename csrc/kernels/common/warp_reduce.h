// Sums across a warp with full-mask butterfly shuffles: every lane ends with the total.
#pragma once
#include "../portable.h"

namespace rdm {

template <int N>
__device__ __forceinline__ void warp_sum(float (&v)[N]) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) {
#pragma unroll
    for (int n = 0; n < N; ++n) v[n] += __shfl_xor_sync(0xffffffffu, v[n], offset);
  }
}

}  // namespace rdm
