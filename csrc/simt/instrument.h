// Instrumentation of emulated kernels: what a profiler and compute-sanitizer would see.
// Kernels reach memory through the helpers of portable.h (rdm::load_global, store_shared,
// ldmatrix, cp_async, ...); under the emulation each of them reports here, per lane, before
// the access happens. The runtime turns the reports into per-launch performance counters
// (bytes, 32-byte sectors per warp request, shared-memory bank conflicts, mma FLOPs,
// cp.async bytes, barriers) and, when enabled, racecheck and initcheck of shared memory.
// Under nvcc none of this exists: the helpers are plain loads and stores.
#pragma once
#include <cstddef>
#include <cstdint>
#include <source_location>

namespace rdm::simt {

enum class MemorySpace : std::uint8_t { kGlobal, kShared };

enum class AccessKind : std::uint8_t {
  kLoad,
  kStore,
  kAtomic,         // read-modify-write: never races with another atomic
  kLdmatrix,       // one lane's 16-byte row read by ldmatrix (one 8-lane phase per matrix)
  kStmatrix,       // one lane's 16-byte row written by stmatrix
  kCpAsyncSource,  // global bytes read by cp.async when it is issued
  kCpAsyncLand,    // shared bytes written by cp.async when it lands (at the wait)
};

// One lane's access of `bytes` bytes at `address`, made at `site` (the helper's caller).
// The lanes of a warp that reach the same site for the same time form one warp request.
void record_access(MemorySpace space, AccessKind kind, const void* address, std::size_t bytes,
                   const std::source_location& site);

// One warp-wide mma.sync of shape m x n x k: every lane calls it; counted once per warp as
// 2*m*n*k executed tensor-core FLOPs.
void record_mma(int m, int n, int k, const std::source_location& site);

}  // namespace rdm::simt
