#include "gla_check.h"

#include <torch/library.h>

#include <string>

#include "check_common.h"

namespace rdm {

void check_gla(const char* op, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& g,
               const std::optional<double>& scale, const std::optional<at::Tensor>& initial_state,
               const std::optional<at::Tensor>& cu_seqlens) {
  TORCH_CHECK(q.dim() == 4 && q.size(1) >= 1 && q.size(2) >= 1 && q.size(3) >= 1, op,
              ": q must have shape (B, T, H, K) with T, H, K >= 1, got ", q.sizes());
  check::activation(op, q, "q");
  const auto act = q.scalar_type();
  const std::string q_dtype = check::dtype_of("q", q);
  const auto param = check::param_type(act);
  const std::string param_name = check::param_type_name(act, "q");
  const int64_t batch = q.size(0), length = q.size(1), heads = q.size(2), key_dim = q.size(3);

  check::shape(op, k, "k", q.sizes(), "q's shape (B, T, H, K)");
  check::dtype_in(op, k, "k", {act}, q_dtype);
  TORCH_CHECK(v.dim() == 4 && v.sizes().slice(0, 3) == q.sizes().slice(0, 3) && v.size(3) >= 1, op,
              ": v must have shape (B, T, H, V) with (B, T, H) = ", q.sizes().slice(0, 3), " and V >= 1, got ",
              v.sizes());
  check::dtype_in(op, v, "v", {act}, q_dtype);
  // The log forget gates are often kept in fp32 (their cumulative sums need the precision).
  check::shape(op, g, "g", q.sizes(), "q's shape (B, T, H, K)");
  check::dtype_in(op, g, "g", {act, param}, check::or_param_type(q_dtype, act, "q"));
  check::scale(op, scale);

  int64_t states = batch;
  if (cu_seqlens) states = check::cu_seqlens(op, *cu_seqlens, length, q, "q");
  if (initial_state) {
    check::shape(op, *initial_state, "initial_state", {states, heads, key_dim, v.size(3)},
                 cu_seqlens ? "(S, H, K, V) (one per packed sequence)" : "(B, H, K, V)");
    check::dtype_in(op, *initial_state, "initial_state", {param}, param_name);
  }
  check::same_device(op, q, "q",
                     {{&k, "k"}, {&v, "v"}, {&g, "g"}, {check::maybe(initial_state), "initial_state"},
                      {check::maybe(cu_seqlens), "cu_seqlens"}});
}

namespace {
template <const char* kOp>
void check_named(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& g,
                 std::optional<double> scale, const std::optional<at::Tensor>& initial_state,
                 const std::optional<at::Tensor>& cu_seqlens) {
  check_gla(kOp, q, k, v, g, scale, initial_state, cu_seqlens);
}
constexpr char kChunk[] = "rdm.chunk_gla";
constexpr char kRecurrent[] = "rdm.fused_recurrent_gla";
}  // namespace

// CompositeExplicitAutograd: one kernel for every device, the Meta/fake tensors of
// torch.compile included (value checks run on CPU tensors only: check_common.h).
TORCH_LIBRARY_IMPL(RDM_LIB, CompositeExplicitAutograd, m) {
  m.impl("_chunk_gla_check", &check_named<kChunk>);
  m.impl("_fused_recurrent_gla_check", &check_named<kRecurrent>);
}

}  // namespace rdm
