// Block barriers: the four flavours, exited threads, and the planted bugs the layer must
// report (divergent barrier, barrier/collective deadlock, hang caught by the timeout).
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "../../csrc/kernels/portable.h"
#include "selftest.h"

using selftest::check;

namespace {

// Rotates values through shared memory many times; any barrier that does not hold would
// let a thread read a stale or poisoned element.
__global__ void rotate_kernel(int rounds, int* out) {
  __shared__ int buf[2][256];
  const unsigned n = blockDim.x * blockDim.y * blockDim.z;
  const unsigned t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  int v = static_cast<int>(t);
  for (int r = 0; r < rounds; ++r) {
    buf[r % 2][t] = v;
    __syncthreads();
    v = buf[r % 2][(t + 1) % n];
  }
  out[t] = v;
}

SIMT_CASE(syncthreads_basic) {
  const dim3 block(8, 4, 4);
  std::vector<int> out(128);
  rdm::launch_kernel("rotate_kernel", rotate_kernel, dim3(2), block, 0, rdm::StreamHandle{}, 37, out.data());
  for (int t = 0; t < 128; ++t) check(out[t] == (t + 37) % 128, "wrong value after rotation at " + std::to_string(t));
}

struct Votes {
  int count, all, any;
};

__global__ void vote_kernel(Votes* out) {
  const int t = threadIdx.x;
  Votes v;
  v.count = __syncthreads_count(t % 3 == 0);
  v.all = __syncthreads_and(t < 1000) * 2 + __syncthreads_and(t != 17);
  v.any = __syncthreads_or(t == 70) * 2 + __syncthreads_or(0);
  out[t] = v;
}

SIMT_CASE(syncthreads_count_and_or) {
  std::vector<Votes> out(96);
  rdm::launch_kernel("vote_kernel", vote_kernel, dim3(1), dim3(96), 0, rdm::StreamHandle{}, out.data());
  for (const Votes& v : out) check(v.count == 32 && v.all == 2 && v.any == 2, "wrong barrier reduction");
}

// Threads that return early stop counting for later barriers (Volta+), also in reductions.
__global__ void early_exit_kernel(int* out) {
  const int t = threadIdx.x;
  if (t >= 40) return;
  __syncthreads();
  const int n = __syncthreads_count(1);
  if (t >= 20) return;
  out[t] = n * 100 + __syncthreads_and(1) + __syncthreads_count(1) * 1000;
}

SIMT_CASE(syncthreads_after_exit) {
  std::vector<int> out(20);
  rdm::launch_kernel("early_exit_kernel", early_exit_kernel, dim3(2), dim3(64), 0, rdm::StreamHandle{}, out.data());
  for (int v : out) check(v == 40 * 100 + 1 + 20 * 1000, "wrong result with exited threads: " + std::to_string(v));
}

constexpr int kDivergentLineA = __LINE__ + 5;
constexpr int kDivergentLineB = __LINE__ + 7;
__global__ void divergent_barrier_kernel(int* out) {
  const int t = threadIdx.x;
  if (t < 32) {
    __syncthreads();
    out[t] = 1;
  } else {
    __syncthreads();
    out[t] = 2;
  }
}

SIMT_CASE(divergent_barrier) {
  std::vector<int> out(64);
  selftest::expect_launch_error(
      [&] {
        rdm::launch_kernel("divergent_barrier_kernel", divergent_barrier_kernel, dim3(1), dim3(64), 0,
                           rdm::StreamHandle{}, out.data());
      },
      {"divergent barrier", "divergent_barrier_kernel", selftest::site_of_line(__FILE__, kDivergentLineA),
       selftest::site_of_line(__FILE__, kDivergentLineB)});
}

// Lanes of one warp split between a block barrier and a warp collective: neither can
// complete. Reported at once, without waiting for the timeout.
__global__ void barrier_shuffle_deadlock_kernel(float* out) {
  float v = static_cast<float>(threadIdx.x);
  if (threadIdx.x < 40) v = __shfl_xor_sync(0xffffffffu, v, 1);
  __syncthreads();
  out[threadIdx.x] = v;
}

SIMT_CASE(barrier_collective_deadlock) {
  std::vector<float> out(64);
  selftest::expect_launch_error(
      [&] {
        rdm::launch_kernel("barrier_shuffle_deadlock_kernel", barrier_shuffle_deadlock_kernel, dim3(1), dim3(64), 0,
                           rdm::StreamHandle{}, out.data());
      },
      {"deadlock", "__syncthreads", "__shfl_xor_sync"});
}

// A hang: thread 0 takes far longer than the timeout to reach the barrier the others wait
// at (as a thread spinning on a flag that never comes would). The timeout fires, reports
// who waits where and who has not arrived, and the launch fails instead of hanging.
constexpr int kHangLine = __LINE__ + 4;
__global__ void slow_thread_kernel(int* out) {
  if (threadIdx.x == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  if (threadIdx.x >= 50) return;
  __syncthreads();
  out[threadIdx.x] = 1;
}

SIMT_CASE(barrier_timeout) {
  setenv("RDM_SIMT_TIMEOUT_S", "0.4", 1);
  std::vector<int> out(64);
  const auto start = std::chrono::steady_clock::now();
  selftest::expect_launch_error(
      [&] {
        rdm::launch_kernel("slow_thread_kernel", slow_thread_kernel, dim3(1), dim3(64), 0, rdm::StreamHandle{},
                           out.data());
      },
      // Exact thread lists depend on scheduling (a loaded machine may not have run every
      // thread yet), but thread 0 is certainly still running.
      {"timeout", "0.4 s", "RDM_SIMT_TIMEOUT_S", "waiting in __syncthreads at ",
       selftest::site_of_line(__FILE__, kHangLine) + ":", "(still running): threads 0", "exited: threads"});
  unsetenv("RDM_SIMT_TIMEOUT_S");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  check(seconds < 10, "the launch took too long to fail: " + std::to_string(seconds) + " s");
}

// A thread busy far longer than the timeout outside any barrier (as an endless loop would
// be): nothing can stop it, but the launcher's watchdog says where every thread is.
__global__ void busy_thread_kernel(int* out) {
  if (threadIdx.x == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  out[threadIdx.x] = 1;
}

SIMT_CASE(watchdog_warning) {
  setenv("RDM_SIMT_TIMEOUT_S", "0.2", 1);
  std::vector<int> out(64);
  rdm::launch_kernel("busy_thread_kernel", busy_thread_kernel, dim3(1), dim3(64), 0, rdm::StreamHandle{}, out.data());
  unsetenv("RDM_SIMT_TIMEOUT_S");
  for (int v : out) check(v == 1, "the slow launch did not complete");
}

}  // namespace
