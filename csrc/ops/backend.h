// What differs between the two backends that run the CUDA kernels: the real GPU (`rdm`
// library, CUDA dispatch key) and the SIMT emulation (`rdm_simt` library, CPU tensors).
// Op implementations are written once against this header.
#pragma once
#include <ATen/ATen.h>

#include "kernels/host_types.h"

#if defined(RDM_SIMT)
#include "simt/instrument.h"
#define RDM_KERNEL_KEY CPU
#else
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#define RDM_KERNEL_KEY CUDA
#endif

namespace rdm::backend {

#if defined(RDM_SIMT)
constexpr const char* kName = "the SIMT emulation (CPU tensors)";
inline bool on_backend(const at::Tensor& t) { return t.device().is_cpu(); }
inline StreamHandle stream_for(const at::Tensor&) { return {}; }
struct DeviceGuard {
  explicit DeviceGuard(const at::Tensor&) {}
};
// The SMs a grid sized from the device should fill. The emulation claims two: few blocks
// keep emulated launches fast, while grids sized from it still hold several blocks and
// blocks loop over several rows at the test shapes.
inline int sm_count(const at::Tensor&) { return 2; }
#else
constexpr const char* kName = "CUDA";
inline bool on_backend(const at::Tensor& t) { return t.device().is_cuda(); }
inline StreamHandle stream_for(const at::Tensor& t) {
  return at::cuda::getCurrentCUDAStream(t.device().index()).stream();
}
struct DeviceGuard {
  explicit DeviceGuard(const at::Tensor& t) : guard(t.device()) {}
  c10::cuda::CUDAGuard guard;
};
// The SMs a grid sized from the device should fill.
inline int sm_count(const at::Tensor& t) {
  return at::cuda::getDeviceProperties(t.device().index())->multiProcessorCount;
}
#endif

// A tensor passed to a kernel, named for error reports.
struct NamedTensor {
  const char* name;
  const at::Tensor& tensor;
};

// The global memory the kernels launched while it lives may touch: every tensor passed to
// them (inputs, outputs, workspaces; undefined ones are skipped). Under the emulation an
// access outside all of them fails the launch cleanly, before it happens (see docs/kernels.md,
// "Bounds of global memory"); on CUDA it does nothing. One line before an op's launches:
//   const backend::KernelBuffers buffers{{"h", h}, {"out", out}};
class KernelBuffers {
 public:
  KernelBuffers(std::initializer_list<NamedTensor> tensors) {
#if defined(RDM_SIMT)
    for (const NamedTensor& t : tensors)
      if (t.tensor.defined()) buffers_.add(t.tensor.data_ptr(), extent_bytes(t.tensor), t.name);
#else
    static_cast<void>(tensors);
#endif
  }

  // A buffer that is not a tensor (e.g. the device error flag).
  void add(const char* name, const void* begin, std::size_t bytes) {
#if defined(RDM_SIMT)
    buffers_.add(begin, bytes, name);
#else
    static_cast<void>(name), static_cast<void>(begin), static_cast<void>(bytes);
#endif
  }

  // From the first to one past the last byte of t's elements (strides are non-negative).
  static std::size_t extent_bytes(const at::Tensor& t) {
    if (t.numel() == 0) return 0;
    int64_t last = 0;
    for (int64_t d = 0; d < t.dim(); ++d) last += (t.size(d) - 1) * t.stride(d);
    return std::size_t(last + 1) * t.element_size();
  }

#if defined(RDM_SIMT)
 private:
  simt::GlobalBuffers buffers_;
#endif
};

// The kernel's dtype for a tensor the kernels read in its own precision.
inline ScalarKind scalar_kind(const at::Tensor& t, const char* op, const char* arg) {
  const auto type = t.scalar_type();
  TORCH_CHECK(type == at::kFloat || type == at::kHalf || type == at::kBFloat16, op, ": the ", kName, " kernel needs ",
              arg, " in float32, float16 or bfloat16, got ", type, " (float64 runs on the CPU reference path)");
  return type == at::kFloat ? ScalarKind::kFloat32 : type == at::kHalf ? ScalarKind::kFloat16 : ScalarKind::kBFloat16;
}

inline void check_on_backend(const at::Tensor& t, const char* op, const char* arg) {
  TORCH_CHECK(on_backend(t), op, ": ", arg, " must be on the device of ", kName, ", got ", t.device());
}

// True if the tensor's data can be moved in 16-byte vectors.
inline bool aligned16(const at::Tensor& t) { return reinterpret_cast<uintptr_t>(t.data_ptr()) % 16 == 0; }

}  // namespace rdm::backend
