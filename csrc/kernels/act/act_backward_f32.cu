// ACT backward kernels for float inputs.
#include "act_kernel.h"

RDM_ACT_INSTANTIATE_BACKWARD(kFloat32, float)
