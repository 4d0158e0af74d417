// Probe kernel for the device error flag (kernels/common/device_error.h): a gather
// out[i] = table[indices[i]] that treats an index outside [0, table_size) the way every
// kernel with value inputs must: no out-of-bounds read (out[i] = 0 instead) and a report
// of (code, i, indices[i]) into the flag. Tests drive the whole chain with it, from the
// kernel's report to the error rdm.debug_checks raises.
#pragma once
#include "../common/device_error_flag.h"
#include "../host_types.h"

namespace rdm {

struct DeviceErrorProbeParams {
  const float* table = nullptr;      // [table_size], element i at table[i * table_stride]
  const int64_t* indices = nullptr;  // [n], element i at indices[i * indices_stride]
  float* out = nullptr;              // [n], contiguous
  int64_t table_size = 0, table_stride = 1;
  int64_t n = 0, indices_stride = 1;
  DeviceError code = DeviceError::kProbeIndexOutOfRange;  // what a bad index reports
  DeviceErrorFlag* flag = nullptr;
};

// Launches the probe (n >= 1). Throws std::runtime_error for a failed launch.
void device_error_probe_launch(const DeviceErrorProbeParams& p, StreamHandle stream);

}  // namespace rdm
