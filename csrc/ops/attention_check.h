#pragma once
#include <ATen/ATen.h>

#include <optional>

namespace rdm {

// Validates sliding_window_attention's inputs (shapes, GQA heads, dtypes, devices, window,
// num_global, scale; cu_seqlens values when they can be read). Raises with a message
// naming the argument, what it got and what it needs.
void check_sliding_window_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, int64_t window,
                                    int64_t num_global, const std::optional<double>& scale,
                                    const std::optional<at::Tensor>& cu_seqlens);

}  // namespace rdm
