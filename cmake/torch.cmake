# Find the torch of the target interpreter and decide whether CUDA kernels are built.
# Sets RDM_WITH_CUDA and, for CUDA builds, RDM_NVIDIA_WHEEL_INCLUDES.
if(NOT Python_EXECUTABLE)
  find_package(Python 3.10 REQUIRED COMPONENTS Interpreter)
endif()
execute_process(
  COMMAND "${Python_EXECUTABLE}" "${CMAKE_CURRENT_LIST_DIR}/torch_info.py"
  OUTPUT_VARIABLE _torch_info
  OUTPUT_STRIP_TRAILING_WHITESPACE
  COMMAND_ERROR_IS_FATAL ANY)
string(REPLACE "\n" ";" _torch_info "${_torch_info}")
list(GET _torch_info 0 RDM_TORCH_CMAKE_PREFIX)
list(GET _torch_info 1 RDM_TORCH_CUDA_VERSION)
list(GET _torch_info 2 RDM_TORCH_VERSION)
list(GET _torch_info 3 RDM_NVIDIA_WHEEL_INCLUDES)
string(REPLACE "," ";" RDM_NVIDIA_WHEEL_INCLUDES "${RDM_NVIDIA_WHEEL_INCLUDES}")
message(STATUS "rdm: torch ${RDM_TORCH_VERSION} (cuda '${RDM_TORCH_CUDA_VERSION}') at ${RDM_TORCH_CMAKE_PREFIX}")
# Pin the config files to the torch the interpreter imports; CMAKE_PREFIX_PATH order
# could otherwise mix the TorchConfig of one environment with the Caffe2Config of another.
set(Torch_DIR "${RDM_TORCH_CMAKE_PREFIX}/Torch" CACHE PATH "TorchConfig.cmake dir" FORCE)
set(Caffe2_DIR "${RDM_TORCH_CMAKE_PREFIX}/Caffe2" CACHE PATH "Caffe2Config.cmake dir" FORCE)

# CUDA must be decided before find_package(Torch): a CUDA torch's config needs the toolkit.
set(RDM_WITH_CUDA OFF)
if(RDM_ENABLE_CUDA AND RDM_TORCH_CUDA_VERSION)
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(RDM_WITH_CUDA ON)
  endif()
endif()
if(RDM_REQUIRE_CUDA AND NOT RDM_WITH_CUDA)
  message(FATAL_ERROR "rdm: RDM_REQUIRE_CUDA=ON but no CUDA build is possible "
    "(RDM_ENABLE_CUDA=${RDM_ENABLE_CUDA}, torch.version.cuda='${RDM_TORCH_CUDA_VERSION}', "
    "nvcc='${CMAKE_CUDA_COMPILER}'). Install a CUDA torch and the CUDA toolkit, or drop RDM_REQUIRE_CUDA.")
endif()
if(RDM_ENABLE_CUDA AND RDM_TORCH_CUDA_VERSION AND NOT RDM_WITH_CUDA)
  message(WARNING "rdm: torch has CUDA ${RDM_TORCH_CUDA_VERSION} but nvcc was not found: building without CUDA kernels")
endif()

if(RDM_WITH_CUDA)
  # torch derives -gencode flags from TORCH_CUDA_ARCH_LIST and would otherwise try to
  # detect a GPU; give it our list so the two agree. CUDA_ARCHITECTURES on the target wins.
  if(NOT DEFINED TORCH_CUDA_ARCH_LIST AND NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
    set(TORCH_CUDA_ARCH_LIST "")
    foreach(_arch IN LISTS RDM_CUDA_ARCHS)
      string(REGEX REPLACE "^([0-9]+)([0-9])([a-z]?)$" "\\1.\\2\\3" _torch_arch "${_arch}")
      list(APPEND TORCH_CUDA_ARCH_LIST "${_torch_arch}")
    endforeach()
  endif()
  set(CMAKE_CUDA_ARCHITECTURES ${RDM_CUDA_ARCHS})
  set(CMAKE_CUDA_STANDARD 20)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)
  enable_language(CUDA)
  find_package(CUDAToolkit REQUIRED)
  # torch's legacy FindCUDA derives the root from the first nvcc on PATH, which may be a
  # wrapper script; point it at the toolkit CMake already identified.
  if(NOT CUDA_TOOLKIT_ROOT_DIR)
    set(CUDA_TOOLKIT_ROOT_DIR "${CMAKE_CUDA_COMPILER_TOOLKIT_ROOT}" CACHE PATH "CUDA toolkit root for torch")
  endif()
  message(STATUS "rdm: CUDA ${CMAKE_CUDA_COMPILER_VERSION} at ${CMAKE_CUDA_COMPILER}, architectures ${RDM_CUDA_ARCHS}")
endif()

find_package(Torch REQUIRED CONFIG)

if(RDM_WITH_CUDA)
  # Drop torch's -gencode flags: architectures come from CUDA_ARCHITECTURES.
  string(REGEX REPLACE "-gencode;?[ ]*arch=compute_[0-9a-z]+,code=[^ ]+" "" CMAKE_CUDA_FLAGS "${CMAKE_CUDA_FLAGS}")
  string(REGEX REPLACE "-gencode[ ]+arch=compute_[0-9a-z]+,code=[^ ]+" "" CMAKE_CUDA_FLAGS "${CMAKE_CUDA_FLAGS}")
endif()
