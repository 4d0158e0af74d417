#include "device_error_probe.h"

#include "../common/device_error.h"
#include "../portable.h"

namespace rdm {
namespace {

constexpr int kThreads = 64;

__global__ void __launch_bounds__(kThreads) device_error_probe_kernel(DeviceErrorProbeParams p) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= p.n) return;
  const int64_t index = p.indices[i * p.indices_stride];
  const bool valid = index >= 0 && index < p.table_size;
  if (!valid) report_device_error(p.flag, p.code, i, index);
  p.out[i] = valid ? p.table[index * p.table_stride] : 0.f;
}

}  // namespace

void device_error_probe_launch(const DeviceErrorProbeParams& p, StreamHandle stream) {
  const auto blocks = static_cast<unsigned>((p.n + kThreads - 1) / kThreads);
  launch_kernel("device_error_probe_kernel", device_error_probe_kernel, dim3(blocks), dim3(kThreads), 0, stream, p);
}

}  // namespace rdm
