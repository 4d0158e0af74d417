// Views of tensors as the kernels index them, without copying when the layout allows:
// (..., D) tensors as rows of D contiguous elements a fixed stride apart, (...) tensors as
// one strided vector. A tensor whose leading dimensions do not collapse into one stride
// (e.g. transposed leading dimensions) or whose innermost dimension is not contiguous is
// copied once: the kernels take one stride per tensor.
#pragma once
#include <ATen/ATen.h>

#include <optional>

namespace rdm {

// The stride of the single dimension that dims [0, end) of t collapse into, if they do.
// Dimensions of size 1 take no part; with no dimension larger than 1, any stride works.
inline std::optional<int64_t> collapsed_stride(const at::Tensor& t, int64_t end) {
  std::optional<int64_t> stride;  // of the innermost dimension > 1 seen so far
  int64_t span = 1;               // elements that dimension and the ones inside it cover
  for (int64_t d = end - 1; d >= 0; --d) {
    if (t.size(d) == 1) continue;
    if (stride && t.stride(d) != *stride * span) return std::nullopt;
    if (!stride) stride = t.stride(d);
    span *= t.size(d);
  }
  return stride.value_or(1);
}

struct StridedRows {
  at::Tensor tensor;  // the input itself, or its contiguous copy
  int64_t stride;     // elements between consecutive rows (or positions)
};

// t (..., D) as rows of D contiguous elements.
inline StridedRows as_rows(const at::Tensor& t) {
  const int64_t dim = t.size(-1);
  if (dim == 1 || t.stride(-1) == 1)
    if (const auto stride = collapsed_stride(t, t.dim() - 1)) return {t, *stride};
  return {t.contiguous(), dim};
}

// t (...) as one vector of positions.
inline StridedRows as_positions(const at::Tensor& t) {
  if (const auto stride = collapsed_stride(t, t.dim())) return {t, *stride};
  return {t.contiguous(), 1};
}

// Whether rows of `elements_per_vector` elements can be moved in 16-byte vectors: the base
// and the row stride are both 16-byte aligned.
inline bool rows_aligned16(const StridedRows& rows) {
  const int64_t bytes = rows.stride * int64_t(rows.tensor.element_size());
  return reinterpret_cast<uintptr_t>(rows.tensor.data_ptr()) % 16 == 0 && bytes % 16 == 0;
}

}  // namespace rdm
