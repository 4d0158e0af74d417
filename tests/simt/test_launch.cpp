// Built-ins, shared memory and its poison, launch configuration errors, the thread pool and
// exception propagation.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sys/wait.h>
#include <unistd.h>
#include <string>
#include <vector>

#include "../../csrc/kernels/portable.h"
#include "selftest.h"

using selftest::check;

namespace {

struct Coords {
  unsigned tx, ty, tz, bx, by, bz, bdx, bdy, bdz, gdx, gdy, gdz;
  int warp_size;
  unsigned written;
};

__global__ void coords_kernel(Coords* out) {
  const unsigned block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const unsigned thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  Coords& c = out[block * blockDim.x * blockDim.y * blockDim.z + thread];
  c = {threadIdx.x, threadIdx.y, threadIdx.z, blockIdx.x, blockIdx.y, blockIdx.z, blockDim.x, blockDim.y,
       blockDim.z, gridDim.x, gridDim.y, gridDim.z, warpSize, c.written + 1};
}

void check_coords(dim3 grid, dim3 block) {
  const unsigned nt = block.x * block.y * block.z, nb = grid.x * grid.y * grid.z;
  std::vector<Coords> out(nt * nb, Coords{});
  rdm::launch_kernel("coords_kernel", coords_kernel, grid, block, 0, rdm::StreamHandle{}, out.data());
  for (unsigned b = 0; b < nb; ++b)
    for (unsigned t = 0; t < nt; ++t) {
      const Coords& c = out[b * nt + t];
      const bool ok = c.written == 1 && c.tx == t % block.x && c.ty == t / block.x % block.y &&
                      c.tz == t / (block.x * block.y) && c.bx == b % grid.x && c.by == b / grid.x % grid.y &&
                      c.bz == b / (grid.x * grid.y) && c.bdx == block.x && c.bdy == block.y && c.bdz == block.z &&
                      c.gdx == grid.x && c.gdy == grid.y && c.gdz == grid.z && c.warp_size == 32;
      check(ok, "wrong built-ins for block " + std::to_string(b) + " thread " + std::to_string(t));
    }
}

SIMT_CASE(builtins_1d) { check_coords(dim3(5), dim3(96)); }
SIMT_CASE(builtins_2d) { check_coords(dim3(3, 2), dim3(16, 4)); }
SIMT_CASE(builtins_3d) { check_coords(dim3(2, 3, 2), dim3(4, 3, 5)); }

// Static shared memory read before being written must be the poison in every block, even
// after a previous block wrote it; declared in a kernel template and in a device function.
template <int kN>
__device__ float* helper_shared() {
  __shared__ float from_helper[kN];
  return from_helper;
}

struct PoisonSeen {
  std::uint32_t f32_bits, i32;
  std::uint64_t f64_bits;
  std::uint16_t f16_bits, bf16_bits;
  std::uint32_t helper_bits, matrix_bits;
  float sum_after_write;
};

template <class T, int kThreads>
__global__ void __launch_bounds__(kThreads) poison_kernel(PoisonSeen* seen) {
  __shared__ float f32[kThreads];
  __shared__ int i32[kThreads];
  __shared__ double f64[2];
  __shared__ __half f16[3];
  __shared__ __nv_bfloat16 bf16[3];
  __shared__ __align__(16) T matrix[4][kThreads / 4];
  float* helper = helper_shared<kThreads>();
  const unsigned t = threadIdx.x;
  if (t == 0) {
    PoisonSeen& s = seen[blockIdx.x];
    std::memcpy(&s.f32_bits, &f32[5], 4);
    s.i32 = static_cast<std::uint32_t>(i32[7]);
    std::memcpy(&s.f64_bits, &f64[1], 8);
    s.f16_bits = __half_as_ushort(f16[2]);
    s.bf16_bits = __bfloat16_as_ushort(bf16[1]);
    std::memcpy(&s.helper_bits, &helper[3], 4);
    std::memcpy(&s.matrix_bits, &matrix[3][1], 4);
  }
  __syncthreads();
  f32[t] = 1.0f;
  i32[t] = 1;
  helper[t] = 1.0f;
  matrix[t % 4][t / 4] = T(1);
  if (t < 2) f64[t] = 1.0;
  if (t < 3) {
    f16[t] = __float2half(1.0f);
    bf16[t] = __float2bfloat16(1.0f);
  }
  __syncthreads();
  if (t == 0) {
    float sum = 0;
    for (int i = 0; i < kThreads; ++i) sum += f32[i] + float(i32[i]) + helper[i] + float(matrix[i % 4][i / 4]);
    seen[blockIdx.x].sum_after_write = sum;
  }
}

SIMT_CASE(static_shared_poison) {
  constexpr int kThreads = 64;
  std::vector<PoisonSeen> seen(3);
  rdm::launch_kernel("poison_kernel", poison_kernel<float, kThreads>, dim3(3), dim3(kThreads), 0,
                     rdm::StreamHandle{}, seen.data());
  for (const PoisonSeen& s : seen) {
    check(s.f32_bits == 0xffffffffu && s.i32 == 0xffffffffu && s.f64_bits == ~0ull, "fp32/int/fp64 not poisoned");
    check(s.f16_bits == 0xffff && s.bf16_bits == 0xffff, "fp16/bf16 not poisoned");
    check(s.helper_bits == 0xffffffffu, "shared array of a __device__ function not poisoned");
    check(s.matrix_bits == 0xffffffffu, "2-D shared array not poisoned");
    check(s.sum_after_write == 4.0f * kThreads, "shared memory not shared between threads");
  }
  std::uint32_t bits;
  std::memcpy(&bits, &seen[0].f32_bits, 4);
  float f;
  std::memcpy(&f, &bits, 4);
  check(std::isnan(f), "poisoned float is not NaN");
}

__global__ void dynamic_shared_kernel(int n, float* out, std::uintptr_t* base) {
  RDM_DYNAMIC_SHARED(float, smem);
  RDM_DYNAMIC_SHARED(unsigned char, bytes);
  const int t = threadIdx.x;
  if (t == 0) {
    base[0] = reinterpret_cast<std::uintptr_t>(smem);
    base[1] = reinterpret_cast<std::uintptr_t>(bytes);
  }
  out[blockIdx.x * 2 * n + t] = smem[t];  // the poison
  __syncthreads();
  smem[t] = static_cast<float>(t + 1000 * blockIdx.x);
  __syncthreads();
  out[blockIdx.x * 2 * n + n + t] = smem[(t + 1) % n];
}

SIMT_CASE(dynamic_shared) {
  constexpr int kN = 128;
  std::vector<float> out(2 * 2 * kN);
  std::uintptr_t base[2] = {1, 2};
  rdm::launch_kernel("dynamic_shared_kernel", dynamic_shared_kernel, dim3(2), dim3(kN), kN * sizeof(float),
                     rdm::StreamHandle{}, kN, out.data(), base);
  check(base[0] % 128 == 0, "dynamic shared memory is not 128-byte aligned");
  check(base[0] == base[1], "two RDM_DYNAMIC_SHARED declarations differ");
  for (int b = 0; b < 2; ++b)
    for (int t = 0; t < kN; ++t) {
      check(std::isnan(out[b * 2 * kN + t]), "dynamic shared memory not poisoned in block " + std::to_string(b));
      check(out[b * 2 * kN + kN + t] == static_cast<float>((t + 1) % kN + 1000 * b), "dynamic shared memory value");
    }
}

__global__ void empty_kernel(int) {}

SIMT_CASE(bad_launch_config) {
  const auto launch = [](dim3 grid, dim3 block, std::size_t smem) {
    return [=] { rdm::launch_kernel("empty_kernel", empty_kernel, grid, block, smem, rdm::StreamHandle{}, 0); };
  };
  selftest::expect_launch_error(launch(dim3(1), dim3(1025), 0), {"empty_kernel", "invalid configuration", "1024"});
  selftest::expect_launch_error(launch(dim3(1), dim3(64, 1, 65), 0), {"invalid configuration"});
  selftest::expect_launch_error(launch(dim3(1), dim3(0), 0), {"invalid configuration", "0 threads"});
  selftest::expect_launch_error(launch(dim3(0), dim3(32), 0), {"invalid configuration", "0 blocks"});
  selftest::expect_launch_error(launch(dim3(4, 0), dim3(32), 0), {"invalid configuration", "0 blocks"});
  selftest::expect_launch_error(launch(dim3(1), dim3(32), 227 * 1024 + 1), {"invalid configuration", "227 KiB"});
  launch(dim3(1), dim3(1024), 227 * 1024)();  // the limits themselves are fine
}

// Each thread gets its own copy of the parameters, as on a GPU.
struct Params {
  int* out;
  int offset;
};
__global__ void params_kernel(Params p) {
  p.offset += static_cast<int>(threadIdx.x);  // must not leak to other threads
  p.out[threadIdx.x] = p.offset;
}

SIMT_CASE(params_by_value) {
  std::vector<int> out(64);
  rdm::launch_kernel("params_kernel", params_kernel, dim3(1), dim3(64), 0, rdm::StreamHandle{}, Params{out.data(), 7});
  for (int t = 0; t < 64; ++t) check(out[t] == 7 + t, "parameters are shared between threads");
}

int os_thread_count() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  return -1;
}

__global__ void count_kernel(unsigned* counter) {
  __shared__ unsigned block_total;
  const bool first = threadIdx.x == 0 && threadIdx.y == 0 && threadIdx.z == 0;
  if (first) block_total = 0;
  __syncthreads();
  atomicAdd(&block_total, 1u);
  __syncthreads();
  if (first) atomicAdd(counter, block_total);
}

SIMT_CASE(pool_reuse) {
  unsigned counter = 0;
  rdm::launch_kernel("count_kernel", count_kernel, dim3(1), dim3(256), 0, rdm::StreamHandle{}, &counter);
  const int threads_before = os_thread_count();
  for (int i = 0; i < 100; ++i)
    rdm::launch_kernel("count_kernel", count_kernel, dim3(3, 2), dim3(32 + 2 * i), 0, rdm::StreamHandle{}, &counter);
  unsigned expected = 256;
  for (int i = 0; i < 100; ++i) expected += 6 * (32 + 2 * i);
  check(counter == expected, "wrong count " + std::to_string(counter));
  check(os_thread_count() == threads_before, "the pool created threads for blocks it could reuse threads for");
}

SIMT_CASE(max_block_1024) {
  unsigned counter = 0;
  rdm::launch_kernel("count_kernel", count_kernel, dim3(2), dim3(8, 8, 16), 0, rdm::StreamHandle{}, &counter);
  check(counter == 2048, "wrong count with 1024-thread blocks");
}

__global__ void throwing_kernel(int bad_thread, int* after) {
  if (static_cast<int>(threadIdx.x) == bad_thread) throw std::runtime_error("boom from the kernel");
  __syncthreads();  // the other threads must be released, not hang
  atomicAdd(after, 1);
}

SIMT_CASE(exception_propagation) {
  int after = 0;
  selftest::expect_launch_error(
      [&] {
        rdm::launch_kernel("throwing_kernel", throwing_kernel, dim3(2), dim3(64), 0, rdm::StreamHandle{}, 5, &after);
      },
      {"throwing_kernel", "boom from the kernel", "thread 5", "block (0,0,0)"});
  // The layer stays usable after a failed launch.
  rdm::launch_kernel("throwing_kernel", throwing_kernel, dim3(2), dim3(64), 0, rdm::StreamHandle{}, -1, &after);
  check(after == 128, "a launch after a failed one did not run correctly");
}

__global__ void trap_kernel(int mode) {
  if (threadIdx.x == 3) {
    if (mode == 0) __trap();
    assert(mode != 1 && "planted assertion");
  }
}

SIMT_CASE(trap_and_assert) {
  selftest::expect_launch_error(
      [] { rdm::launch_kernel("trap_kernel", trap_kernel, dim3(1), dim3(32), 0, rdm::StreamHandle{}, 0); },
      {"__trap() called at", "test_launch.cpp"});
  selftest::expect_launch_error(
      [] { rdm::launch_kernel("trap_kernel", trap_kernel, dim3(1), dim3(32), 0, rdm::StreamHandle{}, 1); },
      {"assertion", "planted assertion", "test_launch.cpp"});
  rdm::launch_kernel("trap_kernel", trap_kernel, dim3(1), dim3(32), 0, rdm::StreamHandle{}, 2);
}

// After fork() the child has none of the pool's threads; its launches must still run.
SIMT_CASE(launch_after_fork) {
  unsigned counter = 0;
  rdm::launch_kernel("count_kernel", count_kernel, dim3(2), dim3(64), 0, rdm::StreamHandle{}, &counter);
  const pid_t child = fork();
  if (child == 0) {
    unsigned child_counter = 0;
    rdm::launch_kernel("count_kernel", count_kernel, dim3(3), dim3(96), 0, rdm::StreamHandle{}, &child_counter);
    _exit(child_counter == 3 * 96 ? 0 : 1);
  }
  int status = 0;
  check(child > 0 && waitpid(child, &status, 0) == child, "fork/waitpid failed");
  check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the launch in the forked child failed");
  rdm::launch_kernel("count_kernel", count_kernel, dim3(1), dim3(64), 0, rdm::StreamHandle{}, &counter);
  check(counter == 2 * 64 + 64, "the parent's pool broke after fork");
}

__global__ void nested_launch_kernel(int) {
  if (threadIdx.x == 0) rdm::launch_kernel("empty_kernel", empty_kernel, dim3(1), dim3(1), 0, rdm::StreamHandle{}, 0);
}

SIMT_CASE(device_function_outside_kernel) {
  selftest::expect_launch_error([] { __syncthreads(); }, {"__syncthreads", "outside of a kernel launch"});
  selftest::expect_launch_error([] { __shfl_sync(0xffffffffu, 1, 0); }, {"__shfl_sync", "outside of a kernel launch"});
}

SIMT_CASE(nested_launch_rejected) {
  selftest::expect_launch_error(
      [] {
        rdm::launch_kernel("nested_launch_kernel", nested_launch_kernel, dim3(1), dim3(32), 0, rdm::StreamHandle{}, 0);
      },
      {"inside a kernel"});
}

}  // namespace
