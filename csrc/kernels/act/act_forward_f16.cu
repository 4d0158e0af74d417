// ACT forward kernels for __half inputs.
#include "act_kernel.h"

RDM_ACT_INSTANTIATE_FORWARD(kFloat16, __half)
