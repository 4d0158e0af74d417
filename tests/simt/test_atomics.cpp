// Atomics on global and shared memory, and rdm::atomic_max_float / atomic_min_float.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "../../csrc/kernels/portable.h"
#include "selftest.h"

using selftest::check;

namespace {

struct Counters {
  int i_add, i_sub, i_max, i_min, i_cas, i_exch, i_exch_sum, i_and, i_or, i_xor;
  unsigned u_add, u_sub, u_max, u_min, u_cas, u_and, u_or, u_xor;
  unsigned long long ull_add, ull_max, ull_min, ull_cas, ull_exch;
  unsigned short us_cas;
  float f_add, f_exch, f_max, f_min, f_max_neg, f_nan_max;
  double d_add;
  __half h_add;
  __nv_bfloat16 bf_add;
  int shared_total;
};

// CAS loop that increments, the canonical use of atomicCAS. It starts from a guess rather
// than a plain load, which would race with the other threads' atomics (TSan reports it).
template <class T>
__device__ void cas_increment(T* p) {
  T old = 0, seen;
  while ((seen = atomicCAS(p, old, static_cast<T>(old + 1))) != old) old = seen;
}

__global__ void atomics_kernel(Counters* c) {
  __shared__ int shared_counter;
  const int g = static_cast<int>(threadIdx.x + blockIdx.x * blockDim.x);  // 0 .. 255
  if (threadIdx.x == 0) shared_counter = 0;
  __syncthreads();
  atomicAdd(&shared_counter, 2);
  atomicAdd(&c->i_add, 1);
  atomicSub(&c->i_sub, 2);
  atomicMax(&c->i_max, g - 100);
  atomicMin(&c->i_min, g - 100);
  cas_increment(&c->i_cas);
  atomicAdd(&c->i_exch_sum, atomicExch(&c->i_exch, g));  // every value is handed on exactly once
  atomicOr(&c->i_or, 1 << (g % 31));
  atomicAnd(&c->i_and, ~(1 << (g % 31)));
  atomicXor(&c->i_xor, g);
  atomicAdd(&c->u_add, 3);  // an int argument converts, as with CUDA's overloads
  atomicSub(&c->u_sub, 1u);
  atomicMax(&c->u_max, static_cast<unsigned>(g) * 7u);
  atomicMin(&c->u_min, static_cast<unsigned>(g) + 5u);
  cas_increment(&c->u_cas);
  atomicOr(&c->u_or, 1u << (g % 32));
  atomicAnd(&c->u_and, ~(1u << (g % 32)));
  atomicXor(&c->u_xor, static_cast<unsigned>(g) * 3u);
  atomicAdd(&c->ull_add, 1ull << 33);
  atomicMax(&c->ull_max, static_cast<unsigned long long>(g) << 40);
  atomicMin(&c->ull_min, (static_cast<unsigned long long>(g) + 1) << 40);
  cas_increment(&c->ull_cas);
  atomicExch(&c->ull_exch, static_cast<unsigned long long>(g));
  cas_increment(&c->us_cas);
  atomicAdd(&c->f_add, 0.5f);
  atomicExch(&c->f_exch, static_cast<float>(g));
  rdm::atomic_max_float(&c->f_max, static_cast<float>(g) - 0.5f);
  rdm::atomic_min_float(&c->f_min, static_cast<float>(g) + 0.25f);
  rdm::atomic_max_float(&c->f_max_neg, -static_cast<float>(g) - 1.0f);
  rdm::atomic_max_float(&c->f_nan_max, g == 77 ? std::numeric_limits<float>::quiet_NaN() : static_cast<float>(g));
  atomicAdd(&c->d_add, 0.25);
  atomicAdd(&c->h_add, __float2half(1.0f));
  atomicAdd(&c->bf_add, __float2bfloat16(1.0f));
  __syncthreads();
  if (threadIdx.x == 0) atomicAdd(&c->shared_total, shared_counter);
}

SIMT_CASE(atomics) {
  Counters c{};
  c.i_max = std::numeric_limits<int>::min();
  c.i_min = std::numeric_limits<int>::max();
  c.i_and = -1;
  c.u_sub = 1000;
  c.u_min = ~0u;
  c.u_and = ~0u;
  c.ull_min = ~0ull;
  c.f_max = -std::numeric_limits<float>::infinity();
  c.f_min = std::numeric_limits<float>::infinity();
  c.f_max_neg = -std::numeric_limits<float>::infinity();
  c.f_nan_max = 0.0f;
  c.h_add = __float2half(0.0f);
  c.bf_add = __float2bfloat16(0.0f);
  rdm::launch_kernel("atomics_kernel", atomics_kernel, dim3(4), dim3(64), 0, rdm::StreamHandle{}, &c);
  int xor_i = 0;
  unsigned xor_u = 0;
  for (int g = 0; g < 256; ++g) {
    xor_i ^= g;
    xor_u ^= static_cast<unsigned>(g) * 3u;
  }
  check(c.i_add == 256 && c.i_sub == -512 && c.i_max == 155 && c.i_min == -100 && c.i_cas == 256, "int atomics");
  check(c.i_exch_sum + c.i_exch == 255 * 256 / 2, "int atomicExch");
  check(c.i_or == 0x7fffffff && c.i_and == static_cast<int>(0x80000000u) && c.i_xor == xor_i, "int bitwise atomics");
  check(c.u_add == 768 && c.u_sub == 744 && c.u_max == 255u * 7u && c.u_min == 5 && c.u_cas == 256, "unsigned atomics");
  check(c.u_or == ~0u && c.u_and == 0 && c.u_xor == xor_u, "unsigned bitwise atomics");
  check(c.ull_add == 256ull << 33 && c.ull_max == 255ull << 40 && c.ull_min == 1ull << 40 && c.ull_cas == 256 &&
            c.ull_exch < 256,
        "unsigned long long atomics");
  check(c.us_cas == 256, "unsigned short atomicCAS");
  check(c.f_add == 128.0f && c.f_exch >= 0.0f && c.f_exch < 256.0f && c.d_add == 64.0, "float/double atomics");
  check(c.f_max == 254.5f && c.f_min == 0.25f && c.f_max_neg == -1.0f, "atomic_max_float / atomic_min_float");
  check(std::isnan(c.f_nan_max), "atomic_max_float does not propagate NaN");
  check(__half2float(c.h_add) == 256.0f && __bfloat162float(c.bf_add) == 256.0f, "half/bf16 atomicAdd");
  check(c.shared_total == 4 * 64 * 2, "atomics on shared memory");
}

}  // namespace
