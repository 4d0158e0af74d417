// Block-wide barriers. Threads that have returned from the kernel no longer take part
// (Volta+ semantics). All other threads must arrive from the same call site; a thread
// arriving from another one is reported as a divergent barrier.
#pragma once
#include <atomic>
#include <source_location>

#include "block_sync.h"

inline void __syncthreads(std::source_location loc = std::source_location::current()) {
  ::rdm::simt::detail::block_sync().barrier("__syncthreads", ::rdm::simt::CallSite::from(loc), false);
}

inline int __syncthreads_count(int predicate, std::source_location loc = std::source_location::current()) {
  return static_cast<int>(::rdm::simt::detail::block_sync()
                              .barrier("__syncthreads_count", ::rdm::simt::CallSite::from(loc), predicate != 0)
                              .true_count);
}

inline int __syncthreads_and(int predicate, std::source_location loc = std::source_location::current()) {
  const auto r = ::rdm::simt::detail::block_sync().barrier("__syncthreads_and", ::rdm::simt::CallSite::from(loc),
                                                           predicate != 0);
  return r.true_count == r.participants;
}

inline int __syncthreads_or(int predicate, std::source_location loc = std::source_location::current()) {
  return ::rdm::simt::detail::block_sync()
             .barrier("__syncthreads_or", ::rdm::simt::CallSite::from(loc), predicate != 0)
             .true_count != 0;
}

namespace rdm::simt::detail {
inline void fence() {
#if !defined(__SANITIZE_THREAD__)  // TSan does not model fences; without them it is stricter
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}
}  // namespace rdm::simt::detail

// Memory fences. The emulation runs blocks one after another, so these only order memory
// between the threads of one block (see docs/kernels.md on the memory model).
inline void __threadfence_block() { ::rdm::simt::detail::fence(); }
inline void __threadfence() { ::rdm::simt::detail::fence(); }
inline void __threadfence_system() { ::rdm::simt::detail::fence(); }
