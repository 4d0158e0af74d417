// Types shared by kernel launchers (.cu) and op registration (.cpp).
// Deliberately free of torch/ATen headers so that .cu files compile in seconds.
#pragma once
#include <cstdint>

#if defined(RDM_SIMT)
namespace rdm {
// The SIMT emulation runs every launch synchronously on the host: there is no stream.
struct StreamHandle {};
}  // namespace rdm
#else
#include <cuda_runtime_api.h>
namespace rdm {
using StreamHandle = cudaStream_t;
}  // namespace rdm
#endif

namespace rdm {
// Element type of a kernel's main tensor. Launchers are templated on it so that the
// registration code (.cpp) can pick an instantiation without naming __half/__nv_bfloat16.
enum class ScalarKind : int { kFloat32 = 0, kFloat16 = 1, kBFloat16 = 2 };
}  // namespace rdm
