#include "tensor_core_probe.h"

#include <stdexcept>

#include "../portable.h"

namespace rdm {
namespace {

constexpr int kM = 16, kN = 8, kK = 16;
constexpr int kElemBytes = 2;
constexpr int kChunkElems = 16 / kElemBytes;  // one cp.async of 16 bytes

template <bool kF16>
__device__ __forceinline__ void mma(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                                    const float (&c)[4]) {
  if constexpr (kF16)
    mma_m16n8k16_f16(d, a, b, c);
  else
    mma_m16n8k16_bf16(d, a, b, c);
}

// Stores an 8x8 fragment as loaded by ldmatrix (lane l: row l/4, elements 2*(l%4)..+1).
__device__ __forceinline__ void store_fragment_8x8(uint16_t* dst, uint32_t frag, unsigned lane) {
  dst[(lane / 4) * 8 + 2 * (lane % 4)] = static_cast<uint16_t>(frag & 0xffffu);
  dst[(lane / 4) * 8 + 2 * (lane % 4) + 1] = static_cast<uint16_t>(frag >> 16);
}

template <bool kF16, bool kBKMajor>
__global__ void __launch_bounds__(32) tensor_core_probe_kernel(TensorCoreProbeParams p) {
  __shared__ __align__(16) uint16_t a_s[kM][kK];
  __shared__ __align__(16) uint16_t b_s[kK * kN];  // [k][n] or [n][k], as stored in global
  const unsigned lane = threadIdx.x;

  // Stage A (32 chunks of 16 bytes: one per lane) and B (16 chunks) into shared memory.
  const auto* a_g = static_cast<const uint16_t*>(p.a);
  const auto* b_g = static_cast<const uint16_t*>(p.b);
  cp_async_16(&a_s[0][0] + lane * kChunkElems, a_g + lane * kChunkElems);
  if (lane < kK * kN / kChunkElems) cp_async_16(b_s + lane * kChunkElems, b_g + lane * kChunkElems);
  cp_async_commit();
  cp_async_wait<0>();
  __syncthreads();

  // A as four 8x8 matrices in the order of the a[] registers: rows 0-7/8-15 x cols 0-7/8-15.
  uint32_t a[4];
  ldmatrix_x4(a, &a_s[(lane % 8) + 8 * ((lane / 8) % 2)][8 * (lane / 16)]);

  // B as two 8x8 matrices, k = 0-7 and k = 8-15, each fragment holding B[2t..2t+1][g].
  uint32_t b[2];
  if constexpr (kBKMajor)
    ldmatrix_x2_trans(b, b_s + (lane % 16) * kN);  // row k of B
  else
    ldmatrix_x2(b, b_s + (lane % 8) * kK + 8 * ((lane / 8) % 2));  // row n of B^T, k half

  const float zero[4] = {0.f, 0.f, 0.f, 0.f};
  float d[4];
  mma<kF16>(d, a, b, zero);
  const unsigned g = lane / 4, t = lane % 4;
  p.out[g * kN + 2 * t] = d[0];
  p.out[g * kN + 2 * t + 1] = d[1];
  p.out[(g + 8) * kN + 2 * t] = d[2];
  p.out[(g + 8) * kN + 2 * t + 1] = d[3];

  // A[0:8, 8:16] through ldmatrix_x1 and ldmatrix_x1_trans.
  uint32_t tile[1], tile_t[1];
  ldmatrix_x1(tile, &a_s[lane % 8][8]);
  ldmatrix_x1_trans(tile_t, &a_s[lane % 8][8]);
  auto* tile_out = static_cast<uint16_t*>(p.tile);
  store_fragment_8x8(tile_out, tile[0], lane);
  store_fragment_8x8(tile_out + 64, tile_t[0], lane);
}

template <bool kF16>
void launch(const TensorCoreProbeParams& p, StreamHandle stream) {
  if (p.b_k_major)
    launch_kernel("tensor_core_probe_kernel", tensor_core_probe_kernel<kF16, true>, dim3(1), dim3(32), 0, stream, p);
  else
    launch_kernel("tensor_core_probe_kernel", tensor_core_probe_kernel<kF16, false>, dim3(1), dim3(32), 0, stream,
                  p);
}

}  // namespace

void tensor_core_probe_launch(const TensorCoreProbeParams& p, StreamHandle stream) {
  switch (p.dtype) {
    case ScalarKind::kFloat16:
      return launch<true>(p, stream);
    case ScalarKind::kBFloat16:
      return launch<false>(p, stream);
    default:
      throw std::runtime_error("tensor_core_probe_launch: dtype must be kFloat16 or kBFloat16");
  }
}

}  // namespace rdm
