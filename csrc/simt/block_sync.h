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

// Bytes one lane contributes to a warp exchange (the largest users, mma and stmatrix, need 24).
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

  // Warp collective of the calling kernel thread among the lanes of `mask` (which must name
  // the caller): publishes `bytes` bytes of `data` and returns the 32 slots of its warp once
  // every lane of `mask` has published (slots of lanes outside `mask` are unspecified). The
  // slots stay valid until the caller's next collective. Lanes of disjoint masks exchange
  // independently, even at different call sites.
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
  // One warp collective: the lanes of `mask` exchange among themselves. While open, its
  // members publish into slots[lane]; once all have, it completes and its members read the
  // slots until their next collective (`readers`), after which it can be reused.
  struct Group {
    std::uint32_t mask = 0;
    std::uint32_t arrived = 0;  // members waiting in the open group
    std::uint32_t readers = 0;  // members that may still read the slots
    // Completions (bumped on abort too); members wait on it.
    std::atomic<std::uint32_t> generation{0};
    Phase phase;
    WarpSlot slots[32];
  };
  struct Warp {
    std::uint32_t existing = 0;    // lanes present in this warp
    std::uint32_t exited = 0;      // lanes whose kernel body has returned
    std::uint32_t at_barrier = 0;  // lanes waiting at the block barrier
    std::uint32_t open = 0;        // bit i: groups[i] is open
    // A lane either waits in one open group or reads one completed group, and every group in
    // use has such a lane: 32 groups always suffice.
    Group groups[32];
    std::int8_t reading[32];  // group each lane reads (or waits in), -1 if none
  };

  // The open group of `warp` whose mask names lane bit `bit` and that waits for it, if any.
  static const Group* group_waiting_for(const Warp& warp, std::uint32_t bit);
  // Lanes of `warp` waiting in an open group.
  static std::uint32_t waiting_lanes(const Warp& warp);
  // Ends lane `lane`'s reading of its last group's slots.
  static void release_locked(Warp& warp, unsigned lane);

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
