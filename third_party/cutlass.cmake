# Locate the CUTLASS/CuTe headers shipped by the `nvidia-cutlass` pip package
# (site-packages/cutlass_library/source/include) and expose them as rdm::cutlass.
# No CUTLASS sources are vendored in this repository. Kernels that must run under the
# SIMT emulation may not use CUTLASS (see docs/kernels.md); Hopper-only tiers may.
#
# Sets RDM_CUTLASS_FOUND and, when found, the INTERFACE target rdm::cutlass.
set(RDM_CUTLASS_FOUND OFF)
execute_process(
  COMMAND "${Python_EXECUTABLE}" -c
    "import importlib.util, os; s = importlib.util.find_spec('cutlass_library'); print(os.path.join(os.path.dirname(s.origin), 'source', 'include') if s else '')"
  OUTPUT_VARIABLE RDM_CUTLASS_INCLUDE_DIR
  OUTPUT_STRIP_TRAILING_WHITESPACE
  RESULT_VARIABLE _rdm_cutlass_rc)
if(_rdm_cutlass_rc EQUAL 0 AND RDM_CUTLASS_INCLUDE_DIR AND EXISTS "${RDM_CUTLASS_INCLUDE_DIR}/cutlass/cutlass.h")
  set(RDM_CUTLASS_FOUND ON)
  add_library(rdm_cutlass INTERFACE)
  add_library(rdm::cutlass ALIAS rdm_cutlass)
  target_include_directories(rdm_cutlass SYSTEM INTERFACE "${RDM_CUTLASS_INCLUDE_DIR}")
  message(STATUS "rdm: CUTLASS headers at ${RDM_CUTLASS_INCLUDE_DIR}")
else()
  message(STATUS "rdm: CUTLASS headers not found (pip install --no-deps nvidia-cutlass); no kernel needs them yet")
endif()
