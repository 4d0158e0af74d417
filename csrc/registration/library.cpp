// Creates the op library this shared object serves: RDM_LIB is `rdm` for _C and
// `rdm_simt` for _simt (set by CMake).
#include "schemas.h"

TORCH_LIBRARY(RDM_LIB, m) { rdm::define_schemas(m); }
