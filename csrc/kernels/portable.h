// The kernel-facing API of rdm. Every kernel header includes this file and nothing else
// from the toolchain. It compiles two ways:
//   * by nvcc (__CUDACC__): the CUDA headers, and the project wrappers below as inline PTX;
//   * by a host C++20 compiler with -DRDM_SIMT: the SIMT emulation in csrc/simt, which runs
//     the same kernel source on the CPU with one OS thread per CUDA thread.
// Rules for kernels that must also run under the emulation: docs/kernels.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "host_types.h"

#if defined(RDM_SIMT)
#include <atomic>
#include <source_location>

#include "../simt/simt.h"
// The wrappers take the caller's source location, so that the emulation can name the call
// site of a divergent or hanging warp collective; under nvcc the parameter does not exist.
#define RDM_CALL_SITE_PARAM , std::source_location rdm_call_site = std::source_location::current()
#define RDM_CALL_SITE_ARG , rdm_call_site
#elif defined(__CUDACC__)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>
#define RDM_CALL_SITE_PARAM
#define RDM_CALL_SITE_ARG
#else
#error "portable.h is for .cu files: compile them with nvcc, or with a host compiler and -DRDM_SIMT"
#endif

// ---------------------------------------------------------------------------------------
// Dynamic shared memory: `RDM_DYNAMIC_SHARED(float, smem);` declares `float* smem`. The base
// is 16-byte aligned on the GPU (128 under the emulation, which poisons it per block).
#if !defined(RDM_SIMT)
#define RDM_DYNAMIC_SHARED(T, name)                                  \
  extern __shared__ __align__(16) unsigned char rdm_dynamic_smem_[]; \
  T* name = reinterpret_cast<T*>(rdm_dynamic_smem_)
#endif  // under RDM_SIMT: csrc/simt/shared_memory.h

namespace rdm {

// ---------------------------------------------------------------------------------------
// Launch. Runs `kernel` over `grid` x `block` with `dynamic_smem_bytes` of dynamic shared
// memory and throws std::runtime_error naming `kernel_name` if the launch fails. Under the
// emulation the launch is synchronous and also fails (rdm::simt::LaunchError, a
// std::runtime_error) for barrier divergence, hangs, bad configurations and exceptions.
#if defined(RDM_SIMT)
template <class... Params, class... Args>
void launch_kernel(const char* kernel_name, void (*kernel)(Params...), dim3 grid, dim3 block,
                   std::size_t dynamic_smem_bytes, StreamHandle /*stream*/, Args&&... args) {
  simt::launch_kernel(kernel_name, kernel, grid, block, dynamic_smem_bytes, std::forward<Args>(args)...);
}
#else
namespace portable_detail {
inline void check_cuda(cudaError_t status, const char* kernel_name, const char* step) {
  if (status != cudaSuccess)
    throw std::runtime_error(std::string("rdm: ") + step + " of kernel '" + kernel_name +
                             "' failed: " + cudaGetErrorName(status) + ": " + cudaGetErrorString(status));
}
}  // namespace portable_detail

template <class... Params, class... Args>
void launch_kernel(const char* kernel_name, void (*kernel)(Params...), dim3 grid, dim3 block,
                   std::size_t dynamic_smem_bytes, StreamHandle stream, Args&&... args) {
  constexpr std::size_t kDefaultDynamicSmemLimit = 48 * 1024;  // above it, kernels must opt in
  if (dynamic_smem_bytes > kDefaultDynamicSmemLimit)
    portable_detail::check_cuda(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                            static_cast<int>(dynamic_smem_bytes)),
                       kernel_name, "cudaFuncSetAttribute(MaxDynamicSharedMemorySize)");
  kernel<<<grid, block, dynamic_smem_bytes, stream>>>(std::forward<Args>(args)...);
  portable_detail::check_cuda(cudaGetLastError(), kernel_name, "launch");
}
#endif

namespace portable_detail {

#if !defined(RDM_SIMT)
__device__ __forceinline__ std::uint32_t shared_address(const void* p) {
  return static_cast<std::uint32_t>(__cvta_generic_to_shared(p));
}
#endif

// A relaxed atomic load: a volatile load on the GPU, an atomic one under the emulation
// (where a plain load racing with atomic writes would be a data race).
__device__ __forceinline__ int load_relaxed(const int* p) {
#if defined(RDM_SIMT)
  return std::atomic_ref<int>(*const_cast<int*>(p)).load(std::memory_order_relaxed);
#else
  return *reinterpret_cast<const volatile int*>(p);
#endif
}

// Stores `value` unless the stored value is NaN or `value` does not win against it; a NaN
// `value` always wins. Returns the old value.
template <class Wins>
__device__ __forceinline__ float atomic_float_update(float* address, float value, Wins wins) {
  int* bits = reinterpret_cast<int*>(address);
  int old = load_relaxed(bits);
  for (;;) {
    const float current = __int_as_float(old);
    const bool stored_nan = current != current, value_nan = value != value;
    if (stored_nan || !(value_nan || wins(value, current))) return current;
    const int seen = atomicCAS(bits, old, __float_as_int(value));
    if (seen == old) return current;
    old = seen;
  }
}

template <int kBytes>
__device__ __forceinline__ void cp_async(void* smem_dst, const void* gmem_src, int src_bytes RDM_CALL_SITE_PARAM) {
  static_assert(kBytes == 4 || kBytes == 8 || kBytes == 16, "cp.async copies 4, 8 or 16 bytes");
#if defined(RDM_SIMT)
  simt::cp_async(smem_dst, gmem_src, kBytes, static_cast<std::size_t>(src_bytes), rdm_call_site);
#else
  // 16-byte copies bypass L1 (.cg), the only caching mode they allow besides .ca.
  if constexpr (kBytes == 16)
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared_address(smem_dst)), "l"(gmem_src),
                 "r"(src_bytes)
                 : "memory");
  else
    asm volatile("cp.async.ca.shared.global [%0], [%1], %2, %3;\n" ::"r"(shared_address(smem_dst)), "l"(gmem_src),
                 "n"(kBytes), "r"(src_bytes)
                 : "memory");
#endif
}

template <int kNum, bool kTrans>
__device__ __forceinline__ void ldmatrix(std::uint32_t (&d)[kNum], const void* smem_row RDM_CALL_SITE_PARAM) {
  static_assert(kNum == 1 || kNum == 2 || kNum == 4, "ldmatrix loads 1, 2 or 4 matrices");
#if defined(RDM_SIMT)
  simt::ldmatrix(d, kNum, kTrans, smem_row, rdm_call_site);
#else
  const std::uint32_t addr = shared_address(smem_row);
  if constexpr (kNum == 1 && !kTrans)
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n" : "=r"(d[0]) : "r"(addr));
  else if constexpr (kNum == 1 && kTrans)
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];\n" : "=r"(d[0]) : "r"(addr));
  else if constexpr (kNum == 2 && !kTrans)
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n" : "=r"(d[0]), "=r"(d[1]) : "r"(addr));
  else if constexpr (kNum == 2 && kTrans)
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];\n"
                 : "=r"(d[0]), "=r"(d[1])
                 : "r"(addr));
  else if constexpr (!kTrans)
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
                 : "r"(addr));
  else
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
                 : "r"(addr));
#endif
}

}  // namespace portable_detail

// ---------------------------------------------------------------------------------------
// Global and shared memory. Kernels load and store through these helpers (T: a scalar, a
// 16-bit float or a CUDA vector type up to 16 bytes) so that the emulation sees every
// access: it counts bytes, sectors and bank conflicts per warp request and runs racecheck
// and initcheck on shared memory (csrc/simt/instrument.h). Under nvcc they are plain
// loads and stores.
template <class T>
__device__ __forceinline__ T load_global(const T* p RDM_CALL_SITE_PARAM) {
#if defined(RDM_SIMT)
  simt::record_access(simt::MemorySpace::kGlobal, simt::AccessKind::kLoad, p, sizeof(T), rdm_call_site);
#endif
  return *p;
}
template <class T>
__device__ __forceinline__ void store_global(T* p, const std::type_identity_t<T>& value RDM_CALL_SITE_PARAM) {
#if defined(RDM_SIMT)
  simt::record_access(simt::MemorySpace::kGlobal, simt::AccessKind::kStore, p, sizeof(T), rdm_call_site);
#endif
  *p = value;
}
template <class T>
__device__ __forceinline__ T load_shared(const T* p RDM_CALL_SITE_PARAM) {
#if defined(RDM_SIMT)
  simt::record_access(simt::MemorySpace::kShared, simt::AccessKind::kLoad, p, sizeof(T), rdm_call_site);
#endif
  return *p;
}
template <class T>
__device__ __forceinline__ void store_shared(T* p, const std::type_identity_t<T>& value RDM_CALL_SITE_PARAM) {
#if defined(RDM_SIMT)
  simt::record_access(simt::MemorySpace::kShared, simt::AccessKind::kStore, p, sizeof(T), rdm_call_site);
#endif
  *p = value;
}

// atomicAdd on global or shared memory, reported to the emulation as an atomic access
// (counted as a load and a store; racecheck never pairs two atomics).
template <class T>
__device__ __forceinline__ T atomic_add(T* p, const std::type_identity_t<T>& value RDM_CALL_SITE_PARAM) {
#if defined(RDM_SIMT)
  const auto space = simt::is_shared_memory(p, sizeof(T)) ? simt::MemorySpace::kShared : simt::MemorySpace::kGlobal;
  simt::record_access(space, simt::AccessKind::kAtomic, p, sizeof(T), rdm_call_site);
#endif
  return atomicAdd(p, value);
}

// ---------------------------------------------------------------------------------------
// Float atomics CUDA lacks, built on atomicCAS. Return the old value. NaN handling: a NaN
// `value` is stored (NaN propagates, as in torch.amax), a stored NaN is never replaced.
__device__ __forceinline__ float atomic_max_float(float* address, float value) {
  return portable_detail::atomic_float_update(address, value, [](float v, float current) { return v > current; });
}
__device__ __forceinline__ float atomic_min_float(float* address, float value) {
  return portable_detail::atomic_float_update(address, value, [](float v, float current) { return v < current; });
}

// ---------------------------------------------------------------------------------------
// cp.async (sm_80+): asynchronous global -> shared copies, in commit groups. Addresses must
// be aligned to the copy size. Under the emulation the copies land only at the wait.
__device__ __forceinline__ void cp_async_16(void* smem_dst, const void* gmem_src RDM_CALL_SITE_PARAM) {
  portable_detail::cp_async<16>(smem_dst, gmem_src, 16 RDM_CALL_SITE_ARG);
}
__device__ __forceinline__ void cp_async_8(void* smem_dst, const void* gmem_src RDM_CALL_SITE_PARAM) {
  portable_detail::cp_async<8>(smem_dst, gmem_src, 8 RDM_CALL_SITE_ARG);
}
__device__ __forceinline__ void cp_async_4(void* smem_dst, const void* gmem_src RDM_CALL_SITE_PARAM) {
  portable_detail::cp_async<4>(smem_dst, gmem_src, 4 RDM_CALL_SITE_ARG);
}
// Copies 16 bytes if `valid`, else writes 16 zero bytes without reading `gmem_src`.
__device__ __forceinline__ void cp_async_16_zfill(void* smem_dst, const void* gmem_src,
                                                  bool valid RDM_CALL_SITE_PARAM) {
  portable_detail::cp_async<16>(smem_dst, gmem_src, valid ? 16 : 0 RDM_CALL_SITE_ARG);
}
// Closes the group of copies issued since the previous commit.
__device__ __forceinline__ void cp_async_commit() {
#if defined(RDM_SIMT)
  simt::cp_async_commit();
#else
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}
// Waits until at most kPending committed groups are still in flight.
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
  static_assert(kPending >= 0 && kPending <= 7, "cp.async.wait_group takes 0..7");
#if defined(RDM_SIMT)
  simt::cp_async_wait_groups(kPending);
#else
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
#endif
}
// Waits for every issued copy, committed or not.
__device__ __forceinline__ void cp_async_wait_all() {
#if defined(RDM_SIMT)
  simt::cp_async_wait_all();
#else
  asm volatile("cp.async.wait_all;\n" ::: "memory");
#endif
}

// ---------------------------------------------------------------------------------------
// ldmatrix.sync.aligned.m8n8.x{1,2,4}[.trans].shared.b16. Each lane passes the address of
// one 16-byte row in shared memory: lanes 0-7 the rows of matrix 0, lanes 8-15 of matrix 1,
// 16-23 of matrix 2, 24-31 of matrix 3 (the others are ignored). Lane l receives in d[i]
// row l/4, elements 2*(l%4) and 2*(l%4)+1 of matrix i (of its transpose with .trans).
__device__ __forceinline__ void ldmatrix_x1(std::uint32_t (&d)[1], const void* smem_row RDM_CALL_SITE_PARAM) {
  portable_detail::ldmatrix<1, false>(d, smem_row RDM_CALL_SITE_ARG);
}
__device__ __forceinline__ void ldmatrix_x2(std::uint32_t (&d)[2], const void* smem_row RDM_CALL_SITE_PARAM) {
  portable_detail::ldmatrix<2, false>(d, smem_row RDM_CALL_SITE_ARG);
}
__device__ __forceinline__ void ldmatrix_x4(std::uint32_t (&d)[4], const void* smem_row RDM_CALL_SITE_PARAM) {
  portable_detail::ldmatrix<4, false>(d, smem_row RDM_CALL_SITE_ARG);
}
__device__ __forceinline__ void ldmatrix_x1_trans(std::uint32_t (&d)[1], const void* smem_row RDM_CALL_SITE_PARAM) {
  portable_detail::ldmatrix<1, true>(d, smem_row RDM_CALL_SITE_ARG);
}
__device__ __forceinline__ void ldmatrix_x2_trans(std::uint32_t (&d)[2], const void* smem_row RDM_CALL_SITE_PARAM) {
  portable_detail::ldmatrix<2, true>(d, smem_row RDM_CALL_SITE_ARG);
}
__device__ __forceinline__ void ldmatrix_x4_trans(std::uint32_t (&d)[4], const void* smem_row RDM_CALL_SITE_PARAM) {
  portable_detail::ldmatrix<4, true>(d, smem_row RDM_CALL_SITE_ARG);
}

// ---------------------------------------------------------------------------------------
// mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}.{f16,bf16}.f32 (sm_80+): d = a * b + c
// for one warp. Fragment layouts (g = lane/4, t = lane%4, low 16 bits = lower index):
//   a[0]: A[g][2t..2t+1]  a[1]: A[g+8][2t..2t+1]  a[2]: A[g][2t+8..2t+9]  a[3]: A[g+8][2t+8..2t+9]
//   b[0]: B[2t..2t+1][g]  b[1]: B[2t+8..2t+9][g]
//   c[0], c[1]: C[g][2t], C[g][2t+1]      c[2], c[3]: C[g+8][2t], C[g+8][2t+1]   (same for d)
// d may alias c.
__device__ __forceinline__ void mma_m16n8k16_f16(float (&d)[4], const std::uint32_t (&a)[4],
                                                 const std::uint32_t (&b)[2],
                                                 const float (&c)[4] RDM_CALL_SITE_PARAM) {
#if defined(RDM_SIMT)
  simt::mma_m16n8k16(d, a, b, c, simt::MmaInput::kF16, rdm_call_site);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%10, %11, %12, %13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]),
        "f"(c[3]));
#endif
}
__device__ __forceinline__ void mma_m16n8k16_bf16(float (&d)[4], const std::uint32_t (&a)[4],
                                                  const std::uint32_t (&b)[2],
                                                  const float (&c)[4] RDM_CALL_SITE_PARAM) {
#if defined(RDM_SIMT)
  simt::mma_m16n8k16(d, a, b, c, simt::MmaInput::kBF16, rdm_call_site);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%10, %11, %12, %13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]),
        "f"(c[3]));
#endif
}

}  // namespace rdm

#undef RDM_CALL_SITE_PARAM
#undef RDM_CALL_SITE_ARG
