#pragma once
#include <ATen/ATen.h>

namespace rdm {

// Validates act_accumulate's inputs (shapes, dtypes, devices, threshold); raises with a
// message naming the argument, what it got and what it needs. Used by every backend.
void check_act_accumulate(const at::Tensor& h, const at::Tensor& halt_weight, const at::Tensor& halt_bias,
                          const at::Tensor& h_acc, const at::Tensor& cum_p, double threshold);

}  // namespace rdm
