#include "selective_scan_check.h"

#include <torch/library.h>

#include <vector>

#include "check_common.h"

namespace rdm {

namespace {

// What selective_scan and selective_state_update share: x is u (batch, dim, L) or the
// decode step's x (batch, dim) (the caller checks which), and B, C carry the same trailing
// time dimension (or none).
struct Names {
  const char* op;
  const char* x;
  const char* dt;
  const char* dt_bias;
  const char* x_layout;
  const char* bc_layouts;
};

void check_common(const Names& n, const at::Tensor& x, const at::Tensor& dt, const at::Tensor& A,
                  const at::Tensor& B, const at::Tensor& C, const std::optional<at::Tensor>& D,
                  const std::optional<at::Tensor>& z, const std::optional<at::Tensor>& dt_bias) {
  const auto time = x.sizes().slice(2);  // (L,) for the scan, () for a decode step
  check::activation(n.op, x, n.x);
  const int64_t batch = x.size(0), dim = x.size(1);
  TORCH_CHECK(dim >= 1, n.op, ": ", n.x, " must have at least one channel, got shape ", x.sizes());

  const auto act = x.scalar_type();
  const auto param = check::param_type(act);
  const std::string param_name = check::param_type_name(act, n.x);
  const std::string x_dtype = check::dtype_of(n.x, x);
  check::shape(n.op, dt, n.dt, x.sizes(), n.x_layout);
  check::dtype_in(n.op, dt, n.dt, {act}, x_dtype);
  if (z) {
    check::shape(n.op, *z, "z", x.sizes(), n.x_layout);
    check::dtype_in(n.op, *z, "z", {act}, x_dtype);
  }

  TORCH_CHECK(A.dim() == 2 && A.size(0) == dim && A.size(1) >= 1, n.op, ": A must have shape (dim, N) with dim = ",
              dim, " and N >= 1, got ", A.sizes());
  check::dtype_in(n.op, A, "A", {param}, param_name);
  const int64_t state_size = A.size(1);
  for (const auto& [t, name] : {std::pair{&D, "D"}, std::pair{&dt_bias, n.dt_bias}}) {
    if (!*t) continue;
    check::shape(n.op, **t, name, {dim}, "(dim,)");
    check::dtype_in(n.op, **t, name, {param}, param_name);
  }

  // B: (batch, N, time...) meaning one group, or (batch, G, N, time...) with G dividing dim.
  const bool grouped = B.dim() == 3 + static_cast<int64_t>(time.size());
  const int64_t groups = grouped ? B.size(1) : 1;
  std::vector<int64_t> bc_shape{batch};
  if (grouped) bc_shape.push_back(groups);
  bc_shape.push_back(state_size);
  bc_shape.insert(bc_shape.end(), time.begin(), time.end());
  TORCH_CHECK(B.sizes() == at::IntArrayRef(bc_shape) && groups >= 1 && dim % groups == 0, n.op, ": B must have shape ",
              n.bc_layouts, " with N = A.shape[1] = ", state_size, " and G dividing dim = ", dim, ", got ", B.sizes());
  check::dtype_in(n.op, B, "B", {act, param}, check::or_param_type(x_dtype, act, n.x));
  check::shape(n.op, C, "C", B.sizes(), "B's shape");
  check::dtype_in(n.op, C, "C", {B.scalar_type()}, check::dtype_of("B", B));

  check::same_device(n.op, x, n.x,
                     {{&dt, n.dt}, {&A, "A"}, {&B, "B"}, {&C, "C"}, {check::maybe(D), "D"}, {check::maybe(z), "z"},
                      {check::maybe(dt_bias), n.dt_bias}});
}

}  // namespace

void check_selective_scan(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A, const at::Tensor& B,
                          const at::Tensor& C, const std::optional<at::Tensor>& D, const std::optional<at::Tensor>& z,
                          const std::optional<at::Tensor>& delta_bias, const std::optional<at::Tensor>& initial_state,
                          const std::optional<at::Tensor>& cu_seqlens) {
  constexpr const char* kOp = "rdm.selective_scan";
  TORCH_CHECK(u.dim() == 3, kOp, ": u must have shape (batch, dim, L), got ", u.sizes());
  const Names names{kOp, "u", "delta", "delta_bias", "(batch, dim, L)", "(batch, N, L) or (batch, G, N, L)"};
  check_common(names, u, delta, A, B, C, D, z, delta_bias);
  TORCH_CHECK(u.size(2) >= 1, kOp, ": u must have at least one time step (L >= 1), got shape ", u.sizes());

  int64_t states = u.size(0);
  if (cu_seqlens) {
    states = check::cu_seqlens(kOp, *cu_seqlens, u.size(2), u, "u");
    check::same_device(kOp, u, "u", {{&*cu_seqlens, "cu_seqlens"}});
  }
  if (initial_state) {
    check::shape(kOp, *initial_state, "initial_state", {states, u.size(1), A.size(1)},
                 cu_seqlens ? "(S, dim, N) (one per packed sequence)" : "(batch, dim, N)");
    check::dtype_in(kOp, *initial_state, "initial_state", {check::param_type(u.scalar_type())},
                    check::param_type_name(u.scalar_type(), "u"));
    check::same_device(kOp, u, "u", {{&*initial_state, "initial_state"}});
  }
}

namespace {
// A (heads, head_dim, ...) tensor's shape with the two head dimensions as one channel
// dimension, on the meta device: checks share check_common without copying stride-0 views.
at::Tensor flat_channels(const at::Tensor& t, int64_t first) {
  std::vector<int64_t> sizes(t.sizes().begin(), t.sizes().end());
  sizes[first] *= sizes[first + 1];
  sizes.erase(sizes.begin() + first + 1);
  return at::empty(sizes, t.options().device(at::kMeta));
}
std::optional<at::Tensor> flat_channels(const std::optional<at::Tensor>& t, int64_t first) {
  return t ? std::optional(flat_channels(*t, first)) : std::nullopt;
}
}  // namespace

void check_selective_state_update(const at::Tensor& state, const at::Tensor& x, const at::Tensor& dt,
                                  const at::Tensor& A, const at::Tensor& B, const at::Tensor& C,
                                  const std::optional<at::Tensor>& D, const std::optional<at::Tensor>& z,
                                  const std::optional<at::Tensor>& dt_bias,
                                  const std::optional<at::Tensor>& state_batch_indices) {
  constexpr const char* kOp = "rdm.selective_state_update";
  TORCH_CHECK(x.dim() == 2 || x.dim() == 3, kOp, ": x must have shape (batch, dim) or (batch, heads, head_dim), got ",
              x.sizes());
  const bool heads = x.dim() == 3;
  if (heads) {
    // Mamba-2's layout: every per-channel tensor has (heads, head_dim) where the 2-D form has dim.
    const auto expect = [&](const at::Tensor& t, const char* name, int64_t at_dim, const char* layout) {
      TORCH_CHECK(t.dim() > at_dim + 1 && t.size(at_dim) == x.size(1) && t.size(at_dim + 1) == x.size(2), kOp, ": ",
                  name, " must have shape ", layout, " with heads = ", x.size(1), " and head_dim = ", x.size(2),
                  " as in x, got ", t.sizes());
    };
    expect(A, "A", 0, "(heads, head_dim, N)");
    expect(state, "state", 1, "(batch, heads, head_dim, N)");
    if (D) expect(*D, "D", 0, "(heads, head_dim)");
    if (dt_bias) expect(*dt_bias, "dt_bias", 0, "(heads, head_dim)");
    const auto meta = [](const at::Tensor& t) { return at::empty(t.sizes(), t.options().device(at::kMeta)); };
    check_common({kOp, "x", "dt", "dt_bias", "(batch, heads, head_dim)", "(batch, N) or (batch, G, N)"},
                 flat_channels(x, 1), flat_channels(dt, 1), flat_channels(A, 0), meta(B), meta(C), flat_channels(D, 0),
                 flat_channels(z, 1), flat_channels(dt_bias, 0));
    check::same_device(kOp, x, "x",
                       {{&dt, "dt"}, {&A, "A"}, {&B, "B"}, {&C, "C"}, {check::maybe(D), "D"}, {check::maybe(z), "z"},
                        {check::maybe(dt_bias), "dt_bias"}});
  } else {
    check_common({kOp, "x", "dt", "dt_bias", "(batch, dim)", "(batch, N) or (batch, G, N)"}, x, dt, A, B, C, D, z,
                 dt_bias);
  }
  const int64_t rows = state.dim() > 0 ? state.size(0) : 0;
  std::vector<int64_t> state_shape(x.sizes().begin(), x.sizes().end());
  state_shape.push_back(A.size(-1));
  if (state_batch_indices) {
    check::shape(kOp, *state_batch_indices, "state_batch_indices", {x.size(0)}, "(batch,)");
    check::dtype_in(kOp, *state_batch_indices, "state_batch_indices", {at::kInt}, "int32");
    check::same_device(kOp, x, "x", {{&*state_batch_indices, "state_batch_indices"}});
    state_shape[0] = rows;  // any number of state rows: the indices pick them
  }
  check::shape(kOp, state, "state", state_shape,
               heads ? "(batch, heads, head_dim, N) (any batch with state_batch_indices)"
                     : "(batch, dim, N) (any batch with state_batch_indices)");
  const auto param = check::param_type(x.scalar_type());
  const std::string state_types = check::param_type_name(x.scalar_type(), "x") + ", float16 or bfloat16";
  if (param == at::kDouble)
    check::dtype_in(kOp, state, "state", {param}, check::param_type_name(x.scalar_type(), "x"));
  else
    check::dtype_in(kOp, state, "state", {at::kFloat, at::kHalf, at::kBFloat16}, state_types);
  check::same_device(kOp, x, "x", {{&state, "state"}});
}

// CompositeExplicitAutograd: one kernel for every device, the Meta/fake tensors of
// torch.compile included (value checks run on CPU tensors only: check_common.h).
TORCH_LIBRARY_IMPL(RDM_LIB, CompositeExplicitAutograd, m) {
  m.impl("_selective_scan_check", &check_selective_scan);
  m.impl("_selective_state_update_check", &check_selective_state_update);
}

}  // namespace rdm
