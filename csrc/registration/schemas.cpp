#include "schemas.h"

#include <string>

namespace rdm {

void define_schemas(torch::Library& m) {
  const std::vector<at::Tag> traceable{at::Tag::pt2_compliant_tag};

  // Fused ACT halting-accumulate (docs: rdm.ops.act_accumulate). The public op is a
  // composite of the internal companion _act_accumulate_fwd, which also returns each
  // position's halting decision (halt_state, uint8: 0 halted before this step, 1 running
  // on, 2 halts now) for the backward, so that it never recomputes a decision.
  m.def("act_accumulate(Tensor h, Tensor halt_weight, Tensor halt_bias, Tensor h_acc, Tensor cum_p, "
        "float threshold, bool is_last) -> (Tensor h_acc_out, Tensor cum_p_out, Tensor weight)",
        traceable);
  m.def("_act_accumulate_fwd(Tensor h, Tensor halt_weight, Tensor halt_bias, Tensor h_acc, Tensor cum_p, "
        "float threshold, bool is_last) -> (Tensor h_acc_out, Tensor cum_p_out, Tensor weight, Tensor halt_state)",
        traceable);
  m.def("act_accumulate_backward(Tensor grad_h_acc_out, Tensor? grad_cum_p_out, Tensor? grad_weight, Tensor h, "
        "Tensor halt_weight, Tensor halt_bias, Tensor cum_p, Tensor halt_state) "
        "-> (Tensor grad_h, Tensor grad_halt_weight, Tensor grad_halt_bias, Tensor grad_cum_p)",
        traceable);
  // Input validation shared by every backend and by the fake kernels (raise, return nothing).
  m.def("_act_accumulate_check(Tensor h, Tensor halt_weight, Tensor halt_bias, Tensor h_acc, Tensor cum_p, "
        "float threshold) -> ()",
        traceable);
  m.def("_act_accumulate_backward_check(Tensor grad_h_acc_out, Tensor? grad_cum_p_out, Tensor? grad_weight, "
        "Tensor h, Tensor halt_weight, Tensor halt_bias, Tensor cum_p, Tensor halt_state) -> ()",
        traceable);

  // The ops below follow one pattern: <op>_backward takes the gradients of <op>'s outputs
  // (optional where an output's gradient may be absent), then <op>'s inputs (then outputs,
  // where its kernel needs them), and returns the gradients of <op>'s differentiable inputs.

  // Selective scan (Mamba S6) and its decode step (docs: rdm.ops.selective_scan,
  // rdm.ops.selective_state_update). The decode step updates `state` in place and is not
  // differentiable.
  m.def("selective_scan(Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D=None, Tensor? z=None, "
        "Tensor? delta_bias=None, bool delta_softplus=False, Tensor? initial_state=None, Tensor? cu_seqlens=None) "
        "-> (Tensor out, Tensor last_state)",
        traceable);
  // Gradients of absent optional inputs (D, z, delta_bias, initial_state) are empty tensors.
  m.def("selective_scan_backward(Tensor? grad_out, Tensor? grad_last_state, Tensor u, Tensor delta, Tensor A, "
        "Tensor B, Tensor C, Tensor? D, Tensor? z, Tensor? delta_bias, bool delta_softplus, Tensor? initial_state, "
        "Tensor? cu_seqlens) -> (Tensor grad_u, Tensor grad_delta, Tensor grad_A, Tensor grad_B, Tensor grad_C, "
        "Tensor grad_D, Tensor grad_z, Tensor grad_delta_bias, Tensor grad_initial_state)",
        traceable);
  m.def("_selective_scan_check(Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? z, "
        "Tensor? delta_bias, Tensor? initial_state, Tensor? cu_seqlens) -> ()",
        traceable);
  m.def("selective_state_update(Tensor(a!) state, Tensor x, Tensor dt, Tensor A, Tensor B, Tensor C, "
        "Tensor? D=None, Tensor? z=None, Tensor? dt_bias=None, bool dt_softplus=False, "
        "Tensor? state_batch_indices=None) -> Tensor",
        traceable);
  m.def("_selective_state_update_check(Tensor state, Tensor x, Tensor dt, Tensor A, Tensor B, Tensor C, "
        "Tensor? D, Tensor? z, Tensor? dt_bias, Tensor? state_batch_indices) -> ()",
        traceable);

  // Gated linear attention, chunked and token-by-token kernels of one function (docs:
  // rdm.ops.chunk_gla). The gradient of an absent initial_state is an empty tensor.
  for (const char* name : {"chunk_gla", "fused_recurrent_gla"}) {
    const std::string op(name);
    m.def((op + "(Tensor q, Tensor k, Tensor v, Tensor g, float? scale=None, Tensor? initial_state=None, "
                "Tensor? cu_seqlens=None) -> (Tensor o, Tensor final_state)")
              .c_str(),
          traceable);
    m.def((op + "_backward(Tensor? grad_o, Tensor? grad_final_state, Tensor q, Tensor k, Tensor v, Tensor g, "
                "float? scale, Tensor? initial_state, Tensor? cu_seqlens) "
                "-> (Tensor grad_q, Tensor grad_k, Tensor grad_v, Tensor grad_g, Tensor grad_initial_state)")
              .c_str(),
          traceable);
    m.def(("_" + op + "_check(Tensor q, Tensor k, Tensor v, Tensor g, float? scale, Tensor? initial_state, "
                      "Tensor? cu_seqlens) -> ()")
              .c_str(),
          traceable);
  }

  // Causal sliding-window attention with global tokens (docs: rdm.ops.sliding_window_attention).
  // The backward also takes the forward's out and lse, as a flash-attention backward kernel needs.
  m.def("sliding_window_attention(Tensor q, Tensor k, Tensor v, int window, int num_global=0, float? scale=None, "
        "Tensor? cu_seqlens=None) -> (Tensor out, Tensor lse)",
        traceable);
  m.def("sliding_window_attention_backward(Tensor? grad_out, Tensor? grad_lse, Tensor q, Tensor k, Tensor v, "
        "int window, int num_global, float? scale, Tensor? cu_seqlens, Tensor out, Tensor lse) "
        "-> (Tensor grad_q, Tensor grad_k, Tensor grad_v)",
        traceable);
  m.def("_sliding_window_attention_check(Tensor q, Tensor k, Tensor v, int window, int num_global, float? scale, "
        "Tensor? cu_seqlens) -> ()",
        traceable);

  // Mixture of experts: grouped GEMM over expert row groups, routing permutation and its
  // weighted inverse (docs: rdm.ops.grouped_gemm, rdm.ops.moe_permute, rdm.ops.moe_unpermute).
  // moe_permute's gradient is moe_unpermute with unit weights.
  m.def("grouped_gemm(Tensor x, Tensor w, Tensor offsets) -> Tensor", traceable);
  m.def("grouped_gemm_backward(Tensor grad_out, Tensor x, Tensor w, Tensor offsets) -> (Tensor grad_x, Tensor grad_w)",
        traceable);
  m.def("_grouped_gemm_check(Tensor x, Tensor w, Tensor offsets) -> ()", traceable);
  m.def("moe_permute(Tensor x, Tensor topk_ids, int num_experts) -> (Tensor x_sorted, Tensor row_id, Tensor offsets)",
        traceable);
  m.def("_moe_permute_check(Tensor x, Tensor topk_ids, int num_experts) -> ()", traceable);
  m.def("moe_unpermute(Tensor y_sorted, Tensor row_id, Tensor topk_weights) -> Tensor", traceable);
  m.def("moe_unpermute_backward(Tensor grad_y, Tensor y_sorted, Tensor row_id, Tensor topk_weights) "
        "-> (Tensor grad_y_sorted, Tensor grad_topk_weights)",
        traceable);
  m.def("_moe_unpermute_check(Tensor y_sorted, Tensor row_id, Tensor topk_weights) -> ()", traceable);

  // Tensor-core probe: one warp computes A @ B with cp.async, ldmatrix and mma.sync, so a
  // GPU run can compare the emulated fragment layouts with the real instructions.
  m.def("_tensor_core_probe(Tensor a, Tensor b, bool b_k_major) -> (Tensor out, Tensor tile_copy)", traceable);
}

}  // namespace rdm
