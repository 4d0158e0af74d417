// The host side of the device error flag (kernels/common/device_error_flag.h): one flag per
// device, allocated lazily and only ever read when the user asks for it (rdm.debug_checks).
#pragma once
#include <ATen/ATen.h>

#include "kernels/common/device_error_flag.h"

namespace rdm {

// The flag of t's device (zeroed when first allocated), for a kernel launch to report into.
// Under the SIMT emulation (CPU tensors) it lives in host memory, as the kernels run there.
DeviceErrorFlag* device_error_flag(const at::Tensor& t);

}  // namespace rdm
