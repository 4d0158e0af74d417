// Racecheck and initcheck of shared memory (csrc/simt/instrument.h): planted bugs are
// reported the same way at every run, whatever the OS scheduling; correct code is clean.
#include <cstdint>
#include <string>
#include <vector>

#include "../../csrc/kernels/portable.h"
#include "selftest.h"

using selftest::check;
using selftest::expect_launch_error;
using selftest::site_of_line;

namespace {

// Enables `checks` for the launches of one case, whatever RDM_SIMT_CHECKS says.
struct ChecksGuard {
  explicit ChecksGuard(unsigned checks) : previous(rdm::simt::set_checks(static_cast<int>(checks))) {}
  ~ChecksGuard() { rdm::simt::set_checks(previous); }
  int previous;
};
constexpr unsigned kBoth = rdm::simt::kRacecheck | rdm::simt::kInitcheck;

constexpr int kNeighbourWriteLine = __LINE__ + 6;
constexpr int kNeighbourReadLine = __LINE__ + 7;
template <bool kBarrier>
__global__ void neighbour_kernel(float* out) {
  __shared__ float smem[128];
  const unsigned t = threadIdx.x;
  rdm::store_shared(&smem[t], static_cast<float>(t));
  if constexpr (kBarrier) __syncthreads();
  rdm::store_global(&out[t], rdm::load_shared(&smem[(t + 1) % 128]));
}

SIMT_CASE(racecheck_missing_barrier) {
  ChecksGuard guard(kBoth);
  std::vector<float> out(128);
  std::string first;
  // The report must be the same at every run: it does not depend on which thread ran first.
  for (int run = 0; run < 10; ++run) {
    const std::string message = expect_launch_error(
        [&] {
          rdm::launch_kernel("neighbour_kernel", neighbour_kernel<false>, dim3(1), dim3(128), 0,
                             rdm::StreamHandle{}, out.data());
        },
        {"neighbour_kernel", "racecheck", "thread 0 (0,0,0) writes",
         site_of_line(__FILE__, kNeighbourWriteLine), "thread 127 (127,0,0) reads",
         site_of_line(__FILE__, kNeighbourReadLine), "static __shared__ byte", "before the block's first barrier"});
    check(first.empty() || message == first, "the report changed between runs:\n" + first + "\n" + message);
    first = message;
  }
}

SIMT_CASE(racecheck_fixed_barrier_is_clean) {
  ChecksGuard guard(kBoth);
  std::vector<float> out(128);
  rdm::launch_kernel("neighbour_kernel", neighbour_kernel<true>, dim3(2), dim3(128), 0, rdm::StreamHandle{},
                     out.data());
  for (unsigned t = 0; t < 128; ++t) check(out[t] == static_cast<float>((t + 1) % 128), "wrong neighbour");
}

// Reads a word written in the previous barrier interval, then rewrites it without a barrier
// between its read and another thread's write: a write-after-read race in interval 1.
__global__ void write_after_read_kernel(float* out) {
  __shared__ float smem[64];
  const unsigned t = threadIdx.x;
  rdm::store_shared(&smem[t], 1.f);
  __syncthreads();
  const float v = rdm::load_shared(&smem[63 - t]);
  rdm::store_shared(&smem[t], v + 1.f);
  rdm::store_global(&out[t], v);
}

SIMT_CASE(racecheck_write_after_read) {
  ChecksGuard guard(rdm::simt::kRacecheck);
  std::vector<float> out(64);
  expect_launch_error(
      [&] {
        rdm::launch_kernel("write_after_read_kernel", write_after_read_kernel, dim3(1), dim3(64), 0,
                           rdm::StreamHandle{}, out.data());
      },
      {"racecheck", "between the block's barriers 1 and 2", "reads", "writes"});
}

constexpr int kUnwrittenReadLine = __LINE__ + 6;
__global__ void unwritten_read_kernel(float* out) {
  __shared__ float smem[128];
  const unsigned t = threadIdx.x;
  if (t < 64) rdm::store_shared(&smem[t], 1.f);
  __syncthreads();
  rdm::store_global(&out[t], rdm::load_shared(&smem[t]));
}

SIMT_CASE(initcheck_unwritten_read) {
  ChecksGuard guard(kBoth);
  std::vector<float> out(128);
  expect_launch_error(
      [&] {
        rdm::launch_kernel("unwritten_read_kernel", unwritten_read_kernel, dim3(1), dim3(128), 0,
                           rdm::StreamHandle{}, out.data());
      },
      {"unwritten_read_kernel", "initcheck", "thread 64 (64,0,0) reads", "which no thread of the block has written",
       site_of_line(__FILE__, kUnwrittenReadLine)});
  // Racecheck alone does not look at initialisation.
  rdm::simt::set_checks(rdm::simt::kRacecheck);
  rdm::launch_kernel("unwritten_read_kernel", unwritten_read_kernel, dim3(1), dim3(128), 0, rdm::StreamHandle{},
                     out.data());
}

SIMT_CASE(initcheck_dynamic_offset) {
  ChecksGuard guard(rdm::simt::kInitcheck);
  std::vector<float> out(32);
  auto kernel = [](float* o) {
    RDM_DYNAMIC_SHARED(float, smem);
    rdm::store_shared(&smem[threadIdx.x], 2.f);
    __syncwarp();
    rdm::store_global(&o[threadIdx.x], rdm::load_shared(&smem[threadIdx.x + 1]));  // lane 31 reads smem[32]
  };
  expect_launch_error(
      [&] {
        rdm::launch_kernel("dynamic_kernel", static_cast<void (*)(float*)>(kernel), dim3(1), dim3(32),
                           64 * sizeof(float), rdm::StreamHandle{}, out.data());
      },
      {"initcheck", "thread 31 (31,0,0) reads byte 128 of dynamic shared memory"});
}

// Warp-synchronous exchange: correct with __syncwarp between the write and the read.
template <bool kSyncwarp>
__global__ void warp_exchange_kernel(float* out) {
  __shared__ float smem[64];
  const unsigned t = threadIdx.x;
  rdm::store_shared(&smem[t], static_cast<float>(t));
  if constexpr (kSyncwarp) __syncwarp();
  const float v = rdm::load_shared(&smem[t ^ 1u]);
  if constexpr (kSyncwarp) __syncwarp();
  rdm::store_shared(&smem[t], v * 2.f);  // overwrites what the neighbour read: needs the second __syncwarp
  if constexpr (kSyncwarp) __syncwarp();
  rdm::store_global(&out[t], rdm::load_shared(&smem[t ^ 1u]));
}

SIMT_CASE(racecheck_syncwarp_is_clean) {
  ChecksGuard guard(kBoth);
  std::vector<float> out(64);
  rdm::launch_kernel("warp_exchange_kernel", warp_exchange_kernel<true>, dim3(1), dim3(64), 0, rdm::StreamHandle{},
                     out.data());
  for (unsigned t = 0; t < 64; ++t) check(out[t] == 2.f * static_cast<float>(t), "wrong warp exchange");
}

SIMT_CASE(racecheck_missing_syncwarp) {
  ChecksGuard guard(rdm::simt::kRacecheck);
  std::vector<float> out(64);
  expect_launch_error(
      [&] {
        rdm::launch_kernel("warp_exchange_kernel", warp_exchange_kernel<false>, dim3(1), dim3(64), 0,
                           rdm::StreamHandle{}, out.data());
      },
      {"racecheck", "thread 0 (0,0,0) writes", "thread 1 (1,0,0) reads"});
}

// Threads of two warps add to one shared counter with atomics: atomics do not race with
// each other, but a plain read of the counter before the barrier does.
template <bool kPlainRead>
__global__ void shared_counter_kernel(int* out) {
  __shared__ int counter;
  if (threadIdx.x == 0) rdm::store_shared(&counter, 0);
  __syncthreads();
  rdm::atomic_add(&counter, 1);
  if constexpr (kPlainRead) rdm::store_global(&out[threadIdx.x], rdm::load_shared(&counter));
  __syncthreads();
  if (threadIdx.x == 0) rdm::store_global(&out[0], rdm::load_shared(&counter));
}

SIMT_CASE(racecheck_atomics) {
  ChecksGuard guard(kBoth);
  std::vector<int> out(64, -1);
  rdm::launch_kernel("shared_counter_kernel", shared_counter_kernel<false>, dim3(1), dim3(64), 0,
                     rdm::StreamHandle{}, out.data());
  check(out[0] == 64, "wrong atomic count");
  expect_launch_error(
      [&] {
        rdm::launch_kernel("shared_counter_kernel", shared_counter_kernel<true>, dim3(1), dim3(64), 0,
                           rdm::StreamHandle{}, out.data());
      },
      {"racecheck", "atomically updates"});
}

SIMT_CASE(checks_env_parsing) {
  check(rdm::simt::parse_checks("race,init") == kBoth, "race,init");
  check(rdm::simt::parse_checks("initcheck") == rdm::simt::kInitcheck, "initcheck");
  check(rdm::simt::parse_checks("none") == 0 && rdm::simt::parse_checks("") == 0, "none");
  check(rdm::simt::checks_str(kBoth) == "race,init", "checks_str");
  expect_launch_error([] { rdm::simt::parse_checks("race,bogus"); }, {"unknown check 'bogus'"});
}

}  // namespace
