#include "moe_check.h"

#include <torch/library.h>

#include <string>
#include <vector>

#include "check_common.h"

namespace rdm {

void check_grouped_gemm(const at::Tensor& x, const at::Tensor& w, const at::Tensor& offsets) {
  constexpr const char* kOp = "rdm.grouped_gemm";
  TORCH_CHECK(x.dim() == 2 && x.size(1) >= 1, kOp, ": x must have shape (M, K) with K >= 1, got ", x.sizes());
  check::activation(kOp, x, "x");
  TORCH_CHECK(w.dim() == 3 && w.size(0) >= 1 && w.size(1) == x.size(1) && w.size(2) >= 1, kOp,
              ": w must have shape (E, K, N) with E >= 1, K = x.shape[1] = ", x.size(1), " and N >= 1, got ",
              w.sizes());
  check::dtype_in(kOp, w, "w", {x.scalar_type()}, check::dtype_of("x", x));
  check::dtype_in(kOp, offsets, "offsets", {at::kInt}, "int32");
  check::shape(kOp, offsets, "offsets", {w.size(0)}, "(E,)");
  check::same_device(kOp, x, "x", {{&w, "w"}, {&offsets, "offsets"}});

  if (const auto values = check::cpu_values(offsets)) {
    const auto ends = values->accessor<int64_t, 1>();
    const int64_t experts = ends.size(0);
    TORCH_CHECK(ends[0] >= 0, kOp, ": offsets must be non-negative, got offsets[0] = ", ends[0]);
    for (int64_t e = 1; e < experts; ++e) {
      TORCH_CHECK(ends[e] >= ends[e - 1], kOp, ": offsets must be non-decreasing (cumulative row ends), got offsets[",
                  e, "] = ", ends[e], " after ", ends[e - 1]);
    }
    TORCH_CHECK(ends[experts - 1] <= x.size(0), kOp, ": offsets[E - 1] must be at most the number of rows M = ",
                x.size(0), ", got ", ends[experts - 1]);
  }
}

void check_moe_permute(const at::Tensor& x, const at::Tensor& topk_ids, int64_t num_experts) {
  constexpr const char* kOp = "rdm.moe_permute";
  TORCH_CHECK(x.dim() == 2, kOp, ": x must have shape (T, D), got ", x.sizes());
  check::activation(kOp, x, "x");
  TORCH_CHECK(topk_ids.dim() == 2 && topk_ids.size(0) == x.size(0) && topk_ids.size(1) >= 1, kOp,
              ": topk_ids must have shape (T, k) with T = ", x.size(0), " and k >= 1, got ", topk_ids.sizes());
  check::dtype_in(kOp, topk_ids, "topk_ids", {at::kInt, at::kLong}, "int32 or int64");
  TORCH_CHECK(num_experts >= 1, kOp, ": num_experts must be at least 1, got ", num_experts);
  check::same_device(kOp, x, "x", {{&topk_ids, "topk_ids"}});

  if (const auto values = check::cpu_values(topk_ids); values && values->numel() > 0) {
    const int64_t lowest = values->min().item<int64_t>(), highest = values->max().item<int64_t>();
    TORCH_CHECK(lowest >= 0 && highest < num_experts, kOp, ": topk_ids must lie in [0, num_experts) = [0, ",
                num_experts, "), got ", lowest < 0 ? lowest : highest);
  }
}

void check_moe_unpermute(const at::Tensor& y_sorted, const at::Tensor& row_id, const at::Tensor& topk_weights) {
  constexpr const char* kOp = "rdm.moe_unpermute";
  TORCH_CHECK(topk_weights.dim() == 2 && topk_weights.size(1) >= 1, kOp,
              ": topk_weights must have shape (T, k) with k >= 1, got ", topk_weights.sizes());
  const int64_t rows = topk_weights.size(0) * topk_weights.size(1);
  TORCH_CHECK(y_sorted.dim() == 2 && y_sorted.size(0) == rows, kOp,
              ": y_sorted must have shape (T * k, D) with T * k = ", rows, ", got ", y_sorted.sizes());
  check::activation(kOp, y_sorted, "y_sorted");
  const auto act = y_sorted.scalar_type();
  const auto param = check::param_type(act);
  check::dtype_in(kOp, topk_weights, "topk_weights", {act, param},
                  check::or_param_type(check::dtype_of("y_sorted", y_sorted), act, "y_sorted"));
  check::dtype_in(kOp, row_id, "row_id", {at::kInt}, "int32");
  check::shape(kOp, row_id, "row_id", {rows}, "(T * k,)");
  check::same_device(kOp, y_sorted, "y_sorted", {{&row_id, "row_id"}, {&topk_weights, "topk_weights"}});

  if (const auto values = check::cpu_values(row_id)) {
    const auto ids = values->accessor<int64_t, 1>();
    std::vector<bool> seen(rows, false);
    for (int64_t r = 0; r < rows; ++r) {
      TORCH_CHECK(ids[r] >= 0 && ids[r] < rows && !seen[ids[r]], kOp,
                  ": row_id must be a permutation of 0 .. T * k - 1 = ", rows - 1, " (as moe_permute returns), got ",
                  ids[r], ids[r] >= 0 && ids[r] < rows ? " twice" : "", " at row ", r);
      seen[ids[r]] = true;
    }
  }
}

// CompositeExplicitAutograd: one kernel for every device, the Meta/fake tensors of
// torch.compile included (value checks run on CPU tensors only: check_common.h).
TORCH_LIBRARY_IMPL(RDM_LIB, CompositeExplicitAutograd, m) {
  m.impl("_grouped_gemm_check", &check_grouped_gemm);
  m.impl("_moe_permute_check", &check_moe_permute);
  m.impl("_moe_unpermute_check", &check_moe_unpermute);
}

}  // namespace rdm
