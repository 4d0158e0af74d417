// How a kernel reports a bad value in an input it reads on the device (an index out of
// range, cu_seqlens out of order) without a device-to-host copy on the op's path: it
// treats the value safely (never reads or writes out of bounds, e.g. skips the row) and
// calls report_device_error. The flag keeps the first report until the host reads and
// clears it, which happens only when the user asks (rdm.debug_checks; docs/kernels.md).
// Kernel-side header (nvcc, or the SIMT emulation where the "device" flag is host memory).
#pragma once
#include "../portable.h"
#include "device_error_flag.h"

namespace rdm {

// Reports a bad value. The first report since the flag was last cleared (of any thread,
// block or launch) wins and is kept whole; later ones are dropped, so which of several
// bad values of one launch is kept depends on the scheduling. One atomic per report,
// nothing on the path without errors. A null flag (no flag passed) drops the report.
__device__ __forceinline__ void report_device_error(DeviceErrorFlag* flag, DeviceError code, long long index,
                                                    long long value) {
  if (flag == nullptr) return;
  if (atomicCAS(&flag->code, 0ull, static_cast<unsigned long long>(code)) == 0ull) {
    // Only the winner writes these; the host reads them after the launch has finished.
    flag->index = index;
    flag->value = value;
  }
}

}  // namespace rdm
