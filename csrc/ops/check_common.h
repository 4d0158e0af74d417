// Building blocks of the ops' input validation. Every check raises with a message of the
// form "<op>: <arg> must <requirement>, got <what it got>".
#pragma once
#include <ATen/ATen.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <utility>

namespace rdm::check {

// torch's name of a dtype ("float32", "bfloat16", "int64"), as users write it.
std::string dtype_name(at::ScalarType t);

// "<name>'s dtype <dtype>", for messages that ask for another tensor's dtype.
std::string dtype_of(const char* name, const at::Tensor& t);

// fp32/fp16/bf16, or float64 (gradcheck and the float64 oracles run the references in it).
bool is_activation_type(at::ScalarType t);

// The dtype of parameters and states that are fp32 for fp32/fp16/bf16 activations:
// float64 when the activations are float64, so that a float64 run is float64 throughout.
at::ScalarType param_type(at::ScalarType activation);

// "float32", or "float64 (as <activation_name> is float64)".
std::string param_type_name(at::ScalarType activation, const char* activation_name);

// "<activation requirement> or <param_type_name>", or just the former when they are one dtype.
std::string or_param_type(const std::string& activation_requirement, at::ScalarType activation,
                          const char* activation_name);

// Activations: fp32/fp16/bf16/fp64.
void activation(const char* op, const at::Tensor& t, const char* name);

// t must have one of the given dtypes; `requirement` spells them out for the message.
void dtype_in(const char* op, const at::Tensor& t, const char* name, std::initializer_list<at::ScalarType> allowed,
              const std::string& requirement);

// t.sizes() == expected; `layout` names the dimensions, e.g. "(batch, dim, N)".
void shape(const char* op, const at::Tensor& t, const char* name, at::IntArrayRef expected, const char* layout);

// Every named tensor is on reference's device (nullptr entries: absent optionals).
using Named = std::pair<const at::Tensor*, const char*>;
void same_device(const char* op, const at::Tensor& reference, const char* reference_name,
                 std::initializer_list<Named> tensors);
inline const at::Tensor* maybe(const std::optional<at::Tensor>& t) { return t ? &*t : nullptr; }

// t's values (int64, contiguous) for a value check on the CPU path, or nothing elsewhere:
// Meta tensors (the fakes under torch.compile) have no data, and reading a CUDA tensor
// would be a device-to-host copy and a sync on every call. The kernels check such values
// themselves instead, never access memory out of bounds for a bad one and report it
// through the device error flag (rdm.debug_checks). The SIMT emulation (rdm_simt) runs
// the CUDA kernels, so it skips these checks as CUDA does.
std::optional<at::Tensor> cpu_values(const at::Tensor& t);

// Checks cu_seqlens (int32 (S + 1,), 0 = cu[0] <= cu[1] <= ... <= cu[S] = length; equal
// neighbours are empty sequences; values read on the CPU path only) and returns S. Packed
// sequences share one batch row: batch_tensor (named batch_name) must have size 1 in dim 0.
int64_t cu_seqlens(const char* op, const at::Tensor& cu_seqlens, int64_t length, const at::Tensor& batch_tensor,
                   const char* batch_name);

// A `float? scale` must be finite when given.
void scale(const char* op, const std::optional<double>& scale);

}  // namespace rdm::check
