// One device error flag per device, and rdm::_device_errors, which reads and clears it.
// Reading is a device-to-host copy (a sync), so only rdm.debug_checks does it.
#include "device_errors.h"

#include <torch/library.h>

#include <mutex>
#include <string>
#include <unordered_map>

namespace rdm {

namespace {

struct Description {
  const char* argument;
  const char* requirement;
};

// The message table: what each code says about which argument. No default case, so that
// -Wswitch flags a code without a message.
Description describe(DeviceError code) {
  switch (code) {
    case DeviceError::kNone:
      break;
    case DeviceError::kProbeIndexOutOfRange:
      return {"indices", "must lie in [0, table.shape[0])"};
    case DeviceError::kCuSeqlensOutOfOrder:
      return {"cu_seqlens", "must be non-decreasing from 0 to the number of tokens"};
    case DeviceError::kOffsetsOutOfRange:
      return {"offsets", "must be non-negative, non-decreasing cumulative row ends of at most M"};
    case DeviceError::kTopkIdOutOfRange:
      return {"topk_ids", "must lie in [0, num_experts)"};
    case DeviceError::kRowIdOutOfRange:
      return {"row_id", "must be a permutation of 0 .. T * k - 1 (as moe_permute returns)"};
    case DeviceError::kStateBatchIndexOutOfRange:
      return {"state_batch_indices", "must be below state.shape[0] (negative: a padding slot, skipped)"};
  }
  return {"an input", "has a bad value (unknown device error code)"};
}

// The flags as int64 tensors of three elements (DeviceErrorFlag's layout). Never freed:
// kernels may still report into them while the process exits.
at::Tensor& flag_tensor(const c10::Device& device) {
  static std::mutex mutex;
  static auto* flags = new std::unordered_map<c10::Device, at::Tensor>();
  const std::lock_guard<std::mutex> lock(mutex);
  auto [entry, inserted] = flags->try_emplace(device);
  if (inserted) entry->second = at::zeros({3}, at::TensorOptions().dtype(at::kLong).device(device));
  return entry->second;
}

// Reads and clears the flag of like's device: "" when no error was reported, else the
// message "rdm.<op>: <argument> <requirement>, got <value> at index <index> ...".
std::string device_errors(const at::Tensor& like, c10::string_view op) {
  at::Tensor& flag = flag_tensor(like.device());
  const at::Tensor host = flag.to(at::kCPU, /*non_blocking=*/false, /*copy=*/true);
  const int64_t* fields = host.data_ptr<int64_t>();
  if (fields[0] == 0) return "";
  flag.zero_();
  const auto code = static_cast<DeviceError>(fields[0]);
  const Description d = describe(code);
  return "rdm." + std::string(op) + ": " + d.argument + " " + d.requirement + ", got " + std::to_string(fields[2]) +
         " at index " + std::to_string(fields[1]) + " (error " + std::to_string(fields[0]) +
         ", reported by a kernel on " + like.device().str() + ")";
}

}  // namespace

DeviceErrorFlag* device_error_flag(const at::Tensor& t) {
  return reinterpret_cast<DeviceErrorFlag*>(flag_tensor(t.device()).data_ptr<int64_t>());
}

// Declared here rather than in registration/schemas.cpp: it belongs to this file's flags.
TORCH_LIBRARY_FRAGMENT(RDM_LIB, m) {
  m.def("_device_errors(Tensor like, str op) -> str");
}

// CompositeExplicitAutograd: one kernel for every device (the flag of like's device).
TORCH_LIBRARY_IMPL(RDM_LIB, CompositeExplicitAutograd, m) { m.impl("_device_errors", &device_errors); }

}  // namespace rdm
