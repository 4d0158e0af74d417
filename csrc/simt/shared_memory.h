// Shared memory of the emulated block: the static __shared__ variables (see qualifiers.h),
// the dynamic shared memory buffer, and the per-block poison.
#pragma once
#include <cstddef>

namespace rdm::simt {

// Every byte of shared memory is set to this value before each block. 0xFF bytes read as
// NaN in fp64/fp32/fp16/bf16 and as -1 / all-ones in integer types, so a read of shared
// memory that the block did not write shows up as NaN or -1.
inline constexpr unsigned char kSharedMemoryPoison = 0xFF;

// Alignment of the dynamic shared memory base under the emulation (CUDA guarantees 16).
inline constexpr std::size_t kDynamicSharedAlignment = 128;

// Base of the current launch's dynamic shared memory.
void* dynamic_shared_memory();

// True iff [p, p + bytes) lies inside one static __shared__ variable or inside the current
// launch's dynamic shared memory.
bool is_shared_memory(const void* p, std::size_t bytes);

namespace detail {
// Launcher side: locates the static __shared__ variables (once: they are the `.noinit*`
// sections of the module this runtime is linked into) and sizes the dynamic buffer.
void prepare_shared_memory(std::size_t dynamic_bytes);
// Launcher side: fills all shared memory with kSharedMemoryPoison.
void poison_shared_memory();
}  // namespace detail

}  // namespace rdm::simt

// Dynamic shared memory of the running kernel as a `T*` named `name`.
#define RDM_DYNAMIC_SHARED(T, name) T* name = static_cast<T*>(::rdm::simt::dynamic_shared_memory())
