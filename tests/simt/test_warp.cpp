// Warp collectives: shuffles of every type and width against a direct model of PTX
// shfl.sync, votes, __syncwarp, partial warps, and planted misuse.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "../../csrc/kernels/portable.h"
#include "selftest.h"

using selftest::check;

namespace {

enum class Shfl { kIdx, kUp, kDown, kXor };

// The source lane of each mode, as the CUDA programming guide describes it.
int model_source(Shfl mode, int lane, int arg, int width) {
  const int base = lane / width * width;
  switch (mode) {
    case Shfl::kIdx:
      return base + ((arg % width) + width) % width;
    case Shfl::kUp:
      return lane - base >= arg ? lane - arg : lane;
    case Shfl::kDown:
      return lane - base + arg < width ? lane + arg : lane;
    case Shfl::kXor:
      return (lane ^ arg) < base + width ? (lane ^ arg) : lane;
  }
  return -1;
}

template <class T>
T value_of_lane(int lane) {
  if constexpr (std::is_same_v<T, __half2> || std::is_same_v<T, __nv_bfloat162>)
    return {decltype(T::x)(float(lane)), decltype(T::x)(float(-lane))};
  else
    return T(lane * 3 + 1);
}

template <class T>
std::uint64_t bits_of(const T& v) {
  std::uint64_t b = 0;
  std::memcpy(&b, &v, sizeof(T));
  return b;
}

template <class T>
__global__ void shuffle_kernel(Shfl mode, int arg, int width, std::uint64_t* out) {
  const T mine = value_of_lane<T>(threadIdx.x);
  T got{};
  switch (mode) {
    case Shfl::kIdx:
      got = __shfl_sync(0xffffffffu, mine, arg, width);
      break;
    case Shfl::kUp:
      got = __shfl_up_sync(0xffffffffu, mine, static_cast<unsigned>(arg), width);
      break;
    case Shfl::kDown:
      got = __shfl_down_sync(0xffffffffu, mine, static_cast<unsigned>(arg), width);
      break;
    case Shfl::kXor:
      got = __shfl_xor_sync(0xffffffffu, mine, arg, width);
      break;
  }
  out[threadIdx.x] = bits_of(got);
}

template <class T>
void check_shuffles(const char* type) {
  std::vector<std::uint64_t> out(64);
  for (Shfl mode : {Shfl::kIdx, Shfl::kUp, Shfl::kDown, Shfl::kXor})
    for (int width : {1, 2, 4, 8, 16, 32})
      for (int arg : {0, 1, 3, 5, 8, 16, 31, 33}) {
        rdm::launch_kernel("shuffle_kernel", shuffle_kernel<T>, dim3(1), dim3(64), 0, rdm::StreamHandle{}, mode, arg,
                           width, out.data());
        for (int t = 0; t < 64; ++t) {
          const int src = model_source(mode, t % 32, arg, width) + t / 32 * 32;
          check(out[t] == bits_of(value_of_lane<T>(src)),
                std::string(type) + " shuffle mode " + std::to_string(static_cast<int>(mode)) + " width " +
                    std::to_string(width) + " arg " + std::to_string(arg) + " lane " + std::to_string(t));
        }
      }
}

SIMT_CASE(shfl_int_types) {
  check_shuffles<int>("int");
  check_shuffles<unsigned>("unsigned");
  check_shuffles<long long>("long long");
  check_shuffles<unsigned long long>("unsigned long long");
}

SIMT_CASE(shfl_float_types) {
  check_shuffles<float>("float");
  check_shuffles<double>("double");
  check_shuffles<__half>("__half");
  check_shuffles<__nv_bfloat16>("__nv_bfloat16");
  check_shuffles<__half2>("__half2");
  check_shuffles<__nv_bfloat162>("__nv_bfloat162");
}

// A butterfly reduction, the way kernels use shuffles.
__global__ void warp_sum_kernel(float* out) {
  float v = static_cast<float>(threadIdx.x);
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  out[threadIdx.x] = v;
}

SIMT_CASE(shfl_warp_reduction) {
  std::vector<float> out(128);
  rdm::launch_kernel("warp_sum_kernel", warp_sum_kernel, dim3(1), dim3(128), 0, rdm::StreamHandle{}, out.data());
  for (int t = 0; t < 128; ++t) {
    const int w = t / 32;
    check(out[t] == static_cast<float>(32 * 32 * w + 31 * 32 / 2), "wrong warp sum");
  }
}

struct VoteResult {
  unsigned ballot, active;
  int any, all, none, every;
};

__global__ void vote_kernel(VoteResult* out) {
  const unsigned lane = threadIdx.x % 32;
  VoteResult r;
  r.ballot = __ballot_sync(0xffffffffu, lane % 3 == 0);
  r.any = __any_sync(0xffffffffu, lane == 7);
  r.none = __any_sync(0xffffffffu, 0);
  r.all = __all_sync(0xffffffffu, lane < 32);
  r.every = __all_sync(0xffffffffu, lane != 9);
  __syncwarp();
  r.active = __activemask();
  __syncwarp(0xffffffffu);
  out[threadIdx.x] = r;
}

SIMT_CASE(ballot_any_all) {
  std::vector<VoteResult> out(64);
  rdm::launch_kernel("vote_kernel", vote_kernel, dim3(1), dim3(64), 0, rdm::StreamHandle{}, out.data());
  unsigned expected = 0;
  for (int l = 0; l < 32; l += 3) expected |= 1u << l;
  for (const VoteResult& r : out)
    check(r.ballot == expected && r.any == 1 && r.none == 0 && r.all == 1 && r.every == 0 && r.active == ~0u,
          "wrong vote");
}

// A block of 48 threads: warp 1 has 16 lanes, and its full mask is 0x0000ffff.
__global__ void partial_warp_kernel(unsigned* out) {
  const unsigned mask = threadIdx.x < 32 ? 0xffffffffu : 0x0000ffffu;
  const unsigned v = __shfl_down_sync(mask, threadIdx.x, 1, 16);
  out[threadIdx.x] = __ballot_sync(mask, 1) + 1000 * v;
}

SIMT_CASE(partial_warp) {
  std::vector<unsigned> out(48);
  rdm::launch_kernel("partial_warp_kernel", partial_warp_kernel, dim3(1), dim3(48), 0, rdm::StreamHandle{}, out.data());
  for (unsigned t = 0; t < 48; ++t) {
    const unsigned src = (t % 16) < 15 ? t + 1 : t;
    check(out[t] == (t < 32 ? 0xffffffffu : 0xffffu) + 1000 * src, "wrong result in a partial warp");
  }
}

// Partial masks (PTX member-mask semantics): the two half-warps exchange among themselves
// from different call sites, the upper half only after the lower one has done several
// rounds; the odd lanes reduce among themselves; then the whole warp meets again.
struct PartialMaskResult {
  int rounds;           // sum over three shuffles inside the lane's half-warp
  unsigned ballot;      // ballot of the lane's half-warp
  int all, any;         // votes inside the half-warp
  int odd_sum;          // butterfly sum over the odd lanes (even lanes: -1)
};

__global__ void partial_mask_kernel(PartialMaskResult* out) {
  const int lane = static_cast<int>(threadIdx.x);
  PartialMaskResult r{0, 0, 0, 0, -1};
  if (lane < 16) {
    for (int i = 1; i <= 3; ++i) r.rounds += __shfl_sync(0x0000ffffu, lane * i, (lane + i) % 16);
    r.ballot = __ballot_sync(0x0000ffffu, lane % 2);
    r.all = __all_sync(0x0000ffffu, lane < 16);
    r.any = __any_sync(0x0000ffffu, lane == 3);
  } else {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the lower half must not wait for us
    for (int i = 1; i <= 3; ++i) r.rounds += __shfl_down_sync(0xffff0000u, lane * i, i);
    r.ballot = __ballot_sync(0xffff0000u, lane % 3 == 0);
    r.all = __all_sync(0xffff0000u, lane != 20);
    r.any = __any_sync(0xffff0000u, 0);
  }
  __syncwarp(lane < 16 ? 0x0000ffffu : 0xffff0000u);
  if (lane % 2) {
    int v = lane;
    for (int offset = 2; offset < 32; offset *= 2) v += __shfl_xor_sync(0xaaaaaaaau, v, offset);
    r.odd_sum = v;
  }
  __syncwarp();
  out[threadIdx.x] = r;
}

SIMT_CASE(shfl_partial_mask) {
  std::vector<PartialMaskResult> out(32);
  rdm::launch_kernel("partial_mask_kernel", partial_mask_kernel, dim3(1), dim3(32), 0, rdm::StreamHandle{},
                     out.data());
  unsigned odd_lanes = 0, every_third = 0;
  int odd_sum = 0;
  for (int l = 0; l < 32; ++l) {
    if (l < 16 && l % 2) odd_lanes |= 1u << l;
    if (l >= 16 && l % 3 == 0) every_third |= 1u << l;
    if (l % 2) odd_sum += l;
  }
  for (int l = 0; l < 32; ++l) {
    const PartialMaskResult& r = out[l];
    int rounds = 0;
    for (int i = 1; i <= 3; ++i)  // shfl_down inside 32-lane segments: sources past lane 31 keep their own value
      rounds += l < 16 ? (l + i) % 16 * i : (l + i <= 31 ? l + i : l) * i;
    const std::string where = "lane " + std::to_string(l);
    check(r.rounds == rounds, where + ": shuffles inside a half-warp");
    check(r.ballot == (l < 16 ? odd_lanes : every_third), where + ": ballot inside a half-warp");
    check(r.all == (l < 16 ? 1 : 0) && r.any == (l < 16 ? 1 : 0), where + ": votes inside a half-warp");
    check(r.odd_sum == (l % 2 ? odd_sum : -1), where + ": butterfly over the odd lanes");
  }
}

// One half-warp shuffles among itself while the other half already waits at the block
// barrier: legal, since the barrier's lanes are not in the shuffle's mask.
__global__ void half_warp_then_barrier_kernel(int* out) {
  const int lane = static_cast<int>(threadIdx.x);
  int v = lane;
  if (lane < 16) v = __shfl_xor_sync(0x0000ffffu, v, 1);
  __syncthreads();
  out[lane] = v;
}

SIMT_CASE(shfl_partial_mask_and_barrier) {
  std::vector<int> out(32);
  rdm::launch_kernel("half_warp_then_barrier_kernel", half_warp_then_barrier_kernel, dim3(1), dim3(32), 0,
                     rdm::StreamHandle{}, out.data());
  for (int l = 0; l < 32; ++l) check(out[l] == (l < 16 ? l ^ 1 : l), "lane " + std::to_string(l));
}

// Planted misuse of member masks: a lane outside the mask calls the collective (mode 0), a
// shuffle reads a lane outside the mask (mode 1), lanes pass different masks at one
// collective (mode 2).
__global__ void bad_mask_kernel(float* out, int mode) {
  const unsigned lane = threadIdx.x;
  float v = 1.0f;
  if (mode == 0) v = __shfl_sync(0x0000ffffu, v, 0);
  if (mode == 1 && lane < 16) v = __shfl_down_sync(0x0000ffffu, v, 1);  // lane 15 reads lane 16
  if (mode == 2) v = __shfl_sync(lane < 8 ? 0x000001ffu : 0xffffffffu, v, 0);  // neither group can complete
  out[lane] = v;
}

SIMT_CASE(shfl_bad_mask) {
  std::vector<float> out(32);
  const auto run = [&](int mode) {
    rdm::launch_kernel("bad_mask_kernel", bad_mask_kernel, dim3(1), dim3(32), 0, rdm::StreamHandle{}, out.data(),
                       mode);
  };
  selftest::expect_launch_error(
      [&] { run(0); }, {"__shfl_sync", "member mask 0x0000ffff does not name the calling lane", "test_warp.cpp"});
  selftest::expect_launch_error([&] { run(1); },
                                {"__shfl_down_sync", "lane 15 reads lane 16", "not in the member mask 0x0000ffff"});
  selftest::expect_launch_error([&] { run(2); }, {"__shfl_sync", "differs from the mask", "same mask"});
}

__global__ void exited_lane_kernel(float* out) {
  if (threadIdx.x == 31) return;
  for (int i = 0; i < 1000000 && __activemask() != 0x7fffffffu; ++i) std::this_thread::yield();  // let lane 31 exit
  out[threadIdx.x] = __shfl_down_sync(0xffffffffu, 1.0f, 1);
}

SIMT_CASE(shfl_exited_lane) {
  std::vector<float> out(32);
  selftest::expect_launch_error(
      [&] {
        rdm::launch_kernel("exited_lane_kernel", exited_lane_kernel, dim3(1), dim3(32), 0, rdm::StreamHandle{},
                           out.data());
      },
      {"__shfl_down_sync", "0x80000000", "exited"});
}

// A lane far slower than the timeout: the other lanes' wait in the shuffle times out.
__global__ void slow_lane_kernel(float* out) {
  if (threadIdx.x == 3) std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.0f, 1);
}

SIMT_CASE(collective_timeout) {
  setenv("RDM_SIMT_TIMEOUT_S", "0.3", 1);
  std::vector<float> out(64);
  selftest::expect_launch_error(
      [&] {
        rdm::launch_kernel("slow_lane_kernel", slow_lane_kernel, dim3(1), dim3(64), 0, rdm::StreamHandle{},
                           out.data());
      },
      {"timeout", "waiting in __shfl_xor_sync at", "test_warp.cpp", "(still running): threads"});
  unsetenv("RDM_SIMT_TIMEOUT_S");
}

constexpr int kCollectiveLineA = __LINE__ + 5;
constexpr int kCollectiveLineB = __LINE__ + 6;
__global__ void divergent_collective_kernel(int* out) {
  int v = static_cast<int>(threadIdx.x);
  if (threadIdx.x % 2 == 0)
    v = __shfl_xor_sync(0xffffffffu, v, 2);
  else
    v = __shfl_xor_sync(0xffffffffu, v, 2);
  out[threadIdx.x] = v;
}

SIMT_CASE(divergent_collective) {
  std::vector<int> out(32);
  selftest::expect_launch_error(
      [&] {
        rdm::launch_kernel("divergent_collective_kernel", divergent_collective_kernel, dim3(1), dim3(32), 0,
                           rdm::StreamHandle{}, out.data());
      },
      {"divergent warp collective", selftest::site_of_line(__FILE__, kCollectiveLineA),
       selftest::site_of_line(__FILE__, kCollectiveLineB)});
}

}  // namespace
