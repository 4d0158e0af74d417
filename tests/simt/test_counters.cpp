// Performance counters of emulated launches (csrc/simt/instrument.h), against counts
// worked out by hand from the access patterns.
#include <cstdint>
#include <string>
#include <vector>

#include "../../csrc/kernels/portable.h"
#include "selftest.h"

using selftest::check;

namespace {

// The counters of the only launch made by `launch`.
template <class F>
rdm::simt::LaunchCounters counters_of(F&& launch) {
  rdm::simt::launch_records(true);
  launch();
  const auto records = rdm::simt::launch_records(true);
  check(records.size() == 1, "expected one launch record, got " + std::to_string(records.size()));
  return records.front().counters;
}

void expect(std::uint64_t got, std::uint64_t want, const char* what) {
  check(got == want, std::string(what) + ": got " + std::to_string(got) + ", want " + std::to_string(want));
}

// Each thread copies in[offset + stride * t] to out[t] (floats).
__global__ void strided_copy_kernel(const float* in, float* out, int stride, int offset) {
  const unsigned t = threadIdx.x + blockIdx.x * blockDim.x;
  rdm::store_global(&out[t], rdm::load_global(&in[offset + stride * t]));
}

SIMT_CASE(counters_global_coalescing) {
  alignas(128) static float in[1024];
  alignas(128) static float out[256];
  auto run = [&](int stride, int offset) {
    return counters_of([&] {
      rdm::launch_kernel("strided_copy_kernel", strided_copy_kernel, dim3(2), dim3(128), 0, rdm::StreamHandle{}, in,
                         out, stride, offset);
    });
  };
  // 8 warps of 32 lanes x 4 bytes: 128 bytes, 4 sectors per request when coalesced.
  const auto dense = run(1, 0);
  expect(dense.global_load_requests, 8, "requests");
  expect(dense.global_load_bytes, 1024, "load bytes");
  expect(dense.global_load_sectors, 32, "load sectors");
  expect(dense.global_load_ideal_sectors, 32, "ideal sectors");
  expect(dense.global_store_sectors, 32, "store sectors");
  expect(dense.global_load_unique_bytes, 1024, "unique load bytes");
  expect(dense.blocks, 2, "blocks");
  const auto strided = run(2, 0);  // every other float: twice the sectors
  expect(strided.global_load_sectors, 64, "strided sectors");
  expect(strided.global_load_ideal_sectors, 32, "strided ideal sectors");
  const auto shifted = run(1, 1);  // 4 bytes off a sector boundary: 5 sectors per request
  expect(shifted.global_load_sectors, 40, "misaligned sectors");
  const auto broadcast = run(0, 3);  // every lane reads the same float: 4 bytes, one sector
  expect(broadcast.global_load_bytes, 8 * 4, "broadcast bytes");
  expect(broadcast.global_load_sectors, 8, "broadcast sectors");
  expect(broadcast.global_load_unique_bytes, 32, "broadcast unique bytes");
}

// A row-slice loader inlined twice (for two tensors), whose lanes past the row's end skip
// the last iteration: requests must not mix the two tensors.
__device__ __forceinline__ void load_slice(const float* row, int dim, float (&x)[2]) {
  for (int i = 0; i < 2; ++i) {
    const int col = i * 32 + static_cast<int>(threadIdx.x);
    x[i] = col < dim ? rdm::load_global(row + col) : 0.f;
  }
}

__global__ void two_slices_kernel(const float* w, const float* h, float* out, int dim) {
  float a[2], b[2];
  load_slice(w, dim, a);
  load_slice(h, dim, b);
  rdm::store_global(&out[threadIdx.x], a[0] + a[1] + b[0] + b[1]);
}

SIMT_CASE(counters_inlined_helper_with_tail) {
  alignas(128) static float w[64], h[64], out[32];
  const auto c = counters_of([&] {
    rdm::launch_kernel("two_slices_kernel", two_slices_kernel, dim3(1), dim3(32), 0, rdm::StreamHandle{}, w, h, out,
                       44);
  });
  // Per tensor: 32 lanes x 4 bytes (4 sectors), then 12 lanes x 4 bytes (2 sectors). Grouped
  // by call site alone, lanes 12-31 of h's first load would join w's tail: 13 sectors.
  expect(c.global_load_requests, 4, "requests");
  expect(c.global_load_sectors, 12, "sectors");
  expect(c.global_load_ideal_sectors, 12, "ideal sectors");
}

// One warp reads shared memory at `stride` elements of T apart.
template <class T>
__global__ void bank_kernel(float* out, int stride) {
  __shared__ __align__(16) float smem[32 * 32 * 4];
  const unsigned lane = threadIdx.x;
  for (int i = 0; i < 32 * 4; ++i) rdm::store_shared(&smem[lane * 32 * 4 + i], 1.f);  // see kFillWavefronts
  __syncwarp();
  const T v = rdm::load_shared(reinterpret_cast<const T*>(smem) + stride * lane);
  rdm::store_global(&out[lane], static_cast<float>(sizeof(v)));
}

template <class T>
rdm::simt::LaunchCounters bank_counters(int stride) {
  std::vector<float> out(32);
  return counters_of([&] {
    rdm::launch_kernel("bank_kernel", bank_kernel<T>, dim3(1), dim3(32), 0, rdm::StreamHandle{}, out.data(), stride);
  });
}

SIMT_CASE(counters_bank_conflicts) {
  // The fill: lane l writes word 128 l + i, all in bank i % 32: a 32-way conflict, 128 times.
  constexpr std::uint64_t kFillWavefronts = 128 * 32;
  constexpr std::uint64_t kFillConflicts = 128 * 31;
  auto load_part = [](const rdm::simt::LaunchCounters& c) {
    return std::make_pair(c.shared_wavefronts - kFillWavefronts, c.bank_conflicts - kFillConflicts);
  };
  const auto fill = bank_counters<float>(1);
  expect(fill.shared_store_requests, 128, "store requests");
  expect(fill.shared_load_requests, 1, "load requests");
  expect(load_part(fill).first, 1, "float, stride 1: wavefronts");
  expect(load_part(bank_counters<float>(2)).second, 1, "float, stride 2: 2-way conflict");
  expect(load_part(bank_counters<float>(32)).second, 31, "float, stride 32: 32-way conflict");
  expect(load_part(bank_counters<float>(0)).second, 0, "float broadcast");
  // 8 bytes: two phases of 16 lanes; 16 bytes: four phases of 8 lanes.
  expect(load_part(bank_counters<float2>(1)).first, 2, "float2, stride 1: wavefronts");
  expect(load_part(bank_counters<float2>(1)).second, 0, "float2, stride 1: conflicts");
  expect(load_part(bank_counters<float4>(1)).first, 4, "float4, stride 1: wavefronts");
  expect(load_part(bank_counters<float4>(1)).second, 0, "float4, stride 1: conflicts");
  expect(load_part(bank_counters<float4>(2)).second, 4, "float4, stride 2: 2-way in every phase");
  const auto words = bank_counters<float>(1);
  expect(words.shared_ideal_wavefronts, 128 + 1, "ideal wavefronts");
}

__global__ void sync_and_mma_kernel(float* out) {
  for (int i = 0; i < 3; ++i) __syncthreads();
  rdm::simt::record_mma(16, 8, 16, std::source_location::current());  // what the mma wrappers report
  rdm::simt::record_access(rdm::simt::MemorySpace::kGlobal, rdm::simt::AccessKind::kCpAsyncSource,
                           &out[threadIdx.x * 4], 16, std::source_location::current());
}

SIMT_CASE(counters_barriers_mma_cp_async) {
  alignas(128) static float out[64 * 4];
  const auto c = counters_of([&] {
    rdm::launch_kernel("sync_and_mma_kernel", sync_and_mma_kernel, dim3(2), dim3(64), 0, rdm::StreamHandle{}, out);
  });
  expect(c.barriers, 2 * 3, "barriers");
  expect(c.mma_instructions, 2 * 2, "mma instructions (one per warp)");
  expect(c.mma_flops, 4ull * 2 * 16 * 8 * 16, "mma flops");
  expect(c.cp_async_bytes, 2 * 64 * 16, "cp.async bytes");
  expect(c.global_load_sectors, 4 * 16, "cp.async source sectors");
}

SIMT_CASE(counters_json) {
  std::vector<float> out(32);
  rdm::simt::launch_records(true);
  rdm::launch_kernel("bank_kernel", bank_kernel<float>, dim3(1), dim3(32), 0, rdm::StreamHandle{}, out.data(), 1);
  const std::string json = rdm::simt::launch_records_json(true);
  for (const char* needle : {"\"kernel\": \"bank_kernel\"", "\"grid\": [1, 1, 1]", "\"block\": [32, 1, 1]",
                             "\"shared_load_requests\": 1", "\"bank_conflicts\": 3968"})
    check(json.find(needle) != std::string::npos, std::string("JSON lacks ") + needle + ": " + json);
  check(rdm::simt::launch_records(false).empty(), "launch_records_json(true) did not clear");
}

}  // namespace
