// rdm::_device_error_probe on the kernel backends: a gather whose kernel reports
// out-of-range indices through the device error flag (kernels/probe/device_error_probe.h).
// Internal, for tests of the flag and of rdm.debug_checks.
#include <ATen/ATen.h>
#include <torch/library.h>

#include "backend.h"
#include "device_errors.h"
#include "kernels/probe/device_error_probe.h"

namespace rdm {

namespace {
constexpr const char* kOp = "rdm._device_error_probe";

at::Tensor device_error_probe(const at::Tensor& table, const at::Tensor& indices, int64_t code) {
  backend::check_on_backend(table, kOp, "table");
  TORCH_CHECK(table.dim() == 1 && table.scalar_type() == at::kFloat, kOp,
              ": table must be a 1-D float32 tensor, got shape ", table.sizes(), " and dtype ", table.scalar_type());
  TORCH_CHECK(indices.dim() == 1 && indices.scalar_type() == at::kLong, kOp,
              ": indices must be a 1-D int64 tensor, got shape ", indices.sizes(), " and dtype ",
              indices.scalar_type());
  TORCH_CHECK(indices.device() == table.device(), kOp, ": indices must be on table's device ", table.device(),
              ", got ", indices.device());
  TORCH_CHECK(code > 0 && code <= static_cast<int64_t>(DeviceError::kRowIdOutOfRange), kOp,
              ": code must be a DeviceError in [1, ", static_cast<int64_t>(DeviceError::kRowIdOutOfRange), "], got ",
              code);
  backend::DeviceGuard guard(table);
  at::Tensor out = at::empty({indices.size(0)}, table.options());
  if (indices.size(0) == 0) return out;
  DeviceErrorProbeParams p;
  p.table = table.data_ptr<float>();
  p.table_size = table.size(0);
  p.table_stride = table.stride(0);
  p.indices = indices.data_ptr<int64_t>();
  p.n = indices.size(0);
  p.indices_stride = indices.stride(0);
  p.out = out.data_ptr<float>();
  p.code = static_cast<DeviceError>(code);
  p.flag = device_error_flag(table);
  backend::KernelBuffers buffers{{"table", table}, {"indices", indices}, {"out", out}};
  buffers.add("device error flag", p.flag, sizeof(DeviceErrorFlag));
  device_error_probe_launch(p, backend::stream_for(table));
  return out;
}
}  // namespace

// Declared here rather than in registration/schemas.cpp: a test-only op of the kernel
// backends (absent from a CPU-only rdm, which has no kernels).
TORCH_LIBRARY_FRAGMENT(RDM_LIB, m) { m.def("_device_error_probe(Tensor table, Tensor indices, int code) -> Tensor"); }

TORCH_LIBRARY_IMPL(RDM_LIB, RDM_KERNEL_KEY, m) { m.impl("_device_error_probe", &device_error_probe); }

}  // namespace rdm
