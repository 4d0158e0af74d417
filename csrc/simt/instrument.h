// Instrumentation of emulated kernels: what a profiler and compute-sanitizer would see.
// Kernels reach memory through the helpers of portable.h (rdm::load_global, store_shared,
// ldmatrix, cp_async, ...); under the emulation each of them reports here, per lane, before
// the access happens. The runtime turns the reports into per-launch performance counters
// (bytes, 32-byte sectors per warp request, shared-memory bank conflicts, mma FLOPs,
// cp.async bytes, barriers) and, when enabled, racecheck and initcheck of shared memory.
// Under nvcc none of this exists: the helpers are plain loads and stores.
//
// A warp request is what one instruction of one warp does: the lanes of a warp that reach
// the same call site (and, the helpers being inlined, the same machine instruction) for the
// n-th time since the warp's last barrier or warp collective. Every lane passes those
// together, so the n-th times line up even when some lanes skip an access, as long as the
// skipped ones come last in that stretch of code.
#pragma once
#include <cstddef>
#include <cstdint>
#include <source_location>
#include <string>
#include <vector>

#include "vector_types.h"

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

// ---------------------------------------------------------------------------------------
// Bounds of global memory. While a GlobalBuffers of the launching thread lives, its
// launches may touch global memory only inside the buffers added to it (or to an enclosing
// one): record_access fails the launch on an access outside all of them, before the helper
// makes it, so a kernel's out-of-bounds store fails cleanly instead of corrupting the heap.
// With no buffer registered (e.g. the C++ self-test kernels) nothing is checked.
// Ops register every tensor they pass to a kernel through backend::KernelBuffers.
class GlobalBuffers {
 public:
  GlobalBuffers();
  ~GlobalBuffers();  // forgets the buffers added through this object
  GlobalBuffers(const GlobalBuffers&) = delete;
  GlobalBuffers& operator=(const GlobalBuffers&) = delete;
  // [begin, begin + bytes), named in reports; empty ranges are ignored.
  void add(const void* begin, std::size_t bytes, std::string name);

 private:
  std::size_t restore_size_;
};

// One warp-wide mma.sync of shape m x n x k: every lane calls it; counted once per warp as
// 2*m*n*k executed tensor-core FLOPs.
void record_mma(int m, int n, int k, const std::source_location& site);

// ---------------------------------------------------------------------------------------
// Counters of one launch, summed over its blocks.
struct LaunchCounters {
  // Global memory, per warp request: bytes = the distinct bytes the lanes asked for (a
  // broadcast counts once); sectors = distinct 32-byte sectors touched; ideal sectors =
  // ceil(bytes / 32), what a perfectly coalesced request of that many bytes needs.
  // cp.async sources count as loads, atomics as both a load and a store.
  std::uint64_t global_load_requests = 0, global_load_bytes = 0, global_load_sectors = 0,
                global_load_ideal_sectors = 0;
  std::uint64_t global_store_requests = 0, global_store_bytes = 0, global_store_sectors = 0,
                global_store_ideal_sectors = 0;
  // 32 x the distinct sectors loaded / stored by the whole launch: the DRAM traffic if L2
  // kept everything the launch touches (re-reads by other blocks are free).
  std::uint64_t global_load_unique_bytes = 0, global_store_unique_bytes = 0;
  // Shared memory, per warp request: wavefronts = the passes the 32 banks (4 bytes wide)
  // need, per phase (32 lanes for accesses up to 4 bytes, 16 for 8 bytes, 8 for 16 bytes
  // and ldmatrix/stmatrix rows), i.e. the most distinct words any bank serves in a phase;
  // ideal = one per phase with an active lane. bank_conflicts = wavefronts - ideal.
  std::uint64_t shared_load_requests = 0, shared_load_bytes = 0;
  std::uint64_t shared_store_requests = 0, shared_store_bytes = 0;
  std::uint64_t shared_wavefronts = 0, shared_ideal_wavefronts = 0, bank_conflicts = 0;
  std::uint64_t mma_instructions = 0, mma_flops = 0;  // per warp, 2*m*n*k each
  std::uint64_t cp_async_bytes = 0;                   // bytes copied (issued by the lanes)
  std::uint64_t barriers = 0;                         // completed __syncthreads*, summed over blocks
  std::uint64_t blocks = 0;
};

// Correctness checks of shared memory, like compute-sanitizer's racecheck and initcheck.
enum Check : unsigned {
  kRacecheck = 1u,  // a write and another access of the same byte by two threads, no barrier between
  kInitcheck = 2u,  // a read of a shared byte no thread of the block wrote before it
};

struct LaunchRecord {
  std::string kernel;
  dim3 grid, block;
  std::size_t dynamic_smem_bytes = 0;
  unsigned checks = 0;  // the Check bits the launch ran with
  LaunchCounters counters;
};

// The records of the successful launches since the last clear (at most the latest 4096),
// oldest first; `clear` empties the list.
std::vector<LaunchRecord> launch_records(bool clear);
// The same as a JSON array of objects {kernel, grid, block, dynamic_smem_bytes, checks,
// counters: {name: value}}.
std::string launch_records_json(bool clear);

// Which checks launches run: RDM_SIMT_CHECKS (read at each launch: a comma list of race,
// init; "none" or empty for none), unless set_checks() overrides it.
// Parses that list into Check bits; throws LaunchError on an unknown word.
unsigned parse_checks(const std::string& text);
std::string checks_str(unsigned checks);  // "none", "race", "init" or "race,init"
// Overrides RDM_SIMT_CHECKS with `checks` (Check bits), or follows it again for -1.
// Returns the previous override (-1: none). Call between launches.
int set_checks(int checks);
unsigned active_checks();  // what the next launch will run with

namespace detail {
// Launcher side, in order: begin_launch; per block begin_block, (the block runs),
// end_block, which returns a check's report (empty if none); end_launch on success.
void begin_launch(const char* kernel, dim3 grid, dim3 block, std::size_t dynamic_smem_bytes, unsigned checks);
void begin_block(unsigned nthreads);
// Called by a lane when it enters a warp collective (BlockSync::warp_exchange): its accesses
// before and after it get different collective counts.
void note_warp_collective();
std::string end_block();
void end_launch();
}  // namespace detail

}  // namespace rdm::simt
