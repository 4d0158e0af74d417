#pragma once
#include <ATen/ATen.h>

#include <optional>

namespace rdm {

// Validates selective_scan's inputs (shapes, dtypes, devices; cu_seqlens values when they
// can be read); raises with a message naming the argument, what it got and what it needs.
void check_selective_scan(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A, const at::Tensor& B,
                          const at::Tensor& C, const std::optional<at::Tensor>& D, const std::optional<at::Tensor>& z,
                          const std::optional<at::Tensor>& delta_bias, const std::optional<at::Tensor>& initial_state,
                          const std::optional<at::Tensor>& cu_seqlens);

// The same for selective_state_update (one decode step; state is updated in place): the
// (batch, dim) layout or Mamba-2's (batch, heads, head_dim) one; state_batch_indices (int32,
// (batch,)) picks the state row of each batch row. Its values are checked by the kernels.
void check_selective_state_update(const at::Tensor& state, const at::Tensor& x, const at::Tensor& dt,
                                  const at::Tensor& A, const at::Tensor& B, const at::Tensor& C,
                                  const std::optional<at::Tensor>& D, const std::optional<at::Tensor>& z,
                                  const std::optional<at::Tensor>& dt_bias,
                                  const std::optional<at::Tensor>& state_batch_indices);

}  // namespace rdm
