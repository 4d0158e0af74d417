// The device error flag's layout and codes: plain C++ shared by the kernels
// (device_error.h, which reports into the flag) and the host (csrc/ops/device_errors.cpp,
// which owns one flag per device and reads it).
#pragma once
#include <cstdint>

namespace rdm {

// What went wrong. The host's message table (describe() in csrc/ops/device_errors.cpp)
// names the argument and its requirement for each code; add a code there with one here.
enum class DeviceError : int64_t {
  kNone = 0,
  kProbeIndexOutOfRange = 1,  // rdm::_device_error_probe: indices[i] outside [0, bound)
  kCuSeqlensOutOfOrder = 2,   // cu_seqlens: not non-decreasing from 0 to the number of tokens
  kOffsetsOutOfRange = 3,     // grouped_gemm: offsets[e] negative, decreasing, or past M
  kTopkIdOutOfRange = 4,      // moe_permute: topk_ids[i] outside [0, num_experts)
  kRowIdOutOfRange = 5,       // moe_unpermute: row_id[i] outside [0, T * k)
  kStateBatchIndexOutOfRange = 6,  // selective_state_update: state_batch_indices[b] >= state rows
};

// One flag per device, all zero while no error was reported. 64-bit fields: the code is
// claimed with a 64-bit atomicCAS, and index and value are int64 like tensor indices.
struct DeviceErrorFlag {
  unsigned long long code;  // a DeviceError
  long long index;          // where the bad value is in its tensor (flattened)
  long long value;          // the bad value itself
};
static_assert(sizeof(DeviceErrorFlag) == 3 * sizeof(int64_t), "the host reads the flag as three int64");

}  // namespace rdm
