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
  csrc/ops/device_errors.cpp
)

# Kernel implementations (TORCH_LIBRARY_IMPL for the CUDA key, or for the CPU key of
# rdm_simt): tensor checks, params, stream, launch. No kernel code.
set(RDM_KERNEL_OP_SOURCES
  csrc/ops/act_accumulate_kernel.cpp
  csrc/ops/selective_scan_kernel.cpp
  csrc/ops/probe_ops.cpp
  csrc/ops/device_error_probe_ops.cpp
)

# Kernels and their launchers: plain params structs and raw pointers, no torch headers.
# Compiled by nvcc for the CUDA library and as host C++ for the SIMT emulation.
# The instantiation files of the kernel families come from csrc/kernels/instantiations.json
# (one line there adds a dtype or a head dim); the generator lists them, and fails the
# configure step if the committed files no longer match the list.
execute_process(
  COMMAND "${Python_EXECUTABLE}" "${CMAKE_CURRENT_SOURCE_DIR}/scripts/generate_instantiations.py" --check --list
  WORKING_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}"
  OUTPUT_VARIABLE RDM_GENERATED_KERNEL_SOURCES OUTPUT_STRIP_TRAILING_WHITESPACE
  RESULT_VARIABLE _rdm_generate_rc)
if(NOT _rdm_generate_rc EQUAL 0)
  message(FATAL_ERROR "rdm: generated kernel instantiations are stale (see above): "
    "run `python scripts/generate_instantiations.py` in ${CMAKE_CURRENT_SOURCE_DIR}")
endif()
string(REPLACE "\n" ";" RDM_GENERATED_KERNEL_SOURCES "${RDM_GENERATED_KERNEL_SOURCES}")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
  "${CMAKE_CURRENT_SOURCE_DIR}/csrc/kernels/instantiations.json"
  "${CMAKE_CURRENT_SOURCE_DIR}/scripts/generate_instantiations.py")

set(RDM_KERNEL_SOURCES
  ${RDM_GENERATED_KERNEL_SOURCES}
  csrc/kernels/reduce/column_sum.cu
  csrc/kernels/probe/tensor_core_probe.cu
  csrc/kernels/probe/device_error_probe.cu
)

# Compiled into _simt only: ops that read the emulation's counters and set its checks.
set(RDM_SIMT_OP_SOURCES
  csrc/ops/simt_instrument_ops.cpp
)
