// ACT backward kernels for __nv_bfloat16 inputs.
#include "act_kernel.h"

RDM_ACT_INSTANTIATE_BACKWARD(kBFloat16, __nv_bfloat16)
