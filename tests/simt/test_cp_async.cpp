// cp.async as deferred copies: nothing lands before the wait, wait_group<N> lands the
// oldest groups (any N), zero-fill for every cp-size, and the planted bugs (a missing
// wait, an unwritten read, bad addresses and sizes).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "../../csrc/kernels/portable.h"
#include "selftest.h"

using selftest::check;

namespace {

constexpr std::uint32_t kPoison = 0xffffffffu;

struct Snapshots {
  std::uint32_t before_wait[3];      // group 0, group 1, uncommitted copy: before any wait
  std::uint32_t after_wait1[3];      // after cp_async_wait<1>
  std::uint32_t after_wait0[3];      // after cp_async_wait<0>
  std::uint32_t after_wait_all[3];   // after cp_async_wait_all
  std::uint32_t small[3];            // 8- and 4-byte copies
  std::uint32_t zfill[2];            // valid / invalid zero-fill copies
};

// One thread, so that every snapshot is its own copies' state.
__global__ void cp_async_kernel(const std::uint32_t* src, Snapshots* s) {
  __shared__ __align__(16) std::uint32_t a[4], b[4], c[4], small[4], z[8];
  rdm::cp_async_16(a, src);
  rdm::cp_async_commit();
  rdm::cp_async_16(b, src + 4);
  rdm::cp_async_commit();
  rdm::cp_async_16(c, src + 8);  // not committed
  const auto snap = [&](std::uint32_t (&dst)[3]) {
    dst[0] = a[0];
    dst[1] = b[1];
    dst[2] = c[2];
  };
  snap(s->before_wait);
  rdm::cp_async_wait<1>();
  snap(s->after_wait1);
  rdm::cp_async_wait<0>();
  snap(s->after_wait0);
  rdm::cp_async_wait_all();
  snap(s->after_wait_all);
  rdm::cp_async_8(small, src + 12);
  rdm::cp_async_4(small + 2, src + 14);
  rdm::cp_async_commit();
  rdm::cp_async_wait<0>();
  s->small[0] = small[0];
  s->small[1] = small[1];
  s->small[2] = small[2];
  rdm::cp_async_16_zfill(z, src, true);
  rdm::cp_async_16_zfill(z + 4, nullptr, false);  // the source is not read
  rdm::cp_async_commit();
  rdm::cp_async_wait<0>();
  s->zfill[0] = z[3];
  s->zfill[1] = z[5];
}

SIMT_CASE(cp_async_deferred) {
  alignas(16) std::uint32_t src[16];
  for (std::uint32_t i = 0; i < 16; ++i) src[i] = 100 + i;
  Snapshots s{};
  rdm::launch_kernel("cp_async_kernel", cp_async_kernel, dim3(1), dim3(1), 0, rdm::StreamHandle{}, src, &s);
  const auto expect = [](const std::uint32_t (&got)[3], std::uint32_t x, std::uint32_t y, std::uint32_t z,
                         const char* when) {
    check(got[0] == x && got[1] == y && got[2] == z, std::string("cp.async state ") + when);
  };
  expect(s.before_wait, kPoison, kPoison, kPoison, "before the wait: copies must not have landed");
  expect(s.after_wait1, 100, kPoison, kPoison, "after wait<1>: only the oldest group");
  expect(s.after_wait0, 100, 105, kPoison, "after wait<0>: committed groups, not the uncommitted copy");
  expect(s.after_wait_all, 100, 105, 110, "after wait_all: everything");
  check(s.small[0] == 112 && s.small[1] == 113 && s.small[2] == 114, "8- and 4-byte copies");
  check(s.zfill[0] == 103 && s.zfill[1] == 0, "zero-fill copies");
}

// Zero-fill: every cp-size with src-size 0, partial and full. The destination starts as
// the poison (0xff bytes), so zeros can only come from the fill.
__global__ void cp_async_zfill_kernel(const unsigned char* src, unsigned char* out) {
  __shared__ __align__(16) unsigned char z[7][16];
  rdm::cp_async_zfill<16>(z[0], src, 5);
  rdm::cp_async_zfill<16>(z[1], nullptr, 0);  // the source is not read
  rdm::cp_async_zfill<8>(z[2], src, 3);
  rdm::cp_async_8_zfill(z[3], src, false);
  rdm::cp_async_zfill<4>(z[4], src, 4);
  rdm::cp_async_4_zfill(z[5], nullptr, false);
  rdm::cp_async_4_zfill(z[6], src + 4, true);
  rdm::cp_async_commit();
  rdm::cp_async_wait<0>();
  for (int i = 0; i < 7 * 16; ++i) out[i] = z[i / 16][i % 16];
}

SIMT_CASE(cp_async_zero_fill) {
  alignas(16) unsigned char src[16];
  for (int i = 0; i < 16; ++i) src[i] = static_cast<unsigned char>(100 + i);
  std::vector<unsigned char> out(7 * 16);
  rdm::launch_kernel("cp_async_zfill_kernel", cp_async_zfill_kernel, dim3(1), dim3(1), 0, rdm::StreamHandle{}, src,
                     out.data());
  // Per destination: cp-size, src-size, offset of the source.
  const int copies[7][3] = {{16, 5, 0}, {16, 0, 0}, {8, 3, 0}, {8, 0, 0}, {4, 4, 0}, {4, 0, 0}, {4, 4, 4}};
  for (int d = 0; d < 7; ++d)
    for (int i = 0; i < 16; ++i) {
      const auto [cp_size, src_size, offset] = copies[d];
      const int want = i < src_size ? 100 + offset + i : i < cp_size ? 0 : 0xff;  // past cp-size: untouched
      check(out[d * 16 + i] == want, "zero-fill copy " + std::to_string(d) + " byte " + std::to_string(i));
    }
}

// wait_group N for N beyond 7: 12 groups of one copy each, then waits that leave N pending.
template <int kPending>
__device__ void wait_and_count(const std::uint32_t (&landed)[12], int* count) {
  rdm::cp_async_wait<kPending>();
  int n = 0;
  for (std::uint32_t v : landed) n += v != kPoison;
  *count = n;
}

__global__ void cp_async_wait_group_kernel(const std::uint32_t* src, int* counts) {
  __shared__ __align__(16) std::uint32_t landed[12];
  for (int g = 0; g < 12; ++g) {
    rdm::cp_async_4(&landed[g], src + g);
    rdm::cp_async_commit();
  }
  wait_and_count<1000>(landed, counts + 0);
  wait_and_count<12>(landed, counts + 1);
  wait_and_count<11>(landed, counts + 2);
  wait_and_count<9>(landed, counts + 3);
  wait_and_count<8>(landed, counts + 4);
  wait_and_count<3>(landed, counts + 5);
  wait_and_count<0>(landed, counts + 6);
}

SIMT_CASE(cp_async_wait_group_n) {
  std::uint32_t src[12];
  for (std::uint32_t i = 0; i < 12; ++i) src[i] = i;
  int counts[7] = {};
  rdm::launch_kernel("cp_async_wait_group_kernel", cp_async_wait_group_kernel, dim3(1), dim3(1), 0,
                     rdm::StreamHandle{}, src, counts);
  const int want[7] = {0, 0, 1, 3, 4, 9, 12};
  for (int i = 0; i < 7; ++i)
    check(counts[i] == want[i], "groups landed after wait number " + std::to_string(i) + ": " +
                                    std::to_string(counts[i]) + ", expected " + std::to_string(want[i]));
}

// A tile staged through shared memory by many threads, the usual pattern.
__global__ void staged_copy_kernel(const float* src, float* dst, bool wait) {
  __shared__ __align__(16) float tile[256];
  rdm::cp_async_16(tile + 4 * threadIdx.x, src + 4 * threadIdx.x);
  rdm::cp_async_commit();
  if (wait) rdm::cp_async_wait<0>();
  __syncthreads();
  dst[threadIdx.x] = tile[(4 * threadIdx.x + 5) % 256];
}

SIMT_CASE(cp_async_staged_tile) {
  alignas(16) float src[256];
  for (int i = 0; i < 256; ++i) src[i] = static_cast<float>(i);
  std::vector<float> dst(64);
  rdm::launch_kernel("staged_copy_kernel", staged_copy_kernel, dim3(2), dim3(64), 0, rdm::StreamHandle{}, src,
                     dst.data(), true);
  for (int t = 0; t < 64; ++t) check(dst[t] == static_cast<float>((4 * t + 5) % 256), "staged tile");
}

// Planted bug: the wait is missing. On a GPU this may still work by luck; here the
// result is the poison (NaN).
SIMT_CASE(cp_async_missing_wait) {
  alignas(16) float src[256];
  for (int i = 0; i < 256; ++i) src[i] = static_cast<float>(i);
  std::vector<float> dst(64);
  rdm::launch_kernel("staged_copy_kernel", staged_copy_kernel, dim3(1), dim3(64), 0, rdm::StreamHandle{}, src,
                     dst.data(), false);
  for (float v : dst) check(std::isnan(v), "a missing cp_async_wait did not show the poison");
  std::printf("caught: result is the shared-memory poison (NaN) without cp_async_wait\n");
}

// Planted bug: part of the tile is never written, and a thread reads it.
__global__ void unwritten_read_kernel(float* dst) {
  __shared__ float tile[64];
  if (threadIdx.x < 32) tile[threadIdx.x] = 1.0f;  // tile[32..63] never written
  __syncthreads();
  dst[threadIdx.x] = tile[63 - threadIdx.x];
}

SIMT_CASE(shared_read_before_write) {
  std::vector<float> dst(64);
  rdm::launch_kernel("unwritten_read_kernel", unwritten_read_kernel, dim3(2), dim3(64), 0, rdm::StreamHandle{},
                     dst.data());
  for (int t = 0; t < 64; ++t)
    check(t >= 32 ? dst[t] == 1.0f : std::isnan(dst[t]), "a read of unwritten shared memory did not show NaN");
  std::printf("caught: reads of unwritten shared memory return the poison (NaN)\n");
}

__global__ void cp_async_misuse_kernel(const float* src, int mode) {
  __shared__ __align__(16) float tile[8];
  if (mode == 0) rdm::cp_async_16(tile + 1, src);  // destination not 16-byte aligned
  if (mode == 1) rdm::cp_async_16(const_cast<float*>(src), src + 4);  // destination not shared
  if (mode == 2) rdm::cp_async_zfill<8>(tile, src, 9);                // src-size above the cp-size
}

SIMT_CASE(cp_async_bad_address) {
  alignas(16) float src[8] = {};
  selftest::expect_launch_error(
      [&] {
        rdm::launch_kernel("cp_async_misuse_kernel", cp_async_misuse_kernel, dim3(1), dim3(1), 0, rdm::StreamHandle{},
                           src, 0);
      },
      {"cp.async of 16 bytes", "aligned"});
  selftest::expect_launch_error(
      [&] {
        rdm::launch_kernel("cp_async_misuse_kernel", cp_async_misuse_kernel, dim3(1), dim3(1), 0, rdm::StreamHandle{},
                           src, 1);
      },
      {"cp.async of 16 bytes", "not in shared memory"});
  selftest::expect_launch_error(
      [&] {
        rdm::launch_kernel("cp_async_misuse_kernel", cp_async_misuse_kernel, dim3(1), dim3(1), 0, rdm::StreamHandle{},
                           src, 2);
      },
      {"cp.async of 8 bytes", "src-size 9 exceeds the cp-size", "[0, 8]"});
}

}  // namespace
