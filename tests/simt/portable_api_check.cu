// Compile-only check that every part of portable.h builds both ways: with nvcc (real PTX,
// ptxas included) and as host C++ under -DRDM_SIMT. Not part of the self-test binary.
#include "../../csrc/kernels/portable.h"

struct CheckParams {
  const float* in;
  float* out;
  unsigned* counters;
};

namespace {

template <typename T, int kThreads>
__global__ void __launch_bounds__(kThreads) api_kernel(CheckParams p) {
  __shared__ __align__(16) float tile[kThreads / 32][32];
  __shared__ __align__(16) uint16_t mats[32][8];
  RDM_DYNAMIC_SHARED(float, dyn);
  const int t = threadIdx.x + blockIdx.y * blockDim.x;
  rdm::cp_async_16(&tile[threadIdx.x / 32][(threadIdx.x % 8) * 4], p.in + 4 * (t % 8));
  rdm::cp_async_8(dyn + 2 * threadIdx.x, p.in);
  rdm::cp_async_4(dyn + 2 * threadIdx.x + 1, p.in);
  rdm::cp_async_16_zfill(&mats[threadIdx.x % 32][0], p.in, threadIdx.x % 2 == 0);
  rdm::cp_async_8_zfill(dyn + 2 * threadIdx.x, p.in, threadIdx.x % 2 == 0);
  rdm::cp_async_4_zfill(dyn + 2 * threadIdx.x + 1, p.in, threadIdx.x % 2 == 0);
  rdm::cp_async_zfill<16>(&mats[threadIdx.x % 32][0], p.in, static_cast<int>(threadIdx.x % 17));
  rdm::cp_async_commit();
  rdm::cp_async_wait<12>();
  rdm::cp_async_wait<1>();
  rdm::cp_async_wait<0>();
  rdm::cp_async_wait_all();
  __syncthreads();
  float v = tile[threadIdx.x / 32][threadIdx.x % 32] + dyn[threadIdx.x];
  v += __shfl_xor_sync(0xffffffffu, v, 16) + __shfl_up_sync(0xffffffffu, v, 1) +
       __shfl_down_sync(0xffffffffu, v, 1, 16) + __shfl_sync(0xffffffffu, v, 0);
  const T h = T(v);
  v += float(__shfl_xor_sync(0xffffffffu, h, 1));
  const unsigned ballot = __ballot_sync(0xffffffffu, v > 0) + __any_sync(0xffffffffu, v > 1) +
                          __all_sync(0xffffffffu, v > 2) + __activemask();
  __syncwarp();
  const int n = __syncthreads_count(v > 0) + __syncthreads_and(v > 0) + __syncthreads_or(v > 0);
  uint32_t a[4], b[2], x1[1], b2[2];
  const void* row = &mats[threadIdx.x % 32][0];
  rdm::ldmatrix_x4(a, row);
  rdm::ldmatrix_x4_trans(a, row);
  rdm::ldmatrix_x2(b, row);
  rdm::ldmatrix_x2_trans(b2, row);
  rdm::ldmatrix_x1(x1, row);
  rdm::ldmatrix_x1_trans(x1, row);
  float acc[4] = {0.f, 0.f, 0.f, 0.f};
  rdm::mma_m16n8k16_f16(acc, a, b, acc);
  rdm::mma_m16n8k16_bf16(acc, a, b2, acc);
  const uint32_t a2[2] = {a[0], a[1]}, b1[1] = {b[0]};
  rdm::mma_m16n8k8_f16(acc, a2, b1, acc);
  rdm::mma_m16n8k8_bf16(acc, a2, b1, acc);
  const uint32_t ta[4] = {rdm::float_to_tf32(acc[0]), a[1], a[2], a[3]};
  rdm::mma_m16n8k8_tf32(acc, ta, b, acc);
  uint32_t hacc[2] = {a[0], a[1]};
  rdm::mma_m16n8k16_f16_f16acc(hacc, a, b, hacc);
  rdm::mma_m16n8k8_f16_f16acc(hacc, a2, b1, hacc);
  x1[0] = rdm::movmatrix_trans(x1[0] ^ hacc[0]);
#if RDM_HAS_STMATRIX
  rdm::stmatrix(x1, &mats[threadIdx.x % 32][0]);
  rdm::stmatrix(b, &mats[threadIdx.x % 32][0]);
  rdm::stmatrix(a, &mats[threadIdx.x % 32][0]);
  rdm::stmatrix_trans(x1, &mats[threadIdx.x % 32][0]);
  rdm::stmatrix_trans(b, &mats[threadIdx.x % 32][0]);
  rdm::stmatrix_trans(a, &mats[threadIdx.x % 32][0]);
  __syncwarp();
#endif
  const __half2 h2 = __floats2half2_rn(acc[0], acc[1]);
  const __nv_bfloat162 b16 = __floats2bfloat162_rn(acc[2], acc[3]);
  v += __low2float(h2) + __high2float(b16) + __half2float(__hfma(h2.x, h2.y, h2.x)) +
       __bfloat162float(__float2bfloat16_rn(__expf(v))) + __fdividef(v, 3.0f) + rsqrtf(2.0f) + __saturatef(v) +
       static_cast<float>(__popc(ballot) + __clz(n) + __ffs(n) + static_cast<int>(x1[0] & 1u)) +
       __int_as_float(__float_as_int(1.0f)) + max(v, 1.0f) + min(2, 3) + __ldg(p.in);
  atomicAdd(p.out, v);
  atomicAdd(p.counters, 1u);
  atomicMax(p.counters + 1, static_cast<unsigned>(n));
  atomicCAS(p.counters + 2, 0u, 1u);
  atomicExch(p.counters + 3, ballot);
  rdm::atomic_max_float(p.out + 1, v);
  rdm::atomic_min_float(p.out + 2, v);
  rdm::atomic_add(p.counters + 4, 1u);
  rdm::atomic_add(&tile[0][0], v);
  __threadfence();
  rdm::store_shared(&dyn[threadIdx.x], rdm::load_shared(&tile[0][1]));
  rdm::store_global(p.out + 3 + t, v + rdm::load_global(p.in));
}

}  // namespace

void portable_api_check_launch(const CheckParams& p, rdm::StreamHandle stream) {
  constexpr std::size_t kLargeSmem = 64 * 1024;  // above 48 KiB: the nvcc path opts in
  rdm::launch_kernel("api_kernel", api_kernel<__half, 64>, dim3(2, 2), dim3(64), kLargeSmem, stream, p);
  rdm::launch_kernel("api_kernel", api_kernel<__nv_bfloat16, 128>, dim3(1), dim3(128), 1024, stream, p);
}
