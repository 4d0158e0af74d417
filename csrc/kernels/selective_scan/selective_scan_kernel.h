// The selective-scan kernel family, as the generated instantiation files include it:
// RDM_SCAN_INSTANTIATE(forward|backward|decode, ScalarKind enumerator, element type) defines
// the launchers of selective_scan_params.h for one activation dtype (B/C in that dtype or
// fp32; for the decode, each of the three state dtypes).
#pragma once
#include "selective_scan_bwd_kernel.h"
#include "selective_scan_decode_kernel.h"
#include "selective_scan_fwd_kernel.h"

#define RDM_SCAN_INSTANTIATE(direction, Kind, T) RDM_SCAN_INSTANTIATE_##direction(Kind, T)

#define RDM_SCAN_INSTANTIATE_forward(Kind, T) \
  RDM_SCAN_FORWARD(Kind, T, false, T)         \
  RDM_SCAN_FORWARD(Kind, T, true, float)
#define RDM_SCAN_FORWARD(Kind, T, kBcFloat32, TBC)                                                        \
  template <>                                                                                           \
  void rdm::selective_scan::forward_launch<rdm::ScalarKind::Kind, kBcFloat32>(                          \
      const rdm::selective_scan::ForwardParams& p, rdm::StreamHandle stream) {                          \
    rdm::selective_scan::launch_forward<T, TBC>(p, stream);                                             \
  }

#define RDM_SCAN_INSTANTIATE_backward(Kind, T) \
  RDM_SCAN_BACKWARD(Kind, T, false, T)         \
  RDM_SCAN_BACKWARD(Kind, T, true, float)
#define RDM_SCAN_BACKWARD(Kind, T, kBcFloat32, TBC)                                                       \
  template <>                                                                                           \
  void rdm::selective_scan::backward_launch<rdm::ScalarKind::Kind, kBcFloat32>(                         \
      const rdm::selective_scan::BackwardParams& p, rdm::StreamHandle stream) {                         \
    rdm::selective_scan::launch_backward<T, TBC>(p, stream);                                            \
  }

#define RDM_SCAN_INSTANTIATE_decode(Kind, T) \
  RDM_SCAN_DECODE_BC(Kind, T, false, T)      \
  RDM_SCAN_DECODE_BC(Kind, T, true, float)
#define RDM_SCAN_DECODE_BC(Kind, T, kBcFloat32, TBC)           \
  RDM_SCAN_DECODE(Kind, T, kBcFloat32, TBC, kFloat32, float)   \
  RDM_SCAN_DECODE(Kind, T, kBcFloat32, TBC, kFloat16, __half)  \
  RDM_SCAN_DECODE(Kind, T, kBcFloat32, TBC, kBFloat16, __nv_bfloat16)
#define RDM_SCAN_DECODE(Kind, T, kBcFloat32, TBC, StateKind, TS)                                          \
  template <>                                                                                           \
  void rdm::selective_scan::decode_launch<rdm::ScalarKind::Kind, kBcFloat32, rdm::ScalarKind::StateKind>( \
      const rdm::selective_scan::DecodeParams& p, rdm::StreamHandle stream) {                           \
    rdm::selective_scan::launch_decode<T, TBC, TS>(p, stream);                                          \
  }
