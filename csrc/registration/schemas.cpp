#include "schemas.h"

namespace rdm {

void define_schemas(torch::Library& m) {
  const std::vector<at::Tag> traceable{at::Tag::pt2_compliant_tag};

  // Fused ACT halting-accumulate (docs: rdm.ops.act_accumulate).
  m.def("act_accumulate(Tensor h, Tensor halt_weight, Tensor halt_bias, Tensor h_acc, Tensor cum_p, "
        "float threshold, bool is_last) -> (Tensor h_acc_out, Tensor cum_p_out, Tensor weight)",
        traceable);
  m.def("act_accumulate_backward(Tensor grad_h_acc_out, Tensor? grad_cum_p_out, Tensor? grad_weight, Tensor h, "
        "Tensor halt_weight, Tensor halt_bias, Tensor cum_p, float threshold, bool is_last) "
        "-> (Tensor grad_h, Tensor grad_halt_weight, Tensor grad_halt_bias, Tensor grad_cum_p)",
        traceable);
  // Input validation shared by every backend and by the fake kernel (raises, returns nothing).
  m.def("_act_accumulate_check(Tensor h, Tensor halt_weight, Tensor halt_bias, Tensor h_acc, Tensor cum_p, "
        "float threshold) -> ()",
        traceable);

  // Tensor-core probe: one warp computes A @ B with cp.async, ldmatrix and mma.sync, so a
  // GPU run can compare the emulated fragment layouts with the real instructions.
  m.def("_tensor_core_probe(Tensor a, Tensor b, bool b_k_major) -> (Tensor out, Tensor tile_copy)", traceable);
}

}  // namespace rdm
