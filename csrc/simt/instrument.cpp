// Instrumentation runtime (see instrument.h).
#include "instrument.h"

namespace rdm::simt {

void record_access(MemorySpace, AccessKind, const void*, std::size_t, const std::source_location&) {}

void record_mma(int, int, int, const std::source_location&) {}

}  // namespace rdm::simt
