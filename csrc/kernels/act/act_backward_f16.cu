// ACT backward kernels for __half inputs.
#include "act_kernel.h"

RDM_ACT_INSTANTIATE_BACKWARD(kFloat16, __half)
