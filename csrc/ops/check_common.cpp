#include "check_common.h"

#include <cmath>

namespace rdm::check {

std::string dtype_name(at::ScalarType t) { return std::string(c10::getDtypeNames(t).first); }

std::string dtype_of(const char* name, const at::Tensor& t) {
  return std::string(name) + "'s dtype " + dtype_name(t.scalar_type());
}

bool is_activation_type(at::ScalarType t) {
  return t == at::kFloat || t == at::kHalf || t == at::kBFloat16 || t == at::kDouble;
}

at::ScalarType param_type(at::ScalarType activation) {
  return activation == at::kDouble ? at::kDouble : at::kFloat;
}

std::string param_type_name(at::ScalarType activation, const char* activation_name) {
  return activation == at::kDouble ? std::string("float64 (as ") + activation_name + " is float64)" : "float32";
}

std::string or_param_type(const std::string& activation_requirement, at::ScalarType activation,
                          const char* activation_name) {
  if (activation == param_type(activation)) return activation_requirement;
  return activation_requirement + " or " + param_type_name(activation, activation_name);
}

void activation(const char* op, const at::Tensor& t, const char* name) {
  TORCH_CHECK(is_activation_type(t.scalar_type()), op, ": ", name,
              " must be float32, float16 or bfloat16 (or float64), got ", dtype_name(t.scalar_type()));
}

void dtype_in(const char* op, const at::Tensor& t, const char* name, std::initializer_list<at::ScalarType> allowed,
              const std::string& requirement) {
  bool ok = false;
  for (auto type : allowed) ok = ok || t.scalar_type() == type;
  TORCH_CHECK(ok, op, ": ", name, " must be ", requirement, ", got ", dtype_name(t.scalar_type()));
}

void shape(const char* op, const at::Tensor& t, const char* name, at::IntArrayRef expected, const char* layout) {
  TORCH_CHECK(t.sizes() == expected, op, ": ", name, " must have shape ", layout, " = ", expected, ", got ",
              t.sizes());
}

void same_device(const char* op, const at::Tensor& reference, const char* reference_name,
                 std::initializer_list<Named> tensors) {
  for (const auto& [t, name] : tensors) {
    if (t == nullptr) continue;
    TORCH_CHECK(t->device() == reference.device(), op, ": ", name, " must be on ", reference_name, "'s device ",
                reference.device(), ", got ", t->device());
  }
}

std::optional<at::Tensor> cpu_values([[maybe_unused]] const at::Tensor& t) {
#if defined(RDM_SIMT)
  return std::nullopt;
#else
  if (!t.device().is_cpu()) return std::nullopt;
  return t.to(at::kLong).contiguous();
#endif
}

int64_t cu_seqlens(const char* op, const at::Tensor& cu_seqlens, int64_t length, const at::Tensor& batch_tensor,
                   const char* batch_name) {
  dtype_in(op, cu_seqlens, "cu_seqlens", {at::kInt}, "int32");
  TORCH_CHECK(cu_seqlens.dim() == 1 && cu_seqlens.size(0) >= 2, op,
              ": cu_seqlens must have shape (S + 1,) with S >= 1 sequences, got ", cu_seqlens.sizes());
  TORCH_CHECK(batch_tensor.size(0) == 1, op, ": cu_seqlens packs the sequences into one batch row, so ", batch_name,
              " must have batch size 1, got shape ", batch_tensor.sizes());
  if (const auto values = cpu_values(cu_seqlens)) {
    const auto cu = values->accessor<int64_t, 1>();
    const int64_t sequences = cu.size(0) - 1;
    TORCH_CHECK(cu[0] == 0, op, ": cu_seqlens must start at 0, got cu_seqlens[0] = ", cu[0]);
    for (int64_t s = 1; s <= sequences; ++s) {
      TORCH_CHECK(cu[s] >= cu[s - 1], op, ": cu_seqlens must be non-decreasing (equal neighbours: an empty "
                  "sequence), got cu_seqlens[", s, "] = ", cu[s], " after ", cu[s - 1]);
    }
    TORCH_CHECK(cu[sequences] == length, op, ": cu_seqlens must end at the number of tokens ", length,
                ", got cu_seqlens[", sequences, "] = ", cu[sequences]);
  }
  return cu_seqlens.size(0) - 1;
}

void scale(const char* op, const std::optional<double>& scale) {
  TORCH_CHECK(!scale || std::isfinite(*scale), op, ": scale must be finite, got ", *scale);
}

}  // namespace rdm::check
