// cp.async emulation: asynchronous global->shared copies as *deferred* copies.
//
// A copy only lands in shared memory when the issuing thread waits for its commit group
// (cp_async_wait<N> / cp_async_wait_all), so a kernel that forgets a wait reads the poison
// instead of getting the right result by luck. The source is read when the copy is issued.
// Copies still pending when a thread exits are dropped (PTX leaves this unspecified; a
// kernel that relies on it is wrong).
#pragma once
#include <cstddef>
#include <source_location>

namespace rdm::simt {

// Issues a copy of `bytes` (4, 8 or 16: cp-size) bytes, of which the first `src_bytes`
// (src-size, at most cp-size) are read from `gmem_src` now and the rest are zeros; with
// src_bytes == 0 the source is not read. Reports the source read at issue and the
// shared-memory write when the copy lands (instrument.h).
void cp_async(void* smem_dst, const void* gmem_src, std::size_t bytes, std::size_t src_bytes,
              const std::source_location& loc);
// cp.async.commit_group: closes the group of copies issued since the last commit.
void cp_async_commit();
// cp.async.wait_group N: applies the oldest committed groups until at most N are pending
// (any N >= 0; the ISA's N is an integer constant without a documented upper bound).
void cp_async_wait_groups(int pending);
// cp.async.wait_all: applies every issued copy, committed or not.
void cp_async_wait_all();

namespace detail {
// Drops the calling thread's pending copies; the pool calls it before each kernel thread.
void cp_async_reset_thread();
}  // namespace detail

}  // namespace rdm::simt
