// rdm::_tensor_core_probe on the kernel backends: lets a GPU run compare the emulated
// cp.async / ldmatrix / mma.sync fragment layouts with the real instructions. And, in
// rdm_simt only, rdm_simt::_global_bounds_probe: a store kernel with a settable shift, so
// that tests can plant an out-of-bounds store and see the emulation's bounds check fail it.
#include <ATen/ATen.h>
#include <torch/library.h>

#include "backend.h"
#include "kernels/probe/tensor_core_probe.h"
#if defined(RDM_SIMT)
#include "kernels/portable.h"
#endif

namespace rdm {

namespace {
constexpr const char* kOp = "rdm._tensor_core_probe";

std::tuple<at::Tensor, at::Tensor> tensor_core_probe(const at::Tensor& a, const at::Tensor& b, bool b_k_major) {
  backend::check_on_backend(a, kOp, "a");
  TORCH_CHECK(b.device() == a.device(), kOp, ": b must be on a's device ", a.device(), ", got ", b.device());
  TORCH_CHECK(a.scalar_type() == at::kHalf || a.scalar_type() == at::kBFloat16, kOp,
              ": a must be float16 or bfloat16, got ", a.scalar_type());
  TORCH_CHECK(b.scalar_type() == a.scalar_type(), kOp, ": b must have a's dtype ", a.scalar_type(), ", got ",
              b.scalar_type());
  const std::vector<int64_t> a_shape{16, 16}, b_shape = b_k_major ? std::vector<int64_t>{16, 8} : std::vector<int64_t>{8, 16};
  TORCH_CHECK(a.sizes() == a_shape, kOp, ": a must have shape (16, 16), got ", a.sizes());
  TORCH_CHECK(b.sizes() == b_shape, kOp, ": b must have shape ", at::IntArrayRef(b_shape), " (b_k_major=", b_k_major, "), got ",
              b.sizes());
  backend::DeviceGuard guard(a);
  // Fresh allocations are contiguous and at least 16-byte aligned, as the probe needs.
  const at::Tensor a_c = a.contiguous().clone(), b_c = b.contiguous().clone();
  at::Tensor out = at::empty({16, 8}, a.options().dtype(at::kFloat));
  at::Tensor tile = at::empty({2, 8, 8}, a.options());
  TensorCoreProbeParams p;
  p.a = a_c.data_ptr();
  p.b = b_c.data_ptr();
  p.out = out.data_ptr<float>();
  p.tile = tile.data_ptr();
  p.dtype = backend::scalar_kind(a, kOp, "a");
  p.b_k_major = b_k_major;
  const backend::KernelBuffers buffers{{"a", a_c}, {"b", b_c}, {"out", out}, {"tile", tile}};
  tensor_core_probe_launch(p, backend::stream_for(a));
  return {out, tile};
}
}  // namespace

TORCH_LIBRARY_IMPL(RDM_LIB, RDM_KERNEL_KEY, m) { m.impl("_tensor_core_probe", &tensor_core_probe); }

#if defined(RDM_SIMT)
namespace {
// Thread t of one warp stores float(t) to out[t + shift].
__global__ void shifted_store_kernel(float* out, int64_t shift) {
  const int t = threadIdx.x;
  store_global(out + t + shift, float(t));
}

// A float32 tensor of `size` elements of which the kernel writes 32 from index `shift`; any
// other size or shift plants an out-of-bounds store.
at::Tensor global_bounds_probe(int64_t size, int64_t shift) {
  TORCH_CHECK(size >= 0, "rdm_simt._global_bounds_probe: size must be >= 0, got ", size);
  at::Tensor out = at::full({size}, -1.f);
  const backend::KernelBuffers buffers{{"out", out}};
  launch_kernel("shifted_store_kernel", shifted_store_kernel, dim3(1), dim3(32), 0, StreamHandle{},
                out.data_ptr<float>(), shift);
  return out;
}
}  // namespace

TORCH_LIBRARY_FRAGMENT(RDM_LIB, m) {
  m.def("_global_bounds_probe(int size, int shift) -> Tensor", &global_bounds_probe);
}
#endif

}  // namespace rdm
