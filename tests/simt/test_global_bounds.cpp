// Bounds of global memory (rdm::simt::GlobalBuffers): an access outside every registered
// buffer fails the launch before it happens; without registered buffers nothing is checked.
#include <string>

#include "../../csrc/kernels/portable.h"
#include "selftest.h"

using selftest::check;

namespace {

// Thread t copies in[t] to out[t + shift] (a planted off-by-one for shift = 1).
__global__ void shifted_copy_kernel(const float* in, float* out, int shift) {
  const int t = threadIdx.x;
  rdm::store_global(out + t + shift, rdm::load_global(in + t));
}

SIMT_CASE(global_bounds) {
  // out is 32 registered floats inside `memory`, with spare floats on both sides that a
  // missed check would write.
  static float in[32], memory[40];
  float* const out = memory + 4;
  for (int i = 0; i < 32; ++i) in[i] = float(i);
  auto launch = [&](int shift) {
    return [shift, out] {
      rdm::launch_kernel("shifted_copy_kernel", shifted_copy_kernel, dim3(1), dim3(32), 0, rdm::StreamHandle{}, in,
                         out, shift);
    };
  };
  {
    rdm::simt::GlobalBuffers buffers;
    buffers.add(in, sizeof in, "in");
    buffers.add(out, 32 * sizeof(float), "out");
    launch(0)();  // in bounds
    check(out[31] == 31.f, "the in-bounds copy did not run");
    out[32] = -1.f;
    selftest::expect_launch_error(launch(1), {"shifted_copy_kernel", "out-of-bounds global store of 4 bytes",
                                              "thread (31,0,0) block (0,0,0)", "test_global_bounds.cpp",
                                              "nearest buffer 'out'", "4 bytes past its end"});
    check(out[32] == -1.f, "the out-of-bounds store happened before the launch failed");
    {
      rdm::simt::GlobalBuffers inner;  // nested scopes add to the outer ones
      inner.add(out + 32, sizeof(float), "spare");
      launch(1)();
      check(out[32] == 31.f, "the store into the inner scope's buffer did not run");
    }
    selftest::expect_launch_error(launch(1), {"out-of-bounds global store"});  // the inner scope is gone
    selftest::expect_launch_error(launch(-1),
                                  {"out-of-bounds global store", "thread (0,0,0)", "4 bytes before its start"});
    check(out[-1] == 0.f, "the store before the buffer happened");
  }
  out[32] = -1.f;
  launch(1)();  // nothing registered: unchecked (out[32] exists here)
  check(out[32] == 31.f, "a launch without registered buffers must not be checked");
}

}  // namespace
