// ACT forward kernels for float inputs.
#include "act_kernel.h"

RDM_ACT_INSTANTIATE_FORWARD(kFloat32, float)
