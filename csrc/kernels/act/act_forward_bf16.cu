// ACT forward kernels for __nv_bfloat16 inputs.
#include "act_kernel.h"

RDM_ACT_INSTANTIATE_FORWARD(kBFloat16, __nv_bfloat16)
