// What differs between the two backends that run the CUDA kernels: the real GPU (`rdm`
// library, CUDA dispatch key) and the SIMT emulation (`rdm_simt` library, CPU tensors).
// Op implementations are written once against this header.
#pragma once
#include <ATen/ATen.h>

#include "kernels/host_types.h"

#if defined(RDM_SIMT)
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
