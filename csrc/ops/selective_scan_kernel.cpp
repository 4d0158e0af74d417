// rdm::selective_scan and rdm::selective_state_update on the kernel backends (CUDA, or the
// SIMT emulation for rdm_simt): validation, layout, params, launch. The kernels are in
// kernels/selective_scan/. No input is copied when its time (last) dimension is contiguous;
// every other dimension reaches the kernels as a stride.
#include <ATen/ATen.h>
#include <torch/library.h>

#include "backend.h"
#include "device_errors.h"
#include "kernels/common/dispatch.h"
#include "kernels/selective_scan/selective_scan_params.h"
#include "selective_scan_check.h"

namespace rdm {

namespace {
namespace ss = selective_scan;

// The tensor itself when its last dimension is contiguous (or of size 1), else a copy.
at::Tensor last_dim_contiguous(const at::Tensor& t) {
  return t.size(-1) == 1 || t.stride(-1) == 1 ? t : t.contiguous();
}

// B or C as (batch, G, N, L) (a view of the 3-D form with G = 1).
at::Tensor grouped(const at::Tensor& t) { return last_dim_contiguous(t.dim() == 3 ? t.unsqueeze(1) : t); }

const void* data_or_null(const std::optional<at::Tensor>& t) { return t ? t->data_ptr() : nullptr; }
const float* floats_or_null(const std::optional<at::Tensor>& t) { return t ? t->data_ptr<float>() : nullptr; }

// Whether kItems elements per lane move as one vector: base aligned to the vector and every
// stride but the last a whole number of vectors.
bool vector_aligned(const at::Tensor& t) {
  const int64_t bytes = ss::kItems * t.element_size();
  if (reinterpret_cast<uintptr_t>(t.data_ptr()) % bytes != 0) return false;
  for (int64_t d = 0; d + 1 < t.dim(); ++d)
    if (t.size(d) > 1 && t.stride(d) % ss::kItems != 0) return false;
  return true;
}

template <typename F>
void with_kinds(ScalarKind act, bool bc_float32, F&& f) {
  dispatch_scalar(act, [&](auto a) { dispatch_bool(bc_float32, [&](auto bc) { f(a, bc); }); });
}

// selective_scan's inputs as the kernels read them, and the params that describe them.
struct Prepared {
  at::Tensor u, delta, B, C;
  std::optional<at::Tensor> z, cu_seqlens;
  ScalarKind kind;
  bool bc_float32;
  int64_t batch, dim, length, N, states;
  selective_scan::ForwardParams p{};
};

Prepared prepare(const char* op, const at::Tensor& u_in, const at::Tensor& delta_in, const at::Tensor& A,
                 const at::Tensor& B_in, const at::Tensor& C_in, const std::optional<at::Tensor>& D,
                 const std::optional<at::Tensor>& z_in, const std::optional<at::Tensor>& delta_bias,
                 bool delta_softplus, const std::optional<at::Tensor>& initial_state,
                 const std::optional<at::Tensor>& cu_seqlens_in) {
  check_selective_scan(u_in, delta_in, A, B_in, C_in, D, z_in, delta_bias, initial_state, cu_seqlens_in);
  backend::check_on_backend(u_in, op, "u");
  Prepared in;
  in.kind = backend::scalar_kind(u_in, op, "u");
  TORCH_CHECK(A.size(1) <= ss::kMaxState, op, ": N (A.shape[1]) must be at most ", ss::kMaxState, " on ",
              backend::kName, " (the kernel keeps a channel's state in registers), got N = ", A.size(1));
  in.u = last_dim_contiguous(u_in), in.delta = last_dim_contiguous(delta_in);
  in.B = grouped(B_in), in.C = grouped(C_in);
  if (z_in) in.z = last_dim_contiguous(*z_in);
  if (cu_seqlens_in) in.cu_seqlens = cu_seqlens_in->contiguous();  // (S + 1,) int32
  in.batch = in.u.size(0), in.dim = in.u.size(1), in.length = in.u.size(2), in.N = A.size(1);
  in.states = in.cu_seqlens ? in.cu_seqlens->size(0) - 1 : in.batch;
  in.bc_float32 = in.B.scalar_type() == at::kFloat;

  ss::ForwardParams& p = in.p;
  const at::Tensor &u = in.u, &delta = in.delta, &B = in.B, &C = in.C;
  p.u = u.data_ptr(), p.u_batch_stride = u.stride(0), p.u_dim_stride = u.stride(1);
  p.delta = delta.data_ptr(), p.delta_batch_stride = delta.stride(0), p.delta_dim_stride = delta.stride(1);
  if (in.z) p.z = in.z->data_ptr(), p.z_batch_stride = in.z->stride(0), p.z_dim_stride = in.z->stride(1);
  p.B = B.data_ptr(), p.B_batch_stride = B.stride(0), p.B_group_stride = B.stride(1), p.B_state_stride = B.stride(2);
  p.C = C.data_ptr(), p.C_batch_stride = C.stride(0), p.C_group_stride = C.stride(1), p.C_state_stride = C.stride(2);
  p.A = A.data_ptr<float>(), p.A_dim_stride = A.stride(0), p.A_state_stride = A.stride(1);
  p.D = floats_or_null(D), p.D_stride = D ? D->stride(0) : 0;
  p.delta_bias = floats_or_null(delta_bias), p.delta_bias_stride = delta_bias ? delta_bias->stride(0) : 0;
  if (initial_state) {
    p.initial_state = initial_state->data_ptr<float>();
    p.initial_seq_stride = initial_state->stride(0);
    p.initial_dim_stride = initial_state->stride(1);
    p.initial_state_stride = initial_state->stride(2);
  }
  p.cu_seqlens = in.cu_seqlens ? in.cu_seqlens->data_ptr<int32_t>() : nullptr;
  p.num_seqs = in.states;
  p.batch = in.batch, p.dim = in.dim, p.length = in.length;
  p.state_size = int(in.N), p.groups = int(B.size(1));
  p.softplus = delta_softplus;
  p.vectorized = vector_aligned(u) && vector_aligned(delta) && vector_aligned(B) && vector_aligned(C) &&
                 (!in.z || vector_aligned(*in.z));
  p.flag = in.cu_seqlens ? device_error_flag(u) : nullptr;
  return in;
}

void launch_forward(const Prepared& in, const ss::ForwardParams& p) {
  with_kinds(in.kind, in.bc_float32, [&](auto a, auto bc) {
    ss::forward_launch<decltype(a)::value, decltype(bc)::value>(p, backend::stream_for(in.u));
  });
}

std::tuple<at::Tensor, at::Tensor> scan_forward(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A,
                                                  const at::Tensor& B, const at::Tensor& C,
                                                  const std::optional<at::Tensor>& D,
                                                  const std::optional<at::Tensor>& z,
                                                  const std::optional<at::Tensor>& delta_bias, bool delta_softplus,
                                                  const std::optional<at::Tensor>& initial_state,
                                                  const std::optional<at::Tensor>& cu_seqlens) {
  backend::DeviceGuard guard(u);
  Prepared in = prepare("rdm.selective_scan", u, delta, A, B, C, D, z, delta_bias, delta_softplus, initial_state,
                        cu_seqlens);
  at::Tensor out = at::empty(in.u.sizes(), in.u.options());
  at::Tensor last_state = at::empty({in.states, in.dim, in.N}, in.u.options().dtype(at::kFloat));
  if (in.batch == 0) return {out, last_state};
  ss::ForwardParams& p = in.p;
  p.out = out.data_ptr(), p.out_batch_stride = out.stride(0), p.out_dim_stride = out.stride(1);
  p.last_state = last_state.data_ptr<float>();
  p.last_seq_stride = last_state.stride(0), p.last_dim_stride = last_state.stride(1);
  p.last_state_stride = last_state.stride(2);
  p.vectorized = p.vectorized && vector_aligned(out);
  launch_forward(in, p);
  return {out, last_state};
}

using Grads = std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor,
                         at::Tensor, at::Tensor>;

// Two launches: the forward kernel again, writing only the chunk checkpoints (the public
// forward's schema has no room for them), then the backward kernel, which recomputes the
// states of each chunk from its checkpoint.
Grads scan_backward(const std::optional<at::Tensor>& grad_out_in,
                              const std::optional<at::Tensor>& grad_last_in, const at::Tensor& u_in,
                              const at::Tensor& delta, const at::Tensor& A, const at::Tensor& B_in,
                              const at::Tensor& C, const std::optional<at::Tensor>& D,
                              const std::optional<at::Tensor>& z, const std::optional<at::Tensor>& delta_bias,
                              bool delta_softplus, const std::optional<at::Tensor>& initial_state,
                              const std::optional<at::Tensor>& cu_seqlens) {
  constexpr const char* kOp = "rdm.selective_scan_backward";
  backend::DeviceGuard guard(u_in);
  Prepared in = prepare(kOp, u_in, delta, A, B_in, C, D, z, delta_bias, delta_softplus, initial_state, cu_seqlens);
  const at::Tensor& u = in.u;
  std::optional<at::Tensor> grad_out, grad_last;
  if (grad_out_in) {
    TORCH_CHECK(grad_out_in->sizes() == u.sizes(), kOp, ": grad_out must have u's shape ", u.sizes(), ", got ",
                grad_out_in->sizes());
    grad_out = last_dim_contiguous(grad_out_in->to(u.scalar_type()));
  }
  if (grad_last_in) {
    TORCH_CHECK(grad_last_in->sizes() == at::IntArrayRef({in.states, in.dim, in.N}), kOp,
                ": grad_last_state must have last_state's shape (", in.states, ", ", in.dim, ", ", in.N, "), got ",
                grad_last_in->sizes());
    grad_last = grad_last_in->to(at::kFloat);
  }
  const auto f32 = u.options().dtype(at::kFloat);
  at::Tensor grad_u = at::empty(u.sizes(), u.options()), grad_delta = at::empty(u.sizes(), u.options());
  at::Tensor grad_z = z ? at::empty(u.sizes(), u.options()) : at::empty({0}, u.options());
  at::Tensor grad_B = at::zeros(in.B.sizes(), f32), grad_C = at::zeros(in.C.sizes(), f32);
  at::Tensor grad_A = at::empty({in.batch, in.dim, in.N}, f32);
  at::Tensor grad_D = at::empty({in.batch, in.dim}, f32), grad_bias = at::empty({in.batch, in.dim}, f32);
  at::Tensor grad_init = at::empty({in.states, in.dim, in.N}, f32);
  if (in.batch > 0) {
    at::Tensor checkpoints = at::empty({in.batch, in.dim, ss::num_chunks(in.length), in.N}, f32);
    ss::ForwardParams fp = in.p;
    fp.chunk_states = checkpoints.data_ptr<float>();
    fp.flag = nullptr;  // the forward already reported bad cu_seqlens
    launch_forward(in, fp);

    ss::BackwardParams p{};
    p.fwd = fp;
    if (grad_out) {
      p.grad_out = grad_out->data_ptr();
      p.grad_out_batch_stride = grad_out->stride(0), p.grad_out_dim_stride = grad_out->stride(1);
    }
    p.grad_out_vectorized = grad_out && vector_aligned(*grad_out);
    if (grad_last) {
      p.grad_last_state = grad_last->data_ptr<float>();
      p.grad_last_seq_stride = grad_last->stride(0), p.grad_last_dim_stride = grad_last->stride(1);
      p.grad_last_state_stride = grad_last->stride(2);
    }
    p.fwd.vectorized = fp.vectorized && vector_aligned(grad_u);  // the contiguous gradients: L % kItems == 0
    p.grad_u = grad_u.data_ptr(), p.grad_delta = grad_delta.data_ptr();
    p.grad_z = z ? grad_z.data_ptr() : nullptr;
    p.grad_B = grad_B.data_ptr<float>(), p.grad_C = grad_C.data_ptr<float>();
    p.grad_A = grad_A.data_ptr<float>(), p.grad_D = grad_D.data_ptr<float>();
    p.grad_delta_bias = grad_bias.data_ptr<float>(), p.grad_initial_state = grad_init.data_ptr<float>();
    with_kinds(in.kind, in.bc_float32, [&](auto a, auto bc) {
      ss::backward_launch<decltype(a)::value, decltype(bc)::value>(p, backend::stream_for(u));
    });
  } else {
    grad_A.zero_(), grad_D.zero_(), grad_bias.zero_(), grad_init.zero_();
  }
  // Per-batch-row partials summed in a fixed order; gradients in their inputs' dtypes.
  const at::Tensor none = at::empty({0}, u.options());
  return {grad_u,
          grad_delta,
          grad_A.sum(0).to(A.scalar_type()),
          grad_B.reshape(B_in.sizes()).to(B_in.scalar_type()),
          grad_C.reshape(C.sizes()).to(C.scalar_type()),
          D ? grad_D.sum(0) : none,
          grad_z,
          delta_bias ? grad_bias.sum(0) : none,
          initial_state ? grad_init : at::empty({0}, u.options())};
}

// A per-token decode tensor (batch, dim) or (batch, heads, head_dim) as (b, h, p) strides of
// the head layout; a (batch, dim) tensor is heads = dim, head_dim = 1.
struct HeadStrides {
  int64_t batch, head, dim;
};
HeadStrides head_strides(const at::Tensor& t) {
  return t.dim() == 2 ? HeadStrides{t.stride(0), t.stride(1), 0} : HeadStrides{t.stride(0), t.stride(1), t.stride(2)};
}
// A per-channel tensor (dim, ...) or (heads, head_dim, ...) as (h, p) strides.
std::pair<int64_t, int64_t> channel_strides(const at::Tensor& t, bool head_layout) {
  return head_layout ? std::pair{t.stride(0), t.stride(1)} : std::pair{t.stride(0), int64_t(0)};
}

at::Tensor state_update(const at::Tensor& state, const at::Tensor& x, const at::Tensor& dt,
                                  const at::Tensor& A, const at::Tensor& B_in, const at::Tensor& C_in,
                                  const std::optional<at::Tensor>& D, const std::optional<at::Tensor>& z,
                                  const std::optional<at::Tensor>& dt_bias, bool dt_softplus,
                                  const std::optional<at::Tensor>& state_batch_indices) {
  constexpr const char* kOp = "rdm.selective_state_update";
  check_selective_state_update(state, x, dt, A, B_in, C_in, D, z, dt_bias, state_batch_indices);
  backend::check_on_backend(x, kOp, "x");
  backend::DeviceGuard guard(x);
  const ScalarKind kind = backend::scalar_kind(x, kOp, "x");
  const ScalarKind state_kind = backend::scalar_kind(state, kOp, "state");
  const bool heads = x.dim() == 3;
  const at::Tensor B = B_in.dim() == 2 ? B_in.unsqueeze(1) : B_in, C = C_in.dim() == 2 ? C_in.unsqueeze(1) : C_in;
  at::Tensor y = at::empty(x.sizes(), x.options());

  ss::DecodeParams p{};
  p.state = state.data_ptr();
  p.state_batch_stride = state.stride(0);
  p.state_head_stride = state.stride(1);
  p.state_dim_stride = heads ? state.stride(2) : 0;
  p.state_state_stride = state.stride(-1);
  p.num_states = state.size(0);
  if (state_batch_indices) {
    p.state_batch_indices = state_batch_indices->data_ptr<int32_t>();
    p.state_batch_indices_stride = state_batch_indices->stride(0);
  }
  const auto set = [](const at::Tensor& t, const void*& ptr, int64_t& bs, int64_t& hs, int64_t& ds) {
    const HeadStrides s = head_strides(t);
    ptr = t.data_ptr(), bs = s.batch, hs = s.head, ds = s.dim;
  };
  set(x, p.x, p.x_batch_stride, p.x_head_stride, p.x_dim_stride);
  set(dt, p.dt, p.dt_batch_stride, p.dt_head_stride, p.dt_dim_stride);
  if (z) set(*z, p.z, p.z_batch_stride, p.z_head_stride, p.z_dim_stride);
  const void* y_ptr = nullptr;
  set(y, y_ptr, p.y_batch_stride, p.y_head_stride, p.y_dim_stride);
  p.y = y.data_ptr();
  p.B = B.data_ptr(), p.B_batch_stride = B.stride(0), p.B_group_stride = B.stride(1), p.B_state_stride = B.stride(2);
  p.C = C.data_ptr(), p.C_batch_stride = C.stride(0), p.C_group_stride = C.stride(1), p.C_state_stride = C.stride(2);
  p.A = A.data_ptr<float>();
  std::tie(p.A_head_stride, p.A_dim_stride) = channel_strides(A, heads);
  p.A_state_stride = A.stride(-1);
  if (D) {
    p.D = D->data_ptr<float>();
    std::tie(p.D_head_stride, p.D_dim_stride) = channel_strides(*D, heads);
  }
  if (dt_bias) {
    p.dt_bias = dt_bias->data_ptr<float>();
    std::tie(p.dt_bias_head_stride, p.dt_bias_dim_stride) = channel_strides(*dt_bias, heads);
  }
  p.batch = x.size(0);
  p.heads = x.size(1);
  p.head_dim = heads ? x.size(2) : 1;
  p.state_size = int(A.size(-1));
  p.groups = int(B.size(1));
  p.softplus = dt_softplus;
  p.flag = state_batch_indices ? device_error_flag(x) : nullptr;
  TORCH_CHECK(p.state_size <= ss::kMaxState, kOp, ": N (A.shape[-1]) must be at most ", ss::kMaxState, " on ",
              backend::kName, ", got N = ", p.state_size);
  if (p.batch == 0) return y;
  const bool bc_float32 = B.scalar_type() == at::kFloat;
  with_kinds(kind, bc_float32, [&](auto a, auto bc) {
    dispatch_scalar(state_kind, [&](auto s) {
      ss::decode_launch<decltype(a)::value, decltype(bc)::value, decltype(s)::value>(p, backend::stream_for(x));
    });
  });
  return y;
}
}  // namespace

TORCH_LIBRARY_IMPL(RDM_LIB, RDM_KERNEL_KEY, m) {
  m.impl("selective_scan", &scan_forward);
  m.impl("selective_scan_backward", &scan_backward);
  m.impl("selective_state_update", &state_update);
}

}  // namespace rdm
