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

template <int kNum, bool kTrans>
__device__ __forceinline__ void stmatrix(const std::uint32_t (&r)[kNum], void* smem_row RDM_CALL_SITE_PARAM) {
  static_assert(kNum == 1 || kNum == 2 || kNum == 4, "stmatrix stores 1, 2 or 4 matrices");
#if defined(RDM_SIMT)
  simt::stmatrix(r, kNum, kTrans, smem_row, rdm_call_site);
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 900
  // Fires only where a kernel compiled for an older architecture calls stmatrix.
  static_assert(kNum == 0, "stmatrix needs sm_90 or newer: guard the call with #if RDM_HAS_STMATRIX");
#elif defined(__CUDA_ARCH__)
  const std::uint32_t addr = shared_address(smem_row);
  if constexpr (kNum == 1 && !kTrans)
    asm volatile("stmatrix.sync.aligned.m8n8.x1.shared.b16 [%0], {%1};\n" ::"r"(addr), "r"(r[0]) : "memory");
  else if constexpr (kNum == 1 && kTrans)
    asm volatile("stmatrix.sync.aligned.m8n8.x1.trans.shared.b16 [%0], {%1};\n" ::"r"(addr), "r"(r[0]) : "memory");
  else if constexpr (kNum == 2 && !kTrans)
    asm volatile("stmatrix.sync.aligned.m8n8.x2.shared.b16 [%0], {%1, %2};\n" ::"r"(addr), "r"(r[0]), "r"(r[1])
                 : "memory");
  else if constexpr (kNum == 2 && kTrans)
    asm volatile("stmatrix.sync.aligned.m8n8.x2.trans.shared.b16 [%0], {%1, %2};\n" ::"r"(addr), "r"(r[0]),
                 "r"(r[1])
                 : "memory");
  else if constexpr (!kTrans)
    asm volatile("stmatrix.sync.aligned.m8n8.x4.shared.b16 [%0], {%1, %2, %3, %4};\n" ::"r"(addr), "r"(r[0]),
                 "r"(r[1]), "r"(r[2]), "r"(r[3])
                 : "memory");
  else
    asm volatile("stmatrix.sync.aligned.m8n8.x4.trans.shared.b16 [%0], {%1, %2, %3, %4};\n" ::"r"(addr), "r"(r[0]),
                 "r"(r[1]), "r"(r[2]), "r"(r[3])
                 : "memory");
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
// Copies the first `src_bytes` (0..kBytes: cp.async's src-size) bytes of gmem_src and writes
// zeros to the rest of the kBytes bytes; with src_bytes == 0 the source is not read. A
// src_bytes above kBytes is undefined on the GPU and an error under the emulation.
template <int kBytes>
__device__ __forceinline__ void cp_async_zfill(void* smem_dst, const void* gmem_src,
                                               int src_bytes RDM_CALL_SITE_PARAM) {
  portable_detail::cp_async<kBytes>(smem_dst, gmem_src, src_bytes RDM_CALL_SITE_ARG);
}
// Copies all bytes if `valid`, else writes zeros without reading `gmem_src`.
__device__ __forceinline__ void cp_async_16_zfill(void* smem_dst, const void* gmem_src,
                                                  bool valid RDM_CALL_SITE_PARAM) {
  portable_detail::cp_async<16>(smem_dst, gmem_src, valid ? 16 : 0 RDM_CALL_SITE_ARG);
}
__device__ __forceinline__ void cp_async_8_zfill(void* smem_dst, const void* gmem_src,
                                                 bool valid RDM_CALL_SITE_PARAM) {
  portable_detail::cp_async<8>(smem_dst, gmem_src, valid ? 8 : 0 RDM_CALL_SITE_ARG);
}
__device__ __forceinline__ void cp_async_4_zfill(void* smem_dst, const void* gmem_src,
                                                 bool valid RDM_CALL_SITE_PARAM) {
  portable_detail::cp_async<4>(smem_dst, gmem_src, valid ? 4 : 0 RDM_CALL_SITE_ARG);
}
// Closes the group of copies issued since the previous commit.
__device__ __forceinline__ void cp_async_commit() {
#if defined(RDM_SIMT)
  simt::cp_async_commit();
#else
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}
// Waits until at most kPending committed groups are still in flight. The ISA takes any
// integer constant N >= 0 (ptxas accepts the whole 32-bit range).
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
  static_assert(kPending >= 0, "cp.async.wait_group takes a non-negative integer constant");
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
// stmatrix.sync.aligned.m8n8.x{1,2,4}[.trans].shared.b16 (sm_90+): the inverse of ldmatrix.
// r[i] holds the lane's fragment of matrix i (lane l: row l/4, elements 2*(l%4), 2*(l%4)+1;
// the number of matrices is the array's size); lanes 8i..8i+7 pass the addresses of the
// 16-byte rows of matrix i (of its transpose with _trans). Another lane reads a stored row
// only after __syncwarp. RDM_HAS_STMATRIX says whether the code being compiled may call
// it (under nvcc: device code for sm_90+); a call compiled for an older GPU does not compile.
#if defined(RDM_SIMT) || (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900)
#define RDM_HAS_STMATRIX 1
#else
#define RDM_HAS_STMATRIX 0
#endif
template <int kNum>
__device__ __forceinline__ void stmatrix(const std::uint32_t (&r)[kNum], void* smem_row RDM_CALL_SITE_PARAM) {
  portable_detail::stmatrix<kNum, false>(r, smem_row RDM_CALL_SITE_ARG);
}
template <int kNum>
__device__ __forceinline__ void stmatrix_trans(const std::uint32_t (&r)[kNum], void* smem_row RDM_CALL_SITE_PARAM) {
  portable_detail::stmatrix<kNum, true>(r, smem_row RDM_CALL_SITE_ARG);
}

// movmatrix.sync.aligned.m8n8.trans.b16 (sm_75+): given the warp's fragments of an 8x8
// matrix of 16-bit elements (the ldmatrix layout), returns the lane's fragment of its
// transpose.
__device__ __forceinline__ std::uint32_t movmatrix_trans(std::uint32_t a RDM_CALL_SITE_PARAM) {
#if defined(RDM_SIMT)
  return simt::movmatrix_trans(a, rdm_call_site);
#else
  std::uint32_t d;
  asm volatile("movmatrix.sync.aligned.m8n8.trans.b16 %0, %1;\n" : "=r"(d) : "r"(a));
  return d;
#endif
}

// ---------------------------------------------------------------------------------------
// mma.sync.aligned.m16n8k{16,8}.row.col (sm_80+): d = a * b + c for one warp, A 16 x K
// row-major, B K x 8 column-major, C/D 16 x 8. Fragment layouts (g = lane/4, t = lane%4,
// two 16-bit elements per register, the lower index in the low 16 bits):
//   16-bit inputs, K = 16:
//     a[0]: A[g][2t..2t+1]  a[1]: A[g+8][2t..2t+1]  a[2]: A[g][2t+8..2t+9]  a[3]: A[g+8][2t+8..2t+9]
//     b[0]: B[2t..2t+1][g]  b[1]: B[2t+8..2t+9][g]
//   16-bit inputs, K = 8 (the first half of the above):
//     a[0]: A[g][2t..2t+1]  a[1]: A[g+8][2t..2t+1]      b[0]: B[2t..2t+1][g]
//   tf32, K = 8 (one element per 32-bit register):
//     a[0]: A[g][t]  a[1]: A[g+8][t]  a[2]: A[g][t+4]  a[3]: A[g+8][t+4]    b[0]: B[t][g]  b[1]: B[t+4][g]
//   fp32 accumulators: c[0], c[1]: C[g][2t], C[g][2t+1]      c[2], c[3]: C[g+8][2t], C[g+8][2t+1]
//   f16 accumulators:  c[0]: C[g][2t..2t+1]                   c[1]: C[g+8][2t..2t+1]
// (same for d). d may alias c. The emulation sums in double and rounds once (rule 9).
#if defined(RDM_SIMT)
#define RDM_MMA_F32(input, K) simt::mma(d, a, b, c, simt::MmaInput::input, K, rdm_call_site)
#define RDM_MMA_F16ACC(K) simt::mma_f16_accumulate(d, a, b, c, K, rdm_call_site)
#endif
__device__ __forceinline__ void mma_m16n8k16_f16(float (&d)[4], const std::uint32_t (&a)[4],
                                                 const std::uint32_t (&b)[2],
                                                 const float (&c)[4] RDM_CALL_SITE_PARAM) {
#if defined(RDM_SIMT)
  RDM_MMA_F32(kF16, 16);
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
  RDM_MMA_F32(kBF16, 16);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%10, %11, %12, %13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]),
        "f"(c[3]));
#endif
}
__device__ __forceinline__ void mma_m16n8k8_f16(float (&d)[4], const std::uint32_t (&a)[2],
                                                const std::uint32_t (&b)[1],
                                                const float (&c)[4] RDM_CALL_SITE_PARAM) {
#if defined(RDM_SIMT)
  RDM_MMA_F32(kF16, 8);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5}, {%6}, {%7, %8, %9, %10};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(b[0]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
#endif
}
__device__ __forceinline__ void mma_m16n8k8_bf16(float (&d)[4], const std::uint32_t (&a)[2],
                                                 const std::uint32_t (&b)[1],
                                                 const float (&c)[4] RDM_CALL_SITE_PARAM) {
#if defined(RDM_SIMT)
  RDM_MMA_F32(kBF16, 8);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5}, {%6}, {%7, %8, %9, %10};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(b[0]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
#endif
}
// a and b hold fp32 bit patterns meant to be tf32 values; the emulation truncates their
// low 13 mantissa bits, as the hardware is reported to (csrc/simt/tensor_core.cpp). Convert
// them with float_to_tf32 for round-to-nearest and results that do not depend on this.
__device__ __forceinline__ void mma_m16n8k8_tf32(float (&d)[4], const std::uint32_t (&a)[4],
                                                 const std::uint32_t (&b)[2],
                                                 const float (&c)[4] RDM_CALL_SITE_PARAM) {
#if defined(RDM_SIMT)
  RDM_MMA_F32(kTF32, 8);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%10, %11, %12, %13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]),
        "f"(c[3]));
#endif
}
// f16 inputs accumulated in f16 (mma...f16.f16.f16.f16): c and d hold two halves each.
__device__ __forceinline__ void mma_m16n8k16_f16_f16acc(std::uint32_t (&d)[2], const std::uint32_t (&a)[4],
                                                        const std::uint32_t (&b)[2],
                                                        const std::uint32_t (&c)[2] RDM_CALL_SITE_PARAM) {
#if defined(RDM_SIMT)
  RDM_MMA_F16ACC(16);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f16.f16.f16.f16 {%0, %1}, {%2, %3, %4, %5}, {%6, %7}, {%8, %9};\n"
      : "=r"(d[0]), "=r"(d[1])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "r"(c[0]), "r"(c[1]));
#endif
}
__device__ __forceinline__ void mma_m16n8k8_f16_f16acc(std::uint32_t (&d)[2], const std::uint32_t (&a)[2],
                                                       const std::uint32_t (&b)[1],
                                                       const std::uint32_t (&c)[2] RDM_CALL_SITE_PARAM) {
#if defined(RDM_SIMT)
  RDM_MMA_F16ACC(8);
#else
  asm volatile("mma.sync.aligned.m16n8k8.row.col.f16.f16.f16.f16 {%0, %1}, {%2, %3}, {%4}, {%5, %6};\n"
               : "=r"(d[0]), "=r"(d[1])
               : "r"(a[0]), "r"(a[1]), "r"(b[0]), "r"(c[0]), "r"(c[1]));
#endif
}
#if defined(RDM_SIMT)
#undef RDM_MMA_F32
#undef RDM_MMA_F16ACC
#endif

// cvt.rna.tf32.f32: `x` rounded to tf32 (nearest, ties away from zero), as the fp32 bit
// pattern an a/b register of mma_m16n8k8_tf32 takes. Infinities stay, NaNs stay NaN.
__device__ __forceinline__ std::uint32_t float_to_tf32(float x) {
#if defined(RDM_SIMT)
  const std::uint32_t bits = __float_as_uint(x);
  if ((bits & 0x7f800000u) == 0x7f800000u) return bits;
  return (bits + 0x1000u) & 0xffffe000u;  // half a tf32 ulp, then truncate: ties go away from zero
#else
  std::uint32_t t;
  asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(t) : "f"(x));
  return t;
#endif
}

}  // namespace rdm

#undef RDM_CALL_SITE_PARAM
#undef RDM_CALL_SITE_ARG
