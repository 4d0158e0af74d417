// Synchronisation state of the block being emulated: the block-wide barrier, the warp
// exchanges behind every warp collective, divergence and deadlock detection, timeouts and
// launch abort. One block runs at a time, so there is a single instance.
#pragma once
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "call_site.h"

namespace rdm::simt::detail {

// Bytes one lane contributes to a warp exchange (the largest user, mma, needs 24).
inline constexpr std::size_t kWarpSlotBytes = 32;
struct alignas(16) WarpSlot {
  unsigned char bytes[kWarpSlotBytes];
};

// The value lane `lane` published in a warp exchange.
template <class T>
T slot_value(const WarpSlot* slots, unsigned lane) {
  T out;
  std::memcpy(&out, slots[lane].bytes, sizeof(T));
  return out;
}

struct BarrierResult {
  unsigned true_count;    // participants whose predicate was non-zero
  unsigned participants;  // threads that took part (exited threads do not)
};

class BlockSync {
 public:
  // Prepares for a block of `nthreads` threads. Called only while no kernel thread runs.
  void reset(unsigned nthreads, std::chrono::nanoseconds timeout);

  // Block-wide barrier of the calling kernel thread. `op` names the CUDA function.
  BarrierResult barrier(const char* op, const CallSite& site, bool predicate);

  // Warp collective of the calling kernel thread: publishes `bytes` bytes of `data` and
  // returns the 32 slots of its warp once every lane of the warp has published (slots of
  // lanes that do not exist in a partial warp are unspecified). The slots stay valid until
  // the caller's next collective.
  const WarpSlot* warp_exchange(const char* op, const CallSite& site, unsigned mask, const void* data,
                                std::size_t bytes);

  // Lanes of the caller's warp that exist and have not exited.
  unsigned active_lanes();

  // Called by the pool once per thread, after the kernel body returned or unwound.
  void thread_exited();

  // Records `message` as the launch's error (the first one wins) and wakes every waiter.
  void abort(std::string message);

  // The error recorded for the current block, empty if none. Called by the launcher.
  std::string error();

  // Counts arrivals at barriers and collectives and thread exits: the launcher's watchdog
  // looks for a block that stopped making progress.
  std::uint64_t progress() const { return progress_.load(std::memory_order_relaxed); }

  // Block barriers completed in the current block. A thread reads the number of the
  // barrier interval it is in: the count cannot move before the thread arrives again.
  std::uint32_t barriers_completed() const { return barriers_completed_.load(std::memory_order_relaxed); }

  // Whether an error has been recorded for the current block.
  bool aborted() const { return aborted_.load(); }

  // Where every thread of the block is: waiting at which call site, running, or exited.
  std::string state_report();

 private:
  struct Phase {
    CallSite site;
    const char* op = "";
    unsigned first_thread = 0;
  };
  struct Warp {
    std::uint32_t existing = 0;    // lanes present in this warp
    std::uint32_t exited = 0;      // lanes whose kernel body has returned
    std::uint32_t arrived = 0;     // lanes waiting in the open collective `phase`
    std::uint32_t at_barrier = 0;  // lanes waiting at the block barrier
    // Completed collectives (bumped on abort too); waiters block on it, its parity selects
    // the slot buffer.
    std::atomic<std::uint32_t> generation{0};
    Phase phase;
    WarpSlot slots[2][32];
  };

  // Releases `lock` and blocks until `generation` moves past `seen`; throws LaunchAborted
  // if the launch was aborted, and aborts it with a report when the timeout expires.
  void await_generation(std::unique_lock<std::mutex>& lock, const std::atomic<std::uint32_t>& generation,
                       std::uint32_t seen);
  static void advance(std::atomic<std::uint32_t>& generation);
  [[noreturn]] void fail_locked(std::string message);
  void abort_locked(std::string message);
  void complete_barrier_locked();
  std::string describe_thread(unsigned linear) const;
  std::string timeout_report_locked() const;
  std::string state_report_locked() const;

  // Guards all state below except the generations (atomics waited on without the mutex)
  // and aborted_ (also read without it).
  std::mutex mutex_;
  std::vector<std::unique_ptr<Warp>> warps_;  // grown on demand, reused across blocks
  unsigned nwarps_ = 0;
  unsigned live_ = 0;  // threads that have not exited
  unsigned barrier_arrived_ = 0;
  unsigned barrier_true_ = 0;
  std::atomic<std::uint32_t> barrier_generation_{0};
  std::atomic<std::uint32_t> barriers_completed_{0};  // in this block (barrier_generation_ also moves on abort)
  Phase barrier_phase_;
  BarrierResult barrier_result_{};
  std::chrono::nanoseconds timeout_{};
  std::atomic<bool> aborted_{false};
  std::atomic<std::uint64_t> progress_{0};
  std::string error_;
};

BlockSync& block_sync();

}  // namespace rdm::simt::detail
