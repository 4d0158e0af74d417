#include "attention_check.h"

#include <torch/library.h>

#include <string>

#include "check_common.h"

namespace rdm {

void check_sliding_window_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, int64_t window,
                                    int64_t num_global, const std::optional<double>& scale,
                                    const std::optional<at::Tensor>& cu_seqlens) {
  constexpr const char* kOp = "rdm.sliding_window_attention";
  TORCH_CHECK(q.dim() == 4 && q.size(1) >= 1 && q.size(2) >= 1 && q.size(3) >= 1, kOp,
              ": q must have shape (B, Tq, H, D) with Tq, H, D >= 1, got ", q.sizes());
  check::activation(kOp, q, "q");
  const std::string q_dtype = check::dtype_of("q", q);
  const int64_t heads = q.size(2);

  TORCH_CHECK(k.dim() == 4 && k.size(0) == q.size(0) && k.size(1) >= q.size(1) && k.size(2) >= 1 &&
                  heads % k.size(2) == 0 && k.size(3) == q.size(3),
              kOp, ": k must have shape (B, Tk, Hkv, D) with B = ", q.size(0), ", Tk >= Tq = ", q.size(1),
              ", Hkv dividing H = ", heads, " and D = ", q.size(3), ", got ", k.sizes());
  check::dtype_in(kOp, k, "k", {q.scalar_type()}, q_dtype);
  check::shape(kOp, v, "v", k.sizes(), "k's shape (B, Tk, Hkv, D)");
  check::dtype_in(kOp, v, "v", {q.scalar_type()}, q_dtype);

  TORCH_CHECK(window >= 1, kOp, ": window must be at least 1 (the query's own position), got ", window);
  TORCH_CHECK(num_global >= 0, kOp, ": num_global must be non-negative, got ", num_global);
  check::scale(kOp, scale);
  if (cu_seqlens) {
    TORCH_CHECK(k.size(1) == q.size(1), kOp, ": with cu_seqlens, k must have as many tokens as q (Tk = Tq = ",
                q.size(1), "), got shape ", k.sizes());
    check::cu_seqlens(kOp, *cu_seqlens, q.size(1), q, "q");
  }
  check::same_device(kOp, q, "q", {{&k, "k"}, {&v, "v"}, {check::maybe(cu_seqlens), "cu_seqlens"}});
}

// CompositeExplicitAutograd: one kernel for every device, the Meta/fake tensors of
// torch.compile included (value checks run on CPU tensors only: check_common.h).
TORCH_LIBRARY_IMPL(RDM_LIB, CompositeExplicitAutograd, m) {
  m.impl("_sliding_window_attention_check", &check_sliding_window_attention);
}

}  // namespace rdm
