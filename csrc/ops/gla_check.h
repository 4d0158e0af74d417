#pragma once
#include <ATen/ATen.h>

#include <optional>

namespace rdm {

// Validates the inputs of chunk_gla and fused_recurrent_gla (same arguments; `op` names the
// op in messages): shapes, dtypes, devices, scale, and cu_seqlens values when they can be
// read. Raises with a message naming the argument, what it got and what it needs.
void check_gla(const char* op, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& g,
               const std::optional<double>& scale, const std::optional<at::Tensor>& initial_state,
               const std::optional<at::Tensor>& cu_seqlens);

}  // namespace rdm
