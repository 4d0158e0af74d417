// Every op's schema, declared once. Both libraries call define_schemas: `rdm` (whose CPU
// kernels are the Python references and whose CUDA kernels are in csrc/kernels) and
// `rdm_simt` (the same CUDA kernels emulated on the CPU, for tests).
#pragma once
#include <torch/library.h>

namespace rdm {
void define_schemas(torch::Library& m);
}
