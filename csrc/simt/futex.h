// Waiting for a 32-bit atomic word to change (Linux futex). The emulation's sync points
// wake hundreds of threads per block, and a context switch through the kernel costs
// microseconds: a waiter first yields its core a few times (most phases complete while
// the other threads of the block run) and only then sleeps on the word itself, so that
// woken threads do not queue on a mutex. Happens-before comes from the word (release by
// the waker, acquire by the waiter), which ThreadSanitizer understands.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>

namespace rdm::simt::detail {

// Returns true once `word` no longer holds `expected` (acquire), false if `deadline`
// passed first.
bool wait_for_change(const std::atomic<std::uint32_t>& word, std::uint32_t expected,
                     std::chrono::steady_clock::time_point deadline);

// Wakes every thread waiting on `word` / at most one. Call after changing the word.
void wake_all(const std::atomic<std::uint32_t>& word);
void wake_one(const std::atomic<std::uint32_t>& word);

}  // namespace rdm::simt::detail
