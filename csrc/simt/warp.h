// Warp collectives: shuffles, votes and __syncwarp, following PTX's member-mask rules: the
// lanes named in `mask` exchange among themselves, every one of them must reach the
// collective from the same call site with the same mask before it exits, the calling lane
// must be in `mask`, and a shuffle must read from a lane in `mask`. Lanes of disjoint masks
// proceed independently.
#pragma once
#include <cstdint>
#include <cstdio>
#include <source_location>
#include <string>
#include <type_traits>

#include "block_sync.h"
#include "builtins.h"
#include "call_site.h"
#include "fp16.h"

namespace rdm::simt {

// Types CUDA's __shfl*_sync accept.
template <class T>
concept Shuffleable =
    std::is_same_v<T, int> || std::is_same_v<T, unsigned int> || std::is_same_v<T, long> ||
    std::is_same_v<T, unsigned long> || std::is_same_v<T, long long> || std::is_same_v<T, unsigned long long> ||
    std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, __half> ||
    std::is_same_v<T, __half2> || std::is_same_v<T, __nv_bfloat16> || std::is_same_v<T, __nv_bfloat162>;

namespace detail {

inline std::string hex_string(unsigned mask) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", mask);
  return buf;
}

// Publishes `value` and returns the warp's slots (see BlockSync::warp_exchange).
template <class T>
const WarpSlot* exchange(const char* op, const std::source_location& loc, unsigned mask, const T& value) {
  static_assert(sizeof(T) <= kWarpSlotBytes && std::is_trivially_copyable_v<T>);
  return block_sync().warp_exchange(op, CallSite::from(loc), mask, &value, sizeof(T));
}

// Shuffle core, following PTX shfl.sync: `src` is the lane computed by the caller, or the
// caller's own lane when the source lies outside its `width` segment.
template <class T>
T shuffle(const char* op, const std::source_location& loc, unsigned mask, const T& value, unsigned src,
          int width) {
  if (width <= 0 || width > static_cast<int>(kWarpSize) || (width & (width - 1)) != 0)
    fault(std::string(op) + " at " + CallSite::from(loc).str() + ": width " + std::to_string(width) +
          " is not a power of two in [1, 32]");
  const WarpSlot* slots = exchange(op, loc, mask, value);
  if (!((mask >> src) & 1u))
    fault(std::string(op) + " at " + CallSite::from(loc).str() + ": lane " + std::to_string(lane_id()) +
          " reads lane " + std::to_string(src) + ", which is not in the member mask " + hex_string(mask) +
          " (PTX leaves the result undefined)");
  return slot_value<T>(slots, src);
}

inline unsigned ballot(const char* op, const std::source_location& loc, unsigned mask, int predicate) {
  const WarpSlot* slots = exchange(op, loc, mask, predicate != 0);
  unsigned result = 0;
  for (unsigned lane = 0; lane < kWarpSize; ++lane)
    if (((mask >> lane) & 1u) && slot_value<bool>(slots, lane)) result |= 1u << lane;
  return result;
}

// First lane of the caller's `width` segment.
inline unsigned segment_base(int width) { return lane_id() & ~(static_cast<unsigned>(width) - 1u); }

}  // namespace detail
}  // namespace rdm::simt

template <::rdm::simt::Shuffleable T>
T __shfl_sync(unsigned mask, T var, int src_lane, int width = 32,
              std::source_location loc = std::source_location::current()) {
  const unsigned src = ::rdm::simt::detail::segment_base(width) +
                       (static_cast<unsigned>(src_lane) & (static_cast<unsigned>(width) - 1u));
  return ::rdm::simt::detail::shuffle("__shfl_sync", loc, mask, var, width > 0 ? src : 0u, width);
}

template <::rdm::simt::Shuffleable T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = 32,
                 std::source_location loc = std::source_location::current()) {
  const unsigned lane = ::rdm::simt::lane_id();
  const bool inside = lane - ::rdm::simt::detail::segment_base(width) >= delta;
  return ::rdm::simt::detail::shuffle("__shfl_up_sync", loc, mask, var, inside ? lane - delta : lane, width);
}

template <::rdm::simt::Shuffleable T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = 32,
                   std::source_location loc = std::source_location::current()) {
  const unsigned lane = ::rdm::simt::lane_id();
  const unsigned last = ::rdm::simt::detail::segment_base(width) + static_cast<unsigned>(width) - 1u;
  const bool inside = static_cast<unsigned long long>(lane) + delta <= last;
  return ::rdm::simt::detail::shuffle("__shfl_down_sync", loc, mask, var, inside ? lane + delta : lane, width);
}

// PTX shfl.bfly: the source may lie in a lower segment but not in a higher one.
template <::rdm::simt::Shuffleable T>
T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = 32,
                  std::source_location loc = std::source_location::current()) {
  const unsigned lane = ::rdm::simt::lane_id();
  const unsigned src = lane ^ static_cast<unsigned>(lane_mask);
  const unsigned last = ::rdm::simt::detail::segment_base(width) + static_cast<unsigned>(width) - 1u;
  return ::rdm::simt::detail::shuffle("__shfl_xor_sync", loc, mask, var, src <= last ? src : lane, width);
}

inline unsigned __ballot_sync(unsigned mask, int predicate,
                              std::source_location loc = std::source_location::current()) {
  return ::rdm::simt::detail::ballot("__ballot_sync", loc, mask, predicate);
}

inline int __any_sync(unsigned mask, int predicate, std::source_location loc = std::source_location::current()) {
  return ::rdm::simt::detail::ballot("__any_sync", loc, mask, predicate) != 0;
}

inline int __all_sync(unsigned mask, int predicate, std::source_location loc = std::source_location::current()) {
  return ::rdm::simt::detail::ballot("__all_sync", loc, mask, predicate) == mask;
}

inline void __syncwarp(unsigned mask = 0xffffffffu, std::source_location loc = std::source_location::current()) {
  ::rdm::simt::detail::exchange("__syncwarp", loc, mask, 0);
}

// The lanes of the warp that exist and have not exited. (On a GPU: the lanes currently
// converged, which code should not depend on.)
inline unsigned __activemask() { return ::rdm::simt::detail::block_sync().active_lanes(); }
