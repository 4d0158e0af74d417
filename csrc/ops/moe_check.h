#pragma once
#include <ATen/ATen.h>

namespace rdm {

// Validation of the MoE ops' inputs: shapes, dtypes, devices and, when the values can be
// read, the routing indices (expert ids in range, offsets that describe row groups of x,
// row_id a permutation), so that bad routing raises instead of reading out of bounds.
// Each raises with a message naming the argument, what it got and what it needs.
void check_grouped_gemm(const at::Tensor& x, const at::Tensor& w, const at::Tensor& offsets);
void check_moe_permute(const at::Tensor& x, const at::Tensor& topk_ids, int64_t num_experts);
void check_moe_unpermute(const at::Tensor& y_sorted, const at::Tensor& row_id, const at::Tensor& topk_weights);

}  // namespace rdm
