#include "block_sync.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <iterator>

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
    warp.exited = warp.at_barrier = warp.open = 0;
    for (Group& group : warp.groups) group.arrived = group.readers = 0;
    std::fill(std::begin(warp.reading), std::end(warp.reading), std::int8_t{-1});
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
  for (unsigned w = 0; w < nwarps_; ++w)  // only open groups have waiters
    for (std::uint32_t open = warps_[w]->open; open; open &= open - 1)
      advance(warps_[w]->groups[std::countr_zero(open)].generation);
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
  if (const Group* group = group_waiting_for(warp, bit))
    fail_locked("deadlock: " + describe_thread(me) + " reached " + op + " at " + site.str() + " while lanes " +
                hex_mask(group->arrived) + " of its warp wait for it in " + group->phase.op + " at " +
                group->phase.site.str() +
                "; a warp collective needs every lane of its member mask, a block barrier every thread of the block");
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

const BlockSync::Group* BlockSync::group_waiting_for(const Warp& warp, std::uint32_t bit) {
  for (std::uint32_t open = warp.open; open; open &= open - 1) {
    const Group& group = warp.groups[std::countr_zero(open)];
    if ((group.mask & bit) && !(group.arrived & bit)) return &group;
  }
  return nullptr;
}

std::uint32_t BlockSync::waiting_lanes(const Warp& warp) {
  std::uint32_t lanes = 0;
  for (std::uint32_t open = warp.open; open; open &= open - 1) lanes |= warp.groups[std::countr_zero(open)].arrived;
  return lanes;
}

void BlockSync::release_locked(Warp& warp, unsigned lane) {
  if (warp.reading[lane] < 0) return;
  warp.groups[warp.reading[lane]].readers &= ~(1u << lane);
  warp.reading[lane] = -1;
}

const WarpSlot* BlockSync::warp_exchange(const char* op, const CallSite& site, unsigned mask, const void* data,
                                         std::size_t bytes) {
  if (!t_thread.in_kernel) fault(std::string(op) + " at " + site.str() + " called");
  note_warp_collective();  // the lane's later shared-memory accesses come after it (racecheck)
  const unsigned me = linear_thread();
  const unsigned w = me / kWarpSize;
  Warp& warp = *warps_[w];
  const unsigned lane = me % kWarpSize;
  const std::uint32_t bit = 1u << lane;
  std::unique_lock lock(mutex_);
  if (aborted_) throw LaunchAborted{};
  auto where = [&] {  // only built on error: this is the hot path of every shuffle
    return std::string(op) + " at " + site.str() + " (" + describe_thread(me) + ", warp " + std::to_string(w) + ")";
  };
  // PTX: the executing thread must be in the member mask, and every non-exited thread of
  // the mask must execute the same collective with the same mask.
  if (!(mask & bit))
    fail_locked(where() + ": member mask " + hex_mask(mask) + " does not name the calling lane " +
                std::to_string(lane) + "; a lane may only call collectives whose mask names it");
  if (mask & ~warp.existing)
    fail_locked(where() + ": member mask " + hex_mask(mask) + " names lanes " + hex_mask(mask & ~warp.existing) +
                " that do not exist in this warp (its lanes are " + hex_mask(warp.existing) + ")");
  if (mask & warp.exited)
    fail_locked(where() + ": lanes " + hex_mask(mask & warp.exited) +
                " of the warp have already exited; a collective needs every lane of its member mask " +
                hex_mask(mask));
  if (mask & warp.at_barrier)
    fail_locked("deadlock: " + where() + " while lanes " + hex_mask(mask & warp.at_barrier) +
                " of its member mask wait in " + barrier_phase_.op + " at " + barrier_phase_.site.str());
  release_locked(warp, lane);
  int index = -1;
  for (std::uint32_t open = warp.open; open && index < 0; open &= open - 1) {
    const int i = std::countr_zero(open);
    const Group& group = warp.groups[i];
    const bool same_site = site.same_as(group.phase.site);
    if (group.mask == mask && !same_site)
      fail_locked("divergent warp collective: " + describe_thread(group.phase.first_thread) + " waits in " +
                  group.phase.op + " at " + group.phase.site.str() + " but " + describe_thread(me) + " reached " +
                  op + " at " + site.str() + "; every lane of a member mask must reach the same collective");
    if (group.mask != mask && (group.mask & mask) && same_site)
      fail_locked(where() + ": member mask " + hex_mask(mask) + " differs from the mask " + hex_mask(group.mask) +
                  " that lanes " + hex_mask(group.arrived) +
                  " passed at this collective; every lane named in a mask must pass the same mask");
    if (group.mask == mask) index = i;
  }
  if (index < 0) {  // the first member to arrive opens a group
    index = 0;
    while (((warp.open >> index) & 1u) || warp.groups[index].readers) ++index;  // a free one exists: see Warp
    warp.open |= 1u << index;
    warp.groups[index].mask = mask;
    warp.groups[index].phase = {site, op, me};
  }
  Group& group = warp.groups[index];
  std::memcpy(group.slots[lane].bytes, data, bytes);
  progress_.fetch_add(1, std::memory_order_relaxed);
  group.arrived |= bit;
  group.readers |= bit;
  warp.reading[lane] = static_cast<std::int8_t>(index);
  const std::uint32_t generation = group.generation.load(std::memory_order_relaxed);
  if (group.arrived == mask) {
    group.arrived = 0;
    warp.open &= ~(1u << index);
    advance(group.generation);
  } else {
    await_generation(lock, group.generation, generation);
  }
  return group.slots;
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
  const std::uint32_t bit = 1u << (me % kWarpSize);
  warp.exited |= bit;
  release_locked(warp, me % kWarpSize);
  progress_.fetch_add(1, std::memory_order_relaxed);
  --live_;
  const Group* group = group_waiting_for(warp, bit);
  if (group && !aborted_)
    abort_locked(describe_thread(me) + " exited while lanes " + hex_mask(group->arrived) +
                 " of its warp wait for it in " + group->phase.op + " at " + group->phase.site.str() +
                 "; a collective needs every lane of its member mask " + hex_mask(group->mask));
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
    for (std::uint32_t open = warp.open; open; open &= open - 1) {
      const Group& group = warp.groups[std::countr_zero(open)];
      report += "\n  waiting in " + std::string(group.phase.op) + " at " + group.phase.site.str() + ": threads " +
                thread_ranges(nwarps_, [&](unsigned v) { return v == w ? group.arrived : 0u; }) +
                " (member mask " + hex_mask(group.mask) + ")";
    }
  }
  report += "\n  not at any barrier or collective (still running): threads " +
            thread_ranges(nwarps_, [&](unsigned w) {
              const Warp& warp = *warps_[w];
              return warp.existing & ~warp.exited & ~waiting_lanes(warp) & ~warp.at_barrier;
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
