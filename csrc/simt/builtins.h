// CUDA built-in variables: threadIdx, blockIdx, blockDim, gridDim, warpSize.
#pragma once
#include "vector_types.h"

namespace rdm::simt {

inline constexpr unsigned kWarpSize = 32;

namespace detail {
// Identity of the CUDA thread an OS thread is currently emulating; set by the pool worker
// before it runs the kernel body. Trivial and constinit so accesses need no TLS wrapper.
struct ThreadIdentity {
  uint3 thread_idx;
  unsigned linear;   // threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)
  bool in_kernel;    // true while running kernel code (guards against nested launches)
};
inline thread_local constinit ThreadIdentity t_thread{};

// The running launch's geometry and current block; written by the launcher only while no
// kernel thread runs (the pool's start signal orders it before their reads).
struct GridState {
  uint3 block_idx{0, 0, 0};
  dim3 block_dim{};
  dim3 grid_dim{};
};
inline constinit GridState g_grid{};
}  // namespace detail

// Read-only views, so that kernels cannot assign to the built-ins.
inline const uint3& thread_idx() { return detail::t_thread.thread_idx; }
inline const uint3& block_idx() { return detail::g_grid.block_idx; }
inline const dim3& block_dim() { return detail::g_grid.block_dim; }
inline const dim3& grid_dim() { return detail::g_grid.grid_dim; }
inline unsigned linear_thread() { return detail::t_thread.linear; }
inline unsigned lane_id() { return detail::t_thread.linear % kWarpSize; }
inline unsigned warp_id() { return detail::t_thread.linear / kWarpSize; }
// Not constexpr: warpSize is a run-time value in CUDA too, so code that uses it as a
// constant expression fails here as it does under nvcc.
inline int warp_size() { return static_cast<int>(kWarpSize); }

}  // namespace rdm::simt

#define threadIdx (::rdm::simt::thread_idx())
#define blockIdx (::rdm::simt::block_idx())
#define blockDim (::rdm::simt::block_dim())
#define gridDim (::rdm::simt::grid_dim())
#define warpSize (::rdm::simt::warp_size())
