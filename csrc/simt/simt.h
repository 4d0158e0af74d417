// The SIMT emulation shim: CUDA device-code semantics for a host C++ compiler. Included
// by csrc/kernels/portable.h when RDM_SIMT is defined; kernels never include it directly.
// Needs no CUDA toolkit. The runtime lives in the .cpp files of this directory, which must
// be linked into the same module as the kernels (see docs/kernels.md).
#pragma once

#include "qualifiers.h"
#include "vector_types.h"
#include "builtins.h"
#include "call_site.h"
#include "fp16.h"
#include "math_intrinsics.h"
#include "atomics.h"
#include "barriers.h"
#include "warp.h"
#include "shared_memory.h"
#include "cp_async.h"
#include "instrument.h"
#include "tensor_core.h"
#include "launch.h"
