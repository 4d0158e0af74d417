# Source lists. A new op adds its registration .cpp files and its kernel .cu files here.

# Schemas (TORCH_LIBRARY) and input validation: compiled into both libraries.
set(RDM_COMMON_SOURCES
  csrc/registration/schemas.cpp
  csrc/registration/library.cpp
  csrc/ops/act_accumulate_check.cpp
  csrc/ops/check_common.cpp
  csrc/ops/selective_scan_check.cpp
  csrc/ops/gla_check.cpp
  csrc/ops/attention_check.cpp
  csrc/ops/moe_check.cpp
)

# Kernel implementations (TORCH_LIBRARY_IMPL for the CUDA key, or for the CPU key of
# rdm_simt): tensor checks, params, stream, launch. No kernel code.
set(RDM_KERNEL_OP_SOURCES
  csrc/ops/act_accumulate_kernel.cpp
  csrc/ops/probe_ops.cpp
)

# Kernels and their launchers: plain params structs and raw pointers, no torch headers.
# Compiled by nvcc for the CUDA library and as host C++ for the SIMT emulation.
set(RDM_KERNEL_SOURCES
  csrc/kernels/act/act_forward_f32.cu
  csrc/kernels/act/act_forward_f16.cu
  csrc/kernels/act/act_forward_bf16.cu
  csrc/kernels/act/act_backward_f32.cu
  csrc/kernels/act/act_backward_f16.cu
  csrc/kernels/act/act_backward_bf16.cu
  csrc/kernels/reduce/column_sum.cu
  csrc/kernels/probe/tensor_core_probe.cu
)

# Compiled into _simt only: ops that read the emulation's counters and set its checks.
set(RDM_SIMT_OP_SOURCES
  csrc/ops/simt_instrument_ops.cpp
)
