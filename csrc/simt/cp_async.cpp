#include "cp_async.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "call_site.h"
#include "instrument.h"
#include "shared_memory.h"

namespace rdm::simt {

namespace {

struct PendingCopy {
  void* dst;
  unsigned char data[16];  // the source bytes read at issue, then zeros up to `bytes`
  std::size_t bytes;
  std::source_location site;  // of the issue, reported again when the copy lands
};

struct ThreadCopies {
  std::vector<PendingCopy> copies;       // issued and not landed yet, oldest first
  std::vector<std::size_t> group_sizes;  // copies per committed, pending group, oldest first
  std::size_t committed = 0;             // copies that belong to a committed group
};

thread_local ThreadCopies t_copies;

// Lands the oldest `count` pending copies.
void apply_oldest(ThreadCopies& t, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    const PendingCopy& c = t.copies[i];
    record_access(MemorySpace::kShared, AccessKind::kCpAsyncLand, c.dst, c.bytes, c.site);
    std::memcpy(c.dst, c.data, c.bytes);
  }
  t.copies.erase(t.copies.begin(), t.copies.begin() + static_cast<std::ptrdiff_t>(count));
}

std::string pointer_str(const void* p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%p", p);
  return buf;
}

}  // namespace

void cp_async(void* smem_dst, const void* gmem_src, std::size_t bytes, std::size_t src_bytes,
              const std::source_location& loc) {
  if (bytes != 4 && bytes != 8 && bytes != 16)
    detail::fault("cp.async at " + CallSite::from(loc).str() + ": cp-size " + std::to_string(bytes) +
                  " is not 4, 8 or 16");
  const auto misaligned = [bytes](const void* p) { return reinterpret_cast<std::uintptr_t>(p) % bytes != 0; };
  auto what = [&] {  // only built on error
    return "cp.async of " + std::to_string(bytes) + " bytes at " + CallSite::from(loc).str();
  };
  if (src_bytes > bytes)
    detail::fault(what() + ": src-size " + std::to_string(src_bytes) + " exceeds the cp-size; it must be in [0, " +
                  std::to_string(bytes) + "]");
  if (misaligned(smem_dst) || (src_bytes != 0 && misaligned(gmem_src)))
    detail::fault(what() + ": addresses " + pointer_str(smem_dst) + " <- " + pointer_str(gmem_src) +
                  " must be aligned to the copy size");
  if (!is_shared_memory(smem_dst, bytes))
    detail::fault(what() + ": destination " + pointer_str(smem_dst) + " is not in shared memory");
  if (src_bytes != 0 && is_shared_memory(gmem_src, src_bytes))
    detail::fault(what() + ": source " + pointer_str(gmem_src) + " is in shared memory, not global memory");
  PendingCopy c{smem_dst, {}, bytes, loc};  // zero-filled past src_bytes
  if (src_bytes != 0) {
    record_access(MemorySpace::kGlobal, AccessKind::kCpAsyncSource, gmem_src, src_bytes, loc);
    std::memcpy(c.data, gmem_src, src_bytes);
  }
  t_copies.copies.push_back(c);
}

void cp_async_commit() {
  ThreadCopies& t = t_copies;
  t.group_sizes.push_back(t.copies.size() - t.committed);
  t.committed = t.copies.size();
}

void cp_async_wait_groups(int pending) {
  ThreadCopies& t = t_copies;
  const std::size_t keep = static_cast<std::size_t>(pending < 0 ? 0 : pending);
  if (t.group_sizes.size() <= keep) return;
  const auto done = t.group_sizes.end() - static_cast<std::ptrdiff_t>(keep);
  std::size_t count = 0;
  for (auto it = t.group_sizes.begin(); it != done; ++it) count += *it;
  t.group_sizes.erase(t.group_sizes.begin(), done);
  apply_oldest(t, count);
  t.committed -= count;
}

void cp_async_wait_all() {
  ThreadCopies& t = t_copies;
  apply_oldest(t, t.copies.size());
  t.group_sizes.clear();
  t.committed = 0;
}

namespace detail {
void cp_async_reset_thread() {
  t_copies.copies.clear();
  t_copies.group_sizes.clear();
  t_copies.committed = 0;
}
}  // namespace detail

}  // namespace rdm::simt
