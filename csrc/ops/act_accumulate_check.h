#pragma once
#include <ATen/ATen.h>

#include <optional>

namespace rdm {

// Validates act_accumulate's inputs (shapes, dtypes, devices, threshold); raises with a
// message naming the argument, what it got and what it needs. Used by every backend.
void check_act_accumulate(const at::Tensor& h, const at::Tensor& halt_weight, const at::Tensor& halt_bias,
                          const at::Tensor& h_acc, const at::Tensor& cum_p, double threshold);

// Validates act_accumulate_backward's inputs: the forward's checks with grad_h_acc_out in
// h_acc's role, the optional per-position gradients and the saved halt_state.
void check_act_accumulate_backward(const at::Tensor& grad_h_acc_out, const std::optional<at::Tensor>& grad_cum_p_out,
                                   const std::optional<at::Tensor>& grad_weight, const at::Tensor& h,
                                   const at::Tensor& halt_weight, const at::Tensor& halt_bias, const at::Tensor& cum_p,
                                   const at::Tensor& halt_state);

}  // namespace rdm
