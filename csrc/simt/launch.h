// Kernel launch under the emulation: runs the grid synchronously on the calling thread's
// behalf, one block after another, one pooled OS thread per CUDA thread.
#pragma once
#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

#include "vector_types.h"

namespace rdm::simt {

// Runs the block body once per thread; `ctx` is the launch's argument pack.
using KernelThunk = void (*)(const void* ctx);

// Validates the configuration like CUDA does, runs every block and throws LaunchError
// (naming `kernel_name`) for any error detected in the emulation or thrown by the kernel.
void run_grid(const char* kernel_name, dim3 grid, dim3 block, std::size_t dynamic_smem_bytes, KernelThunk thunk,
              const void* ctx);

// Converts the arguments to the kernel's parameter types once, as a CUDA launch does; every
// CUDA thread then receives its own by-value copy of the parameters.
template <class... Params, class... Args>
void launch_kernel(const char* kernel_name, void (*kernel)(Params...), dim3 grid, dim3 block,
                   std::size_t dynamic_smem_bytes, Args&&... args) {
  static_assert(sizeof...(Params) == sizeof...(Args), "launch_kernel: wrong number of kernel arguments");
  struct Call {
    void (*kernel)(Params...);
    std::tuple<std::decay_t<Params>...> params;
  };
  const Call call{kernel, {std::forward<Args>(args)...}};
  run_grid(kernel_name, grid, block, dynamic_smem_bytes,
           [](const void* ctx) {
             const Call& c = *static_cast<const Call*>(ctx);
             std::apply(c.kernel, c.params);
           },
           &call);
}

}  // namespace rdm::simt
