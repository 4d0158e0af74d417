// act_accumulate on every backend: input validation (the _check ops) and the public op
// itself, a composite of the companion rdm::_act_accumulate_fwd.
#include "act_accumulate_check.h"

#include <cmath>

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#define RDM_STRINGIFY_(x) #x
#define RDM_STRINGIFY(x) RDM_STRINGIFY_(x)

namespace rdm {

namespace {
constexpr const char* kOp = "rdm.act_accumulate";

bool is_float_type(at::ScalarType t) {
  return t == at::kFloat || t == at::kHalf || t == at::kBFloat16 || t == at::kDouble;
}

// Every tensor check but the threshold's, shared by both directions.
void check_tensors(const at::Tensor& h, const at::Tensor& halt_weight, const at::Tensor& halt_bias,
                   const at::Tensor& h_acc, const at::Tensor& cum_p) {
  TORCH_CHECK(h.dim() >= 1, kOp, ": h must have shape (..., D), got a 0-dimensional tensor");
  TORCH_CHECK(is_float_type(h.scalar_type()), kOp, ": h must be float32, float16 or bfloat16 (float64 on CPU), got ",
              h.scalar_type());
  const int64_t dim = h.size(-1);
  TORCH_CHECK(dim >= 1, kOp, ": h's last dimension D must be at least 1, got shape ", h.sizes());

  // Accumulators are fp32, or fp64 when everything runs in float64 (gradcheck, oracles).
  const auto acc_type = h.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  const char* acc_name = acc_type == at::kDouble ? "float64 (as h is float64)" : "float32";

  TORCH_CHECK(halt_weight.dim() == 1 && halt_weight.size(0) == dim, kOp, ": halt_weight must have shape (D,) = (", dim,
              ",), got ", halt_weight.sizes());
  TORCH_CHECK(halt_weight.scalar_type() == acc_type || halt_weight.scalar_type() == h.scalar_type(), kOp,
              ": halt_weight must be ", acc_name, " or h's dtype ", h.scalar_type(), ", got ", halt_weight.scalar_type());
  TORCH_CHECK(halt_bias.numel() == 1 && halt_bias.dim() <= 1, kOp, ": halt_bias must have shape () or (1,), got ",
              halt_bias.sizes());
  TORCH_CHECK(halt_bias.scalar_type() == halt_weight.scalar_type(), kOp, ": halt_bias must have halt_weight's dtype ",
              halt_weight.scalar_type(), ", got ", halt_bias.scalar_type());

  TORCH_CHECK(h_acc.sizes() == h.sizes(), kOp, ": h_acc must have h's shape ", h.sizes(), ", got ", h_acc.sizes());
  TORCH_CHECK(h_acc.scalar_type() == acc_type, kOp, ": h_acc must be ", acc_name, ", got ", h_acc.scalar_type());
  const auto positions = h.sizes().slice(0, h.dim() - 1);
  TORCH_CHECK(cum_p.sizes() == positions, kOp, ": cum_p must have shape h.shape[:-1] = ", positions, ", got ",
              cum_p.sizes());
  TORCH_CHECK(cum_p.scalar_type() == acc_type, kOp, ": cum_p must be ", acc_name, ", got ", cum_p.scalar_type());

  for (const auto& [t, name] : {std::pair{&halt_weight, "halt_weight"}, std::pair{&halt_bias, "halt_bias"},
                                std::pair{&h_acc, "h_acc"}, std::pair{&cum_p, "cum_p"}}) {
    TORCH_CHECK(t->device() == h.device(), kOp, ": ", name, " must be on h's device ", h.device(), ", got ",
                t->device());
  }
}

// A per-position tensor of the backward: cum_p's shape and device, dtype `type`.
void check_position_tensor(const at::Tensor& t, const at::Tensor& cum_p, at::ScalarType type, const char* name) {
  TORCH_CHECK(t.sizes() == cum_p.sizes(), kOp, " backward: ", name, " must have cum_p's shape ", cum_p.sizes(),
              ", got ", t.sizes());
  TORCH_CHECK(t.scalar_type() == type, kOp, " backward: ", name, " must be ", type, ", got ", t.scalar_type());
  TORCH_CHECK(t.device() == cum_p.device(), kOp, " backward: ", name, " must be on ", cum_p.device(), ", got ",
              t.device());
}

// The public op: the companion _act_accumulate_fwd without the halting decisions it saves
// for the backward. CompositeImplicitAutograd, so that autograd and torch.compile see the
// companion op, whose autograd formula hands the decisions to act_accumulate_backward.
std::tuple<at::Tensor, at::Tensor, at::Tensor> act_accumulate(const at::Tensor& h, const at::Tensor& halt_weight,
                                                              const at::Tensor& halt_bias, const at::Tensor& h_acc,
                                                              const at::Tensor& cum_p, double threshold, bool is_last) {
  static const auto forward =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow(RDM_STRINGIFY(RDM_LIB) "::_act_accumulate_fwd", "")
          .typed<std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor>(
              const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&, double,
              bool)>();
  const auto outputs = forward.call(h, halt_weight, halt_bias, h_acc, cum_p, threshold, is_last);
  return {std::get<0>(outputs), std::get<1>(outputs), std::get<2>(outputs)};
}
}  // namespace

void check_act_accumulate(const at::Tensor& h, const at::Tensor& halt_weight, const at::Tensor& halt_bias,
                          const at::Tensor& h_acc, const at::Tensor& cum_p, double threshold) {
  check_tensors(h, halt_weight, halt_bias, h_acc, cum_p);
  TORCH_CHECK(std::isfinite(threshold) && threshold > 0.0 && threshold <= 1.0, kOp,
              ": threshold must lie in (0, 1], got ", threshold);
}

void check_act_accumulate_backward(const at::Tensor& grad_h_acc_out, const std::optional<at::Tensor>& grad_cum_p_out,
                                   const std::optional<at::Tensor>& grad_weight, const at::Tensor& h,
                                   const at::Tensor& halt_weight, const at::Tensor& halt_bias, const at::Tensor& cum_p,
                                   const at::Tensor& halt_state) {
  check_tensors(h, halt_weight, halt_bias, grad_h_acc_out, cum_p);
  // Gradients may come in any floating dtype (the kernels read them as fp32).
  for (const auto& [g, name] : {std::pair{&grad_cum_p_out, "grad_cum_p_out"}, std::pair{&grad_weight, "grad_weight"}})
    if (g->has_value() && (*g)->defined()) {
      TORCH_CHECK(is_float_type((*g)->scalar_type()), kOp, " backward: ", name, " must be a floating tensor, got ",
                  (*g)->scalar_type());
      check_position_tensor(**g, cum_p, (*g)->scalar_type(), name);
    }
  check_position_tensor(halt_state, cum_p, at::kByte, "halt_state (the forward's decisions)");
}

// CompositeExplicitAutograd: one kernel for every device, the Meta/fake tensors of
// torch.compile included (the checks only read metadata).
TORCH_LIBRARY_IMPL(RDM_LIB, CompositeExplicitAutograd, m) {
  m.impl("_act_accumulate_check", &check_act_accumulate);
  m.impl("_act_accumulate_backward_check", &check_act_accumulate_backward);
}

TORCH_LIBRARY_IMPL(RDM_LIB, CompositeImplicitAutograd, m) { m.impl("act_accumulate", &act_accumulate); }

}  // namespace rdm
