// rdm::_act_accumulate_fwd and rdm::act_accumulate_backward on the kernel backends (CUDA,
// or the SIMT emulation for rdm_simt): validation, layout, params, launch. The kernels are
// in kernels/act/; the public act_accumulate (act_accumulate_check.cpp) calls the forward.
#include <ATen/ATen.h>
#include <torch/library.h>

#include "act_accumulate_check.h"
#include "backend.h"
#include "kernels/act/act_params.h"
#include "kernels/common/dispatch.h"
#include "kernels/reduce/column_sum.h"
#include "strided_rows.h"

namespace rdm {

namespace {
constexpr const char* kOp = "rdm.act_accumulate";

// Whether rows' base and row stride are aligned to a vector of act::kVectorElements of
// their dtype.
bool rows_aligned_to_vectors(const StridedRows& r) {
  const int64_t bytes = act::kVectorElements * int64_t(r.tensor.element_size());
  return reinterpret_cast<uintptr_t>(r.tensor.data_ptr()) % bytes == 0 &&
         r.stride * r.tensor.element_size() % bytes == 0;
}

// Whether rows can move in vectors: D a whole number of vectors, every (rows, D) tensor
// aligned (halt_weight is one contiguous fp32 row).
bool use_vectors(int64_t dim, const at::Tensor& halt_weight, std::initializer_list<const StridedRows*> rows) {
  bool vectorized = dim % act::kVectorElements == 0 && backend::aligned16(halt_weight);
  for (const StridedRows* r : rows) vectorized = vectorized && rows_aligned_to_vectors(*r);
  return vectorized;
}

void check_dim_fits(int64_t dim) {
  TORCH_CHECK(dim <= act::kMaxDim, kOp, ": the ", backend::kName, " kernel supports D up to ", act::kMaxDim,
              " (one row per block, cached in registers), got D = ", dim);
}

// The inputs both directions share, as the kernels read them.
struct Prepared {
  StridedRows h, cum_p;
  at::Tensor halt_weight, halt_bias;  // fp32, contiguous
  ScalarKind kind;
  int64_t rows, dim;
};

Prepared prepare(const at::Tensor& h, const at::Tensor& halt_weight, const at::Tensor& halt_bias,
                 const at::Tensor& cum_p) {
  backend::check_on_backend(h, kOp, "h");
  check_dim_fits(h.size(-1));
  Prepared p;
  p.kind = backend::scalar_kind(h, kOp, "h");
  p.h = as_rows(h);
  p.cum_p = as_positions(cum_p);
  // (D,) and (1,): converting bf16 parameters or gathering a strided weight is negligible.
  p.halt_weight = halt_weight.to(at::kFloat).contiguous();
  p.halt_bias = halt_bias.to(at::kFloat).reshape({1});
  p.dim = h.size(-1);
  p.rows = h.numel() / p.dim;
  return p;
}

template <typename T>
T* data_or_null(const StridedRows& r) {
  return r.tensor.defined() ? r.tensor.data_ptr<T>() : nullptr;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> act_accumulate_fwd(
    const at::Tensor& h, const at::Tensor& halt_weight, const at::Tensor& halt_bias, const at::Tensor& h_acc,
    const at::Tensor& cum_p, double threshold, bool is_last) {
  check_act_accumulate(h, halt_weight, halt_bias, h_acc, cum_p, threshold);
  backend::DeviceGuard guard(h);
  const Prepared in = prepare(h, halt_weight, halt_bias, cum_p);
  const StridedRows acc = as_rows(h_acc);
  at::Tensor h_acc_out = at::empty(h_acc.sizes(), h_acc.options());
  at::Tensor cum_p_out = at::empty(cum_p.sizes(), cum_p.options());
  at::Tensor weight = at::empty(cum_p.sizes(), cum_p.options());
  at::Tensor halt_state = at::empty(cum_p.sizes(), cum_p.options().dtype(at::kByte));
  if (in.rows == 0) return {h_acc_out, cum_p_out, weight, halt_state};

  const StridedRows out{h_acc_out, in.dim};
  act::ForwardParams p{};
  p.h = in.h.tensor.data_ptr();
  p.h_row_stride = in.h.stride;
  p.halt_weight = in.halt_weight.data_ptr<float>();
  p.halt_bias = in.halt_bias.data_ptr<float>();
  p.h_acc = acc.tensor.data_ptr<float>();
  p.h_acc_row_stride = acc.stride;
  p.cum_p = in.cum_p.tensor.data_ptr<float>();
  p.cum_p_stride = in.cum_p.stride;
  p.h_acc_out = h_acc_out.data_ptr<float>();
  p.h_acc_out_row_stride = out.stride;
  p.cum_p_out = cum_p_out.data_ptr<float>();
  p.cum_p_out_stride = 1;
  p.weight = weight.data_ptr<float>();
  p.weight_stride = 1;
  p.halt_state = halt_state.data_ptr<uint8_t>();
  p.halt_state_stride = 1;
  p.rows = in.rows;
  p.dim = int(in.dim);
  p.threshold = float(threshold);
  p.is_last = is_last;
  p.vectorized = use_vectors(in.dim, in.halt_weight, {&in.h, &acc, &out});
  const StreamHandle stream = backend::stream_for(h);
  const backend::KernelBuffers buffers{{"h", in.h.tensor},       {"halt_weight", in.halt_weight},
                                       {"halt_bias", in.halt_bias}, {"h_acc", acc.tensor},
                                       {"cum_p", in.cum_p.tensor},  {"h_acc_out", h_acc_out},
                                       {"cum_p_out", cum_p_out},    {"weight", weight},
                                       {"halt_state", halt_state}};
  dispatch_scalar(in.kind, [&](auto kind) { act::forward_launch<decltype(kind)::value>(p, stream); });
  return {h_acc_out, cum_p_out, weight, halt_state};
}

// An optional per-position gradient as the kernel reads it (fp32, strided), or an empty
// view when no gradient flows into that output.
StridedRows position_grad(const std::optional<at::Tensor>& g) {
  if (!g.has_value() || !g->defined()) return {at::Tensor(), 0};
  return as_positions(g->to(at::kFloat));
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> act_accumulate_backward(
    const at::Tensor& grad_h_acc_out, const std::optional<at::Tensor>& grad_cum_p_out,
    const std::optional<at::Tensor>& grad_weight, const at::Tensor& h, const at::Tensor& halt_weight,
    const at::Tensor& halt_bias, const at::Tensor& cum_p, const at::Tensor& halt_state) {
  check_act_accumulate_backward(grad_h_acc_out, grad_cum_p_out, grad_weight, h, halt_weight, halt_bias, cum_p,
                                halt_state);
  backend::DeviceGuard guard(h);
  const Prepared in = prepare(h, halt_weight, halt_bias, cum_p);
  const StridedRows g = as_rows(grad_h_acc_out);
  const StridedRows state = as_positions(halt_state);
  const StridedRows g_cum = position_grad(grad_cum_p_out);
  const StridedRows g_weight = position_grad(grad_weight);

  at::Tensor grad_h = at::empty(h.sizes(), h.options());
  at::Tensor grad_cum_p = at::empty(cum_p.sizes(), cum_p.options());
  // fp32 (the kernels' precision), converted to the parameters' dtype at the end
  at::Tensor grad_halt_weight = at::empty({in.dim}, in.halt_weight.options());
  at::Tensor grad_halt_bias = at::empty(halt_bias.sizes(), in.halt_weight.options());
  if (in.rows == 0) {
    grad_halt_weight.zero_();
    grad_halt_bias.zero_();
  } else {
    const StridedRows gh{grad_h, in.dim};
    act::BackwardParams p{};
    p.h = in.h.tensor.data_ptr();
    p.h_row_stride = in.h.stride;
    p.halt_weight = in.halt_weight.data_ptr<float>();
    p.halt_bias = in.halt_bias.data_ptr<float>();
    p.cum_p = in.cum_p.tensor.data_ptr<float>();
    p.cum_p_stride = in.cum_p.stride;
    p.halt_state = state.tensor.data_ptr<uint8_t>();
    p.halt_state_stride = state.stride;
    p.grad_h_acc_out = g.tensor.data_ptr<float>();
    p.grad_h_acc_out_row_stride = g.stride;
    p.grad_cum_p_out = data_or_null<float>(g_cum);
    p.grad_cum_p_out_stride = g_cum.stride;
    p.grad_weight = data_or_null<float>(g_weight);
    p.grad_weight_stride = g_weight.stride;
    p.grad_h = grad_h.data_ptr();
    p.grad_h_row_stride = gh.stride;
    p.grad_cum_p = grad_cum_p.data_ptr<float>();
    p.grad_cum_p_stride = 1;
    p.rows = in.rows;
    p.dim = int(in.dim);
    p.vectorized = use_vectors(in.dim, in.halt_weight, {&in.h, &g, &gh});

    const int sms = backend::sm_count(h);
    p.num_blocks = int(act::backward_blocks(act::kTileShapes[act::tile_index(in.dim)], in.rows, sms));
    p.partials_row_stride = act::partials_row_stride(in.dim);
    // (num_blocks, dim + 1) in rows partials_row_stride apart; the padding is never touched.
    const at::Tensor partials =
        at::empty({p.num_blocks, p.partials_row_stride}, in.halt_weight.options()).narrow(1, 0, in.dim + 1);
    p.partials = partials.data_ptr<float>();

    const StreamHandle stream = backend::stream_for(h);
    const backend::KernelBuffers buffers{
        {"h", in.h.tensor},         {"halt_weight", in.halt_weight},   {"halt_bias", in.halt_bias},
        {"cum_p", in.cum_p.tensor}, {"halt_state", state.tensor},      {"grad_h_acc_out", g.tensor},
        {"grad_cum_p_out", g_cum.tensor}, {"grad_weight", g_weight.tensor}, {"grad_h", grad_h},
        {"grad_cum_p", grad_cum_p}, {"partials", partials},            {"grad_halt_weight", grad_halt_weight},
        {"grad_halt_bias", grad_halt_bias}};
    dispatch_scalar(in.kind, [&](auto kind) { act::backward_launch<decltype(kind)::value>(p, stream); });
    // Columns [0, dim) are d halt_weight, column dim is d halt_bias: each to its own output.
    const ColumnSumParams sum{p.partials, p.partials_row_stride, grad_halt_weight.data_ptr<float>(),
                              grad_halt_bias.data_ptr<float>(), in.dim, p.num_blocks, in.dim + 1};
    column_sum_launch(sum, sms, stream);
  }
  // A no-op for fp32 parameters: no copy.
  return {grad_h, grad_halt_weight.to(halt_weight.scalar_type()), grad_halt_bias.to(halt_bias.scalar_type()),
          grad_cum_p};
}
}  // namespace

TORCH_LIBRARY_IMPL(RDM_LIB, RDM_KERNEL_KEY, m) {
  m.impl("_act_accumulate_fwd", &act_accumulate_fwd);
  m.impl("act_accumulate_backward", &act_accumulate_backward);
}

}  // namespace rdm
