#include "block_sync.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "builtins.h"
#include "futex.h"
#include "instrument.h"

namespace rdm::simt::detail {

namespace {

std::string hex_mask(std::uint32_t mask) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", mask);
  return buf;
}

// Formats the threads selected by per-warp lane masks as ranges of linear thread ids.
template <class LaneMask>
std::string thread_ranges(unsigned nwarps, LaneMask lane_mask) {
  std::string out;
  long start = -1;
  unsigned total = nwarps * kWarpSize;
  for (unsigned t = 0; t <= total; ++t) {
    bool in = t < total && ((lane_mask(t / kWarpSize) >> (t % kWarpSize)) & 1u);
    if (in && start < 0) start = t;
    if (!in && start >= 0) {
      if (!out.empty()) out += ", ";
      out += std::to_string(start);
      if (t - 1 > static_cast<unsigned>(start)) out += "-" + std::to_string(t - 1);
      start = -1;
    }
  }
  return out.empty() ? "none" : out;
}

}  // namespace

BlockSync& block_sync() {
  static BlockSync instance;
  return instance;
}

void BlockSync::reset(unsigned nthreads, std::chrono::nanoseconds timeout) {
  std::lock_guard lock(mutex_);
  nwarps_ = (nthreads + kWarpSize - 1) / kWarpSize;
  while (warps_.size() < nwarps_) warps_.push_back(std::make_unique<Warp>());
  for (unsigned w = 0; w < nwarps_; ++w) {
    Warp& warp = *warps_[w];
    unsigned lanes = std::min(kWarpSize, nthreads - w * kWarpSize);
    warp.existing = lanes == kWarpSize ? ~0u : (1u << lanes) - 1u;
    warp.exited = warp.arrived = warp.at_barrier = 0;
  }
  live_ = nthreads;
  barrier_arrived_ = barrier_true_ = 0;
  barriers_completed_.store(0, std::memory_order_relaxed);
  timeout_ = timeout;
  aborted_.store(false);
  error_.clear();
}

std::string BlockSync::describe_thread(unsigned linear) const {
  const dim3& b = detail::g_grid.block_dim;
  return "thread " + std::to_string(linear) + " (" + std::to_string(linear % b.x) + "," +
         std::to_string(linear / b.x % b.y) + "," + std::to_string(linear / (b.x * b.y)) + ")";
}

void BlockSync::advance(std::atomic<std::uint32_t>& generation) {
  generation.fetch_add(1, std::memory_order_release);
  wake_all(generation);
}

void BlockSync::abort_locked(std::string message) {
  if (!aborted_) {
    error_ = std::move(message);
    aborted_.store(true);
  }
  // Moving every generation wakes all waiters, who then see aborted_.
  advance(barrier_generation_);
  for (unsigned w = 0; w < nwarps_; ++w) advance(warps_[w]->generation);
}

void BlockSync::fail_locked(std::string message) {
  abort_locked(std::move(message));
  throw LaunchAborted{};
}

void BlockSync::abort(std::string message) {
  std::lock_guard lock(mutex_);
  abort_locked(std::move(message));
}

std::string BlockSync::error() {
  std::lock_guard lock(mutex_);
  return error_;
}

void BlockSync::await_generation(std::unique_lock<std::mutex>& lock, const std::atomic<std::uint32_t>& generation,
                                std::uint32_t seen) {
  lock.unlock();
  if (!wait_for_change(generation, seen, std::chrono::steady_clock::now() + timeout_)) {
    lock.lock();
    if (generation.load(std::memory_order_acquire) == seen && !aborted_) fail_locked(timeout_report_locked());
    lock.unlock();
  }
  // After an abort nobody continues, even if the phase completed: the launch has failed.
  if (aborted_.load()) throw LaunchAborted{};
}

void BlockSync::complete_barrier_locked() {
  barrier_result_ = {barrier_true_, barrier_arrived_};
  barrier_arrived_ = barrier_true_ = 0;
  for (unsigned w = 0; w < nwarps_; ++w) warps_[w]->at_barrier = 0;
  barriers_completed_.fetch_add(1, std::memory_order_relaxed);  // published by the generation's release
  advance(barrier_generation_);
}

BarrierResult BlockSync::barrier(const char* op, const CallSite& site, bool predicate) {
  if (!t_thread.in_kernel) fault(std::string(op) + " at " + site.str() + " called");
  const unsigned me = linear_thread();
  Warp& warp = *warps_[me / kWarpSize];
  const std::uint32_t bit = 1u << (me % kWarpSize);
  std::unique_lock lock(mutex_);
  if (aborted_) throw LaunchAborted{};
  if (warp.arrived)
    fail_locked("deadlock: " + describe_thread(me) + " reached " + op + " at " + site.str() + " while lanes " +
                hex_mask(warp.arrived) + " of its warp wait in " + warp.phase.op + " at " + warp.phase.site.str() +
                "; a warp collective needs every lane of the warp, a block barrier every thread of the block");
  if (barrier_arrived_ == 0) {
    barrier_phase_ = {site, op, me};
  } else if (!site.same_as(barrier_phase_.site)) {
    fail_locked("divergent barrier: " + describe_thread(barrier_phase_.first_thread) + " waits in " +
                barrier_phase_.op + " at " + barrier_phase_.site.str() + " but " + describe_thread(me) +
                " reached " + op + " at " + site.str() +
                "; every non-exited thread of a block must reach the same barrier");
  }
  progress_.fetch_add(1, std::memory_order_relaxed);
  ++barrier_arrived_;
  barrier_true_ += predicate ? 1u : 0u;
  warp.at_barrier |= bit;
  if (barrier_arrived_ == live_)
    complete_barrier_locked();
  else  // the result is written before the generation moves and stays until we arrive again
    await_generation(lock, barrier_generation_, barrier_generation_.load(std::memory_order_relaxed));
  return barrier_result_;
}

const WarpSlot* BlockSync::warp_exchange(const char* op, const CallSite& site, unsigned mask, const void* data,
                                         std::size_t bytes) {
  if (!t_thread.in_kernel) fault(std::string(op) + " at " + site.str() + " called");
  note_warp_collective();  // the lane's later shared-memory accesses come after it (racecheck)
  const unsigned me = linear_thread();
  const unsigned w = me / kWarpSize;
  Warp& warp = *warps_[w];
  const unsigned lane = me % kWarpSize;
  std::unique_lock lock(mutex_);
  if (aborted_) throw LaunchAborted{};
  auto where = [&] {  // only built on error: this is the hot path of every shuffle
    return std::string(op) + " at " + site.str() + " (" + describe_thread(me) + ", warp " + std::to_string(w) + ")";
  };
  if (mask != warp.existing)
    fail_locked(where() + ": member mask " + hex_mask(mask) + " differs from the warp's lanes " +
                hex_mask(warp.existing) + "; the emulation supports full-mask warp collectives only");
  if (warp.exited)
    fail_locked(where() + ": lanes " + hex_mask(warp.exited) +
                " of the warp have already exited; a full-mask collective needs every lane");
  if (warp.at_barrier)
    fail_locked("deadlock: " + where() + " while lanes " + hex_mask(warp.at_barrier) + " of its warp wait in " +
                barrier_phase_.op + " at " + barrier_phase_.site.str());
  if (warp.arrived == 0) {
    warp.phase = {site, op, me};
  } else if (!site.same_as(warp.phase.site)) {
    fail_locked("divergent warp collective: " + describe_thread(warp.phase.first_thread) + " waits in " +
                warp.phase.op + " at " + warp.phase.site.str() + " but " + describe_thread(me) + " reached " + op +
                " at " + site.str() + "; every lane of a warp must reach the same collective");
  }
  // Double buffering: a lane can only publish into this buffer again two collectives
  // later, after every lane has arrived at the next one, i.e. finished reading this one.
  const std::uint32_t generation = warp.generation.load(std::memory_order_relaxed);
  WarpSlot* slots = warp.slots[generation & 1];
  std::memcpy(slots[lane].bytes, data, bytes);
  progress_.fetch_add(1, std::memory_order_relaxed);
  warp.arrived |= 1u << lane;
  if (warp.arrived == warp.existing) {
    warp.arrived = 0;
    advance(warp.generation);
  } else {
    await_generation(lock, warp.generation, generation);
  }
  return slots;
}

unsigned BlockSync::active_lanes() {
  if (!t_thread.in_kernel) fault("__activemask() called");
  const Warp& warp = *warps_[warp_id()];
  std::lock_guard lock(mutex_);
  if (aborted_) throw LaunchAborted{};
  return warp.existing & ~warp.exited;
}

void BlockSync::thread_exited() {
  const unsigned me = linear_thread();
  Warp& warp = *warps_[me / kWarpSize];
  std::lock_guard lock(mutex_);
  warp.exited |= 1u << (me % kWarpSize);
  progress_.fetch_add(1, std::memory_order_relaxed);
  --live_;
  if (warp.arrived && !aborted_)
    abort_locked(describe_thread(me) + " exited while lanes " + hex_mask(warp.arrived) + " of its warp wait in " +
                 warp.phase.op + " at " + warp.phase.site.str() +
                 "; a full-mask collective needs every lane of the warp");
  if (barrier_arrived_ != 0 && barrier_arrived_ == live_) complete_barrier_locked();
}

std::string BlockSync::timeout_report_locked() const {
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%g", std::chrono::duration<double>(timeout_).count());
  return std::string("timeout: a synchronisation point did not complete within ") + seconds +
         " s (set RDM_SIMT_TIMEOUT_S to change); " + state_report_locked();
}

std::string BlockSync::state_report() {
  std::lock_guard lock(mutex_);
  return state_report_locked();
}

std::string BlockSync::state_report_locked() const {
  std::string report = "thread ids are linear (x + blockDim.x * (y + blockDim.y * z)).";
  if (barrier_arrived_)
    report += "\n  waiting in " + std::string(barrier_phase_.op) + " at " + barrier_phase_.site.str() +
              ": threads " + thread_ranges(nwarps_, [&](unsigned w) { return warps_[w]->at_barrier; });
  for (unsigned w = 0; w < nwarps_; ++w) {
    const Warp& warp = *warps_[w];
    if (warp.arrived)
      report += "\n  waiting in " + std::string(warp.phase.op) + " at " + warp.phase.site.str() + ": threads " +
                thread_ranges(nwarps_, [&](unsigned v) { return v == w ? warp.arrived : 0u; });
  }
  report += "\n  not at any barrier or collective (still running): threads " +
            thread_ranges(nwarps_, [&](unsigned w) {
              const Warp& warp = *warps_[w];
              return warp.existing & ~warp.exited & ~warp.arrived & ~warp.at_barrier;
            });
  report += "\n  exited: threads " + thread_ranges(nwarps_, [&](unsigned w) { return warps_[w]->exited; });
  return report;
}

void fault(std::string message) {
  if (!t_thread.in_kernel) throw LaunchError("rdm SIMT: " + message + " (outside of a kernel launch)");
  block_sync().abort(std::move(message));
  throw LaunchAborted{};
}

}  // namespace rdm::simt::detail
