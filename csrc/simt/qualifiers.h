// CUDA declaration qualifiers for host compilation (RDM_SIMT).
#pragma once

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
// Empty rather than __attribute__((noinline)): libstdc++ itself writes
// __attribute__((__noinline__)), which must stay valid (it becomes an empty attribute list).
#define __noinline__
#define __launch_bounds__(...)
#define __restrict__ __restrict
#define __align__(n) __attribute__((aligned(n)))

// Blocks run one after another and one launch runs at a time, so a single static copy of
// each __shared__ variable serves every block. The variables must be re-poisoned before
// each block, which needs their addresses: g++ 12 silently ignores `section(...)` on static
// locals of templates (and kernels are templates), but honours `noinit`, which places each
// variable in its own `.noinit*` ELF section. The runtime finds those sections in the
// loaded modules (shared_memory.cpp) and poisons them. g++ emits these template sections
// as PROGBITS, which gas reports as "setting incorrect section type": build with
// -Wa,--no-warn (see docs/kernels.md).
#define __shared__ __attribute__((noinit)) static
