// act_accumulate on the kernel backends (CUDA, or the SIMT emulation for rdm_simt):
// validation, layout, params, launch. The kernels are in kernels/act/.
#include <ATen/ATen.h>
#include <torch/library.h>

#include "act_accumulate_check.h"
#include "backend.h"
#include "kernels/act/act_params.h"
#include "kernels/reduce/column_sum.h"

namespace rdm {

namespace {
constexpr const char* kOp = "rdm.act_accumulate";

template <class Params>
void launch_for_kind(ScalarKind kind, void (*f32)(const Params&, StreamHandle), void (*f16)(const Params&, StreamHandle),
                     void (*bf16)(const Params&, StreamHandle), const Params& p, StreamHandle stream) {
  (kind == ScalarKind::kFloat32 ? f32 : kind == ScalarKind::kFloat16 ? f16 : bf16)(p, stream);
}

// Whether rows can move in 16-byte vectors: D a whole number of vectors, pointers aligned.
bool use_vectors(ScalarKind kind, int64_t dim, std::initializer_list<const at::Tensor*> vector_tensors) {
  bool vectorized = dim % act::elements_per_vector(kind, true) == 0;
  for (const at::Tensor* t : vector_tensors) vectorized = vectorized && backend::aligned16(*t);
  return vectorized;
}

void check_dim_fits(int64_t dim) {
  TORCH_CHECK(dim <= act::kMaxDim, kOp, ": the ", backend::kName, " kernel supports D up to ", act::kMaxDim,
              " (one row per block, cached in registers), got D = ", dim);
}

struct Prepared {
  at::Tensor h, halt_weight, halt_bias, cum_p;
  ScalarKind kind;
  int64_t rows, dim;
};

Prepared prepare(const at::Tensor& h, const at::Tensor& halt_weight, const at::Tensor& halt_bias,
                 const at::Tensor& cum_p) {
  backend::check_on_backend(h, kOp, "h");
  check_dim_fits(h.size(-1));
  Prepared p;
  p.kind = backend::scalar_kind(h, kOp, "h");
  p.h = h.contiguous();
  p.halt_weight = halt_weight.to(at::kFloat).contiguous();
  p.halt_bias = halt_bias.to(at::kFloat).reshape({1});
  p.cum_p = cum_p.contiguous();
  p.dim = h.size(-1);
  p.rows = h.numel() / p.dim;
  return p;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> act_accumulate(const at::Tensor& h, const at::Tensor& halt_weight,
                                                              const at::Tensor& halt_bias, const at::Tensor& h_acc,
                                                              const at::Tensor& cum_p, double threshold, bool is_last) {
  check_act_accumulate(h, halt_weight, halt_bias, h_acc, cum_p, threshold);
  backend::DeviceGuard guard(h);
  Prepared in = prepare(h, halt_weight, halt_bias, cum_p);
  const at::Tensor acc = h_acc.contiguous();
  at::Tensor h_acc_out = at::empty_like(acc);
  at::Tensor cum_p_out = at::empty_like(in.cum_p);
  at::Tensor weight = at::empty_like(in.cum_p);
  if (in.rows == 0) return {h_acc_out, cum_p_out, weight};

  act::ForwardParams p{};
  p.h = in.h.data_ptr();
  p.halt_weight = in.halt_weight.data_ptr<float>();
  p.halt_bias = in.halt_bias.data_ptr<float>();
  p.h_acc = acc.data_ptr<float>();
  p.cum_p = in.cum_p.data_ptr<float>();
  p.h_acc_out = h_acc_out.data_ptr<float>();
  p.cum_p_out = cum_p_out.data_ptr<float>();
  p.weight = weight.data_ptr<float>();
  p.rows = in.rows;
  p.dim = int(in.dim);
  p.threshold = float(threshold);
  p.is_last = is_last;
  p.vectorized = use_vectors(in.kind, in.dim, {&in.h, &in.halt_weight, &acc, &h_acc_out});
  launch_for_kind(in.kind, &act::forward_launch<ScalarKind::kFloat32>, &act::forward_launch<ScalarKind::kFloat16>,
                  &act::forward_launch<ScalarKind::kBFloat16>, p, backend::stream_for(h));
  return {h_acc_out, cum_p_out, weight};
}

// An optional per-position gradient as a contiguous fp32 tensor of cum_p's shape, or an
// undefined tensor when no gradient flows into that output.
at::Tensor position_grad(const std::optional<at::Tensor>& g, const at::Tensor& cum_p, const char* name) {
  if (!g.has_value() || !g->defined()) return {};
  TORCH_CHECK(g->sizes() == cum_p.sizes(), kOp, " backward: ", name, " must have cum_p's shape ", cum_p.sizes(),
              ", got ", g->sizes());
  TORCH_CHECK(g->device() == cum_p.device(), kOp, " backward: ", name, " must be on ", cum_p.device(), ", got ",
              g->device());
  return g->to(at::kFloat).contiguous();
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> act_accumulate_backward(
    const at::Tensor& grad_h_acc_out, const std::optional<at::Tensor>& grad_cum_p_out,
    const std::optional<at::Tensor>& grad_weight, const at::Tensor& h, const at::Tensor& halt_weight,
    const at::Tensor& halt_bias, const at::Tensor& cum_p, double threshold, bool is_last) {
  // The forward's checks cover every input but the gradients; grad_h_acc_out has h_acc's role.
  check_act_accumulate(h, halt_weight, halt_bias, grad_h_acc_out, cum_p, threshold);
  backend::DeviceGuard guard(h);
  Prepared in = prepare(h, halt_weight, halt_bias, cum_p);
  const at::Tensor g = grad_h_acc_out.contiguous();
  const at::Tensor g_cum = position_grad(grad_cum_p_out, cum_p, "grad_cum_p_out");
  const at::Tensor g_weight = position_grad(grad_weight, cum_p, "grad_weight");

  at::Tensor grad_h = at::empty_like(in.h);
  at::Tensor grad_cum_p = at::empty_like(in.cum_p);
  at::Tensor grad_params = at::zeros({in.dim + 1}, in.halt_weight.options());  // [d halt_weight, d halt_bias]
  if (in.rows > 0) {
    act::BackwardParams p{};
    p.h = in.h.data_ptr();
    p.halt_weight = in.halt_weight.data_ptr<float>();
    p.halt_bias = in.halt_bias.data_ptr<float>();
    p.cum_p = in.cum_p.data_ptr<float>();
    p.grad_h_acc_out = g.data_ptr<float>();
    p.grad_cum_p_out = g_cum.defined() ? g_cum.data_ptr<float>() : nullptr;
    p.grad_weight = g_weight.defined() ? g_weight.data_ptr<float>() : nullptr;
    p.grad_h = grad_h.data_ptr();
    p.grad_cum_p = grad_cum_p.data_ptr<float>();
    p.rows = in.rows;
    p.dim = int(in.dim);
    p.threshold = float(threshold);
    p.is_last = is_last;
    p.vectorized = use_vectors(in.kind, in.dim, {&in.h, &in.halt_weight, &g, &grad_h});

    const int tile = act::tile_index(in.dim);
    const int64_t row_blocks = (in.rows + act::rows_per_block(act::kTileShapes[tile]) - 1) /
                               act::rows_per_block(act::kTileShapes[tile]);
    p.num_blocks = int(std::min<int64_t>(row_blocks, backend::reduction_blocks(h)));
    at::Tensor partials = at::empty({p.num_blocks, in.dim + 1}, in.halt_weight.options());
    p.partials = partials.data_ptr<float>();

    const StreamHandle stream = backend::stream_for(h);
    launch_for_kind(in.kind, &act::backward_launch<ScalarKind::kFloat32>, &act::backward_launch<ScalarKind::kFloat16>,
                    &act::backward_launch<ScalarKind::kBFloat16>, p, stream);
    column_sum_launch(ColumnSumParams{partials.data_ptr<float>(), grad_params.data_ptr<float>(), p.num_blocks,
                                      in.dim + 1},
                      stream);
  }
  // Copies, so that no two outputs share storage.
  at::Tensor grad_halt_weight = grad_params.slice(0, 0, in.dim).to(halt_weight.scalar_type(), false, true);
  at::Tensor grad_halt_bias =
      grad_params.slice(0, in.dim).reshape(halt_bias.sizes()).to(halt_bias.scalar_type(), false, true);
  return {grad_h, grad_halt_weight, grad_halt_bias, grad_cum_p};
}
}  // namespace

TORCH_LIBRARY_IMPL(RDM_LIB, RDM_KERNEL_KEY, m) {
  m.impl("act_accumulate", &act_accumulate);
  m.impl("act_accumulate_backward", &act_accumulate_backward);
}

}  // namespace rdm
