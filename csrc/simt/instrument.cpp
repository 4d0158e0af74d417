// Instrumentation runtime (see instrument.h). Lanes only append to their own log while the
// block runs; everything else happens on the launcher thread once the block has finished,
// in thread order, so counters and check reports do not depend on the OS scheduling.
#include "instrument.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "block_sync.h"
#include "builtins.h"
#include "call_site.h"
#include "shared_memory.h"

namespace rdm::simt {

namespace {

struct Access {
  std::uintptr_t address;
  const void* instruction;  // where the helper called the runtime: see record_access
  std::source_location site;
  std::uint32_t barrier;     // barrier interval of the block the access happened in
  std::uint32_t collective;  // collectives the lane had entered (orders the lanes of a warp)
  std::uint32_t occurrence;  // n-th time this lane reached `site` in this (barrier, collective) stretch
  std::uint16_t bytes;
  MemorySpace space;
  AccessKind kind;
};

struct SiteKey {
  const void* instruction;
  const char* file;
  std::uint32_t line, column;
  bool operator==(const SiteKey&) const = default;
};
struct SiteKeyHash {
  std::size_t operator()(const SiteKey& k) const {
    return std::hash<const void*>()(k.instruction) ^ std::hash<const void*>()(k.file) ^ (std::size_t(k.line) << 20) ^
           k.column;
  }
};
struct Occurrences {
  std::uint32_t barrier, collective, count;
};

// What one CUDA thread reported during the current block; written only by that thread.
struct ThreadLog {
  std::vector<Access> accesses;
  std::unordered_map<SiteKey, Occurrences, SiteKeyHash> occurrences;
  std::uint64_t mma_instructions = 0, mma_flops = 0;
  std::uint32_t collectives = 0;  // warp collectives entered in this block
  void clear() {
    accesses.clear();
    occurrences.clear();
    mma_instructions = mma_flops = 0;
    collectives = 0;
  }
};

constexpr std::size_t kMaxRecords = 4096;

struct GlobalRange {
  std::uintptr_t begin, end;
  std::string name;
};

// The buffers registered by this (launching) thread's live GlobalBuffers, innermost last.
thread_local std::vector<GlobalRange> t_buffers;

struct State {
  std::vector<ThreadLog> logs;  // by linear thread id; resized only between blocks
  LaunchRecord current;
  std::uintptr_t dynamic_base = 0;
  std::size_t dynamic_size = 0;
  std::unordered_set<std::uintptr_t> loaded_sectors, stored_sectors;  // of the whole launch
  std::vector<GlobalRange> buffers;  // the launching thread's; empty: unchecked
  std::mutex records_mutex;  // guards records and override (read from other threads via the ops)
  std::deque<LaunchRecord> records;
  int override_checks = -1;
};

State& state() {
  static State s;
  return s;
}

bool is_read(AccessKind k) { return k == AccessKind::kLoad || k == AccessKind::kLdmatrix || k == AccessKind::kAtomic; }
bool is_write(AccessKind k) {
  return k == AccessKind::kStore || k == AccessKind::kStmatrix || k == AccessKind::kCpAsyncLand ||
         k == AccessKind::kAtomic;
}

const char* verb(AccessKind k) {
  switch (k) {
    case AccessKind::kLoad: return "reads";
    case AccessKind::kStore: return "writes";
    case AccessKind::kAtomic: return "atomically updates";
    case AccessKind::kLdmatrix: return "reads (ldmatrix)";
    case AccessKind::kStmatrix: return "writes (stmatrix)";
    case AccessKind::kCpAsyncSource: return "reads (cp.async source)";
    case AccessKind::kCpAsyncLand: return "writes (cp.async landing at its wait)";
  }
  return "accesses";
}

// One access with the thread that made it. The block's refs are thread-major and in each
// thread's program order, so comparing two refs' positions orders one thread's accesses.
struct Ref {
  const Access* a;
  unsigned thread;
};

std::string thread_str(unsigned linear) {
  const dim3& b = detail::g_grid.block_dim;
  return "thread " + std::to_string(linear) + " (" + std::to_string(linear % b.x) + "," +
         std::to_string(linear / b.x % b.y) + "," + std::to_string(linear / (b.x * b.y)) + ")";
}

std::string byte_str(std::uintptr_t byte) {
  const State& s = state();
  if (byte >= s.dynamic_base && byte < s.dynamic_base + s.dynamic_size)
    return "byte " + std::to_string(byte - s.dynamic_base) + " of dynamic shared memory";
  char buf[64];
  std::snprintf(buf, sizeof buf, "static __shared__ byte at 0x%" PRIxPTR, byte);
  return buf;
}

std::string access_str(const Ref& r) {
  return thread_str(r.thread) + " " + verb(r.a->kind) + " it at " + CallSite::from(r.a->site).str();
}

// ----------------------------------------------------------------------------- counters

// The distinct bytes covered by [address, address + bytes) ranges.
std::uint64_t distinct_bytes(std::vector<std::pair<std::uintptr_t, std::uintptr_t>>& ranges) {
  std::sort(ranges.begin(), ranges.end());
  std::uint64_t total = 0;
  std::uintptr_t covered = 0;
  for (const auto& [begin, end] : ranges) {
    const std::uintptr_t from = std::max(begin, covered);
    if (end > from) total += end - from;
    covered = std::max(covered, end);
  }
  return total;
}

void count_global(const std::vector<Ref>& lanes, LaunchCounters& c, State& s) {
  std::vector<std::pair<std::uintptr_t, std::uintptr_t>> ranges;
  std::vector<std::uintptr_t> sectors;
  for (const Ref& r : lanes) {
    ranges.emplace_back(r.a->address, r.a->address + r.a->bytes);
    for (std::uintptr_t sector = r.a->address >> 5; sector <= (r.a->address + r.a->bytes - 1) >> 5; ++sector)
      sectors.push_back(sector);
  }
  std::sort(sectors.begin(), sectors.end());
  sectors.erase(std::unique(sectors.begin(), sectors.end()), sectors.end());
  const std::uint64_t bytes = distinct_bytes(ranges);
  const AccessKind kind = lanes.front().a->kind;
  if (kind == AccessKind::kCpAsyncSource)
    for (const Ref& r : lanes) c.cp_async_bytes += r.a->bytes;
  const bool load = kind != AccessKind::kStore, store = kind == AccessKind::kStore || kind == AccessKind::kAtomic;
  if (load) {
    ++c.global_load_requests;
    c.global_load_bytes += bytes;
    c.global_load_sectors += sectors.size();
    c.global_load_ideal_sectors += (bytes + 31) / 32;
    s.loaded_sectors.insert(sectors.begin(), sectors.end());
  }
  if (store) {
    ++c.global_store_requests;
    c.global_store_bytes += bytes;
    c.global_store_sectors += sectors.size();
    c.global_store_ideal_sectors += (bytes + 31) / 32;
    s.stored_sectors.insert(sectors.begin(), sectors.end());
  }
}

// Bank model: 32 banks of 4-byte words. A request runs in phases of 128 bytes' worth of
// lanes (32 lanes of <= 4 bytes, 16 of 8, 8 of 16); in a phase a bank serves each distinct
// word once (lanes reading the same word share it), so the phase takes as many wavefronts
// as its busiest bank has distinct words.
void count_shared(const std::vector<Ref>& lanes, LaunchCounters& c) {
  const AccessKind kind = lanes.front().a->kind;
  if (kind == AccessKind::kCpAsyncLand) return;  // counted at the issue (cp_async_bytes)
  unsigned widest = 0;
  std::uint64_t bytes = 0;
  for (const Ref& r : lanes) {
    widest = std::max<unsigned>(widest, r.a->bytes);
    bytes += r.a->bytes;
  }
  const unsigned lanes_per_phase = widest <= 4 ? 32 : widest <= 8 ? 16 : 8;
  std::uint64_t wavefronts = 0, ideal = 0;
  for (unsigned phase = 0; phase < kWarpSize / lanes_per_phase; ++phase) {
    std::vector<std::uintptr_t> words;
    for (const Ref& r : lanes) {
      if (r.thread % kWarpSize / lanes_per_phase != phase) continue;
      for (std::uintptr_t w = r.a->address >> 2; w <= (r.a->address + r.a->bytes - 1) >> 2; ++w) words.push_back(w);
    }
    if (words.empty()) continue;
    std::sort(words.begin(), words.end());
    words.erase(std::unique(words.begin(), words.end()), words.end());
    unsigned per_bank[32] = {};
    unsigned busiest = 0;
    for (std::uintptr_t w : words) busiest = std::max(busiest, ++per_bank[w % 32]);
    wavefronts += busiest;
    ++ideal;
  }
  c.shared_wavefronts += wavefronts;
  c.shared_ideal_wavefronts += ideal;
  c.bank_conflicts += wavefronts - ideal;
  if (is_write(kind) && kind != AccessKind::kAtomic) {
    ++c.shared_store_requests;
    c.shared_store_bytes += bytes;
  } else {
    ++c.shared_load_requests;
    c.shared_load_bytes += bytes;
  }
}

// Groups the accesses into warp requests (same warp, space, site, interval and occurrence)
// and counts each.
void count_requests(const std::vector<Ref>& refs, LaunchCounters& c, State& s) {
  auto key = [](const Ref& r) {
    const Access& a = *r.a;
    return std::make_tuple(r.thread / kWarpSize, a.space, a.barrier, a.collective, a.instruction,
                           a.site.file_name(), a.site.line(), a.site.column(), a.occurrence, a.kind);
  };
  std::vector<const Ref*> order;
  order.reserve(refs.size());
  for (const Ref& r : refs) order.push_back(&r);
  std::stable_sort(order.begin(), order.end(), [&](const Ref* x, const Ref* y) { return key(*x) < key(*y); });
  std::vector<Ref> lanes;
  for (std::size_t i = 0; i < order.size();) {
    lanes.clear();
    std::size_t j = i;
    for (; j < order.size() && key(*order[j]) == key(*order[i]); ++j) lanes.push_back(*order[j]);
    if (order[i]->a->space == MemorySpace::kGlobal)
      count_global(lanes, c, s);
    else
      count_shared(lanes, c);
    i = j;
  }
}

// ----------------------------------------------------------------------------- checks

// Two accesses of one byte by different threads in one barrier interval are ordered only
// by a warp collective between them, i.e. within one warp at different collective counts
// (exact for full-mask collectives, which every lane of the warp counts alike).
bool unordered(const Ref& x, const Ref& y) {
  return x.thread / kWarpSize != y.thread / kWarpSize || x.a->collective == y.a->collective;
}

std::string interval_str(std::uint32_t barrier) {
  return barrier == 0 ? "before the block's first barrier"
                      : "between the block's barriers " + std::to_string(barrier) + " and " +
                            std::to_string(barrier + 1);
}

// Each accessed shared byte with the accesses to it, sorted by byte, barrier interval,
// then thread and program order.
struct ByteAccess {
  std::uintptr_t byte;
  std::uint32_t barrier;
  std::uint32_t ref;  // index into the block's refs (thread-major, program order)
  auto operator<=>(const ByteAccess&) const = default;
};

std::string racecheck(const std::vector<Ref>& refs, const std::vector<ByteAccess>& bytes) {
  for (std::size_t i = 0; i < bytes.size();) {
    std::size_t j = i;
    while (j < bytes.size() && bytes[j].byte == bytes[i].byte && bytes[j].barrier == bytes[i].barrier) ++j;
    for (std::size_t w = i; w < j; ++w) {
      const Ref& writer = refs[bytes[w].ref];
      if (!is_write(writer.a->kind)) continue;
      for (std::size_t o = i; o < j; ++o) {
        const Ref& other = refs[bytes[o].ref];
        if (other.thread == writer.thread || !unordered(writer, other)) continue;
        if (writer.a->kind == AccessKind::kAtomic && other.a->kind == AccessKind::kAtomic) continue;
        const Ref& first = bytes[w].ref < bytes[o].ref ? writer : other;
        const Ref& second = bytes[w].ref < bytes[o].ref ? other : writer;
        return "racecheck: shared-memory race on " + byte_str(bytes[i].byte) + ": " + access_str(first) + ", and " +
               access_str(second) + ", " + interval_str(bytes[i].barrier) +
               ", with no __syncthreads (or, within a warp, __syncwarp) between them";
      }
    }
    i = j;
  }
  return {};
}

std::string initcheck(const std::vector<Ref>& refs, const std::vector<ByteAccess>& bytes) {
  for (std::size_t i = 0; i < bytes.size();) {
    std::size_t j = i;
    while (j < bytes.size() && bytes[j].byte == bytes[i].byte) ++j;
    bool written_earlier = false;  // in an earlier barrier interval
    for (std::size_t k = i; k < j;) {
      std::size_t end = k;
      while (end < j && bytes[end].barrier == bytes[k].barrier) ++end;
      for (std::size_t r = k; r < end && !written_earlier; ++r) {
        const Ref& reader = refs[bytes[r].ref];
        if (!is_read(reader.a->kind)) continue;
        // Unwritten unless a write of this interval comes first in the reader's program
        // order, in an earlier collective of its warp, or unordered (then racecheck's job).
        const bool initialised = std::any_of(bytes.begin() + k, bytes.begin() + end, [&](const ByteAccess& b) {
          const Ref& w = refs[b.ref];
          if (!is_write(w.a->kind) || b.ref == bytes[r].ref) return false;
          if (w.thread == reader.thread) return b.ref < bytes[r].ref;
          return unordered(w, reader) || w.a->collective < reader.a->collective;
        });
        if (!initialised)
          return "initcheck: " + thread_str(reader.thread) + " " + verb(reader.a->kind) + " " +
                 byte_str(bytes[i].byte) + " at " + CallSite::from(reader.a->site).str() +
                 ", which no thread of the block has written before (" + interval_str(bytes[k].barrier) + ")";
      }
      for (std::size_t w = k; w < end; ++w) written_earlier = written_earlier || is_write(refs[bytes[w].ref].a->kind);
      k = end;
    }
    i = j;
  }
  return {};
}

std::string check_shared(const std::vector<Ref>& refs, unsigned checks) {
  std::vector<ByteAccess> bytes;
  for (std::uint32_t i = 0; i < refs.size(); ++i) {
    const Access& a = *refs[i].a;
    if (a.space != MemorySpace::kShared) continue;
    for (std::uintptr_t b = a.address; b < a.address + a.bytes; ++b) bytes.push_back({b, a.barrier, i});
  }
  std::sort(bytes.begin(), bytes.end());
  if (checks & kRacecheck)
    if (std::string report = racecheck(refs, bytes); !report.empty()) return report;
  if (checks & kInitcheck) return initcheck(refs, bytes);
  return {};
}

unsigned checks_from_env() {
  const char* env = std::getenv("RDM_SIMT_CHECKS");
  if (env == nullptr) return 0;
  try {
    return parse_checks(env);
  } catch (const LaunchError& e) {
    throw LaunchError(std::string("rdm SIMT: RDM_SIMT_CHECKS: ") + e.what());
  }
}

std::string json_escape(const std::string& text) {
  std::string out;
  for (char ch : text) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", ch);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out;
}

std::string dim_json(const dim3& d) {
  return "[" + std::to_string(d.x) + ", " + std::to_string(d.y) + ", " + std::to_string(d.z) + "]";
}

std::string pointer_str(std::uintptr_t address) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%" PRIxPTR, address);
  return buf;
}

std::string dim_str(const dim3& d) {
  return "(" + std::to_string(d.x) + "," + std::to_string(d.y) + "," + std::to_string(d.z) + ")";
}

// Fails the launch unless [address, address + bytes) lies inside one registered buffer.
void check_global_bounds(const State& s, AccessKind kind, std::uintptr_t address, std::size_t bytes,
                         const std::source_location& site) {
  const std::uintptr_t end = address + bytes;
  // A launch registers a handful of buffers (which may overlap: views of one storage).
  for (const GlobalRange& r : s.buffers)
    if (r.begin <= address && end <= r.end) return;
  const GlobalRange* nearest = nullptr;
  std::uintptr_t distance = 0;
  for (const GlobalRange& r : s.buffers) {
    const std::uintptr_t d = address < r.begin ? r.begin - address : end > r.end ? end - r.end : 0;
    if (nearest == nullptr || d < distance) nearest = &r, distance = d;
  }
  const bool before = address < nearest->begin;
  const char* what = kind == AccessKind::kStore ? "store" : kind == AccessKind::kAtomic ? "atomic" : "load";
  detail::fault("out-of-bounds global " + std::string(what) + " of " + std::to_string(bytes) + " bytes at " +
                pointer_str(address) + " by thread " + dim_str(dim3(threadIdx.x, threadIdx.y, threadIdx.z)) +
                " block " + dim_str(dim3(blockIdx.x, blockIdx.y, blockIdx.z)) + " at " + CallSite::from(site).str() +
                "; nearest buffer '" + nearest->name + "' [" + pointer_str(nearest->begin) + ", " +
                pointer_str(nearest->end) + "), " + std::to_string(distance) + " bytes " +
                (before ? "before its start" : "past its end"));
}

}  // namespace

GlobalBuffers::GlobalBuffers() : restore_size_(t_buffers.size()) {}
GlobalBuffers::~GlobalBuffers() { t_buffers.resize(restore_size_); }
void GlobalBuffers::add(const void* begin, std::size_t bytes, std::string name) {
  if (bytes == 0) return;
  const auto b = reinterpret_cast<std::uintptr_t>(begin);
  t_buffers.push_back({b, b + bytes, std::move(name)});
}

// The helpers are always inlined, so the return address is a machine instruction of the
// kernel: like a GPU's program counter it tells apart the inlined copies of one source line
// (a row-loading helper called for two tensors), which the call site alone would merge.
void record_access(MemorySpace space, AccessKind kind, const void* address, std::size_t bytes,
                   const std::source_location& site) {
  const void* instruction = __builtin_return_address(0);
  if (!detail::t_thread.in_kernel || bytes == 0) return;
  if (space == MemorySpace::kGlobal && !state().buffers.empty())
    check_global_bounds(state(), kind, reinterpret_cast<std::uintptr_t>(address), bytes, site);
  const std::uint32_t barrier = detail::block_sync().barriers_completed();
  ThreadLog& log = state().logs[linear_thread()];
  const std::uint32_t collective = log.collectives;
  Occurrences& seen = log.occurrences[SiteKey{instruction, site.file_name(), site.line(), site.column()}];
  if (seen.count == 0 || seen.barrier != barrier || seen.collective != collective) seen = {barrier, collective, 0};
  log.accesses.push_back({reinterpret_cast<std::uintptr_t>(address), instruction, site, barrier, collective,
                          seen.count++, static_cast<std::uint16_t>(bytes), space, kind});
}

void record_mma(int m, int n, int k, const std::source_location&) {
  if (!detail::t_thread.in_kernel || lane_id() != 0) return;  // lane 0 takes part in every warp-wide mma
  ThreadLog& log = state().logs[linear_thread()];
  ++log.mma_instructions;
  log.mma_flops += 2ull * static_cast<std::uint64_t>(m) * static_cast<std::uint64_t>(n) * static_cast<std::uint64_t>(k);
}

unsigned parse_checks(const std::string& text) {
  unsigned checks = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    const std::string word = text.substr(start, end - start);
    if (word == "race" || word == "racecheck")
      checks |= kRacecheck;
    else if (word == "init" || word == "initcheck")
      checks |= kInitcheck;
    else if (!word.empty() && word != "none")
      throw LaunchError("unknown check '" + word + "' in '" + text + "'; use a comma list of race, init (or none)");
    start = end + 1;
  }
  return checks;
}

std::string checks_str(unsigned checks) {
  if (checks == 0) return "none";
  std::string out = (checks & kRacecheck) ? "race" : "";
  if (checks & kInitcheck) out += out.empty() ? "init" : ",init";
  return out;
}

int set_checks(int checks) {
  State& s = state();
  std::lock_guard lock(s.records_mutex);
  return std::exchange(s.override_checks, checks < 0 ? -1 : checks & (kRacecheck | kInitcheck));
}

unsigned active_checks() {
  State& s = state();
  {
    std::lock_guard lock(s.records_mutex);
    if (s.override_checks >= 0) return static_cast<unsigned>(s.override_checks);
  }
  return checks_from_env();
}

std::vector<LaunchRecord> launch_records(bool clear) {
  State& s = state();
  std::lock_guard lock(s.records_mutex);
  std::vector<LaunchRecord> out(s.records.begin(), s.records.end());
  if (clear) s.records.clear();
  return out;
}

std::string launch_records_json(bool clear) {
  std::string out = "[";
  for (const LaunchRecord& r : launch_records(clear)) {
    const LaunchCounters& c = r.counters;
    const std::pair<const char*, std::uint64_t> fields[] = {
        {"global_load_requests", c.global_load_requests},
        {"global_load_bytes", c.global_load_bytes},
        {"global_load_sectors", c.global_load_sectors},
        {"global_load_ideal_sectors", c.global_load_ideal_sectors},
        {"global_store_requests", c.global_store_requests},
        {"global_store_bytes", c.global_store_bytes},
        {"global_store_sectors", c.global_store_sectors},
        {"global_store_ideal_sectors", c.global_store_ideal_sectors},
        {"global_load_unique_bytes", c.global_load_unique_bytes},
        {"global_store_unique_bytes", c.global_store_unique_bytes},
        {"shared_load_requests", c.shared_load_requests},
        {"shared_load_bytes", c.shared_load_bytes},
        {"shared_store_requests", c.shared_store_requests},
        {"shared_store_bytes", c.shared_store_bytes},
        {"shared_wavefronts", c.shared_wavefronts},
        {"shared_ideal_wavefronts", c.shared_ideal_wavefronts},
        {"bank_conflicts", c.bank_conflicts},
        {"mma_instructions", c.mma_instructions},
        {"mma_flops", c.mma_flops},
        {"cp_async_bytes", c.cp_async_bytes},
        {"barriers", c.barriers},
        {"blocks", c.blocks},
    };
    if (out.size() > 1) out += ", ";
    out += "{\"kernel\": \"" + json_escape(r.kernel) + "\", \"grid\": " + dim_json(r.grid) +
           ", \"block\": " + dim_json(r.block) + ", \"dynamic_smem_bytes\": " + std::to_string(r.dynamic_smem_bytes) +
           ", \"checks\": \"" + checks_str(r.checks) + "\", \"counters\": {";
    bool first = true;
    for (const auto& [name, value] : fields) {
      out += std::string(first ? "" : ", ") + "\"" + name + "\": " + std::to_string(value);
      first = false;
    }
    out += "}}";
  }
  return out + "]";
}

namespace detail {

void begin_launch(const char* kernel, dim3 grid, dim3 block, std::size_t dynamic_smem_bytes, unsigned checks) {
  State& s = state();
  s.current = LaunchRecord{kernel, grid, block, dynamic_smem_bytes, checks, {}};
  s.dynamic_base = reinterpret_cast<std::uintptr_t>(dynamic_shared_memory());
  s.dynamic_size = dynamic_smem_bytes;
  s.loaded_sectors.clear();
  s.stored_sectors.clear();
  s.buffers = t_buffers;  // begin_launch runs on the launching thread
}

void note_warp_collective() { ++state().logs[linear_thread()].collectives; }

void begin_block(unsigned nthreads) {
  State& s = state();
  if (s.logs.size() < nthreads) s.logs.resize(nthreads);
  for (unsigned t = 0; t < nthreads; ++t) s.logs[t].clear();
}

std::string end_block() {
  State& s = state();
  LaunchCounters& c = s.current.counters;
  const dim3& b = g_grid.block_dim;
  const unsigned nthreads = b.x * b.y * b.z;
  std::vector<Ref> refs;
  for (unsigned t = 0; t < nthreads; ++t) {
    const ThreadLog& log = s.logs[t];
    for (const Access& a : log.accesses) refs.push_back({&a, t});
    c.mma_instructions += log.mma_instructions;
    c.mma_flops += log.mma_flops;
  }
  count_requests(refs, c, s);
  c.barriers += block_sync().barriers_completed();
  ++c.blocks;
  return s.current.checks ? check_shared(refs, s.current.checks) : std::string();
}

void end_launch() {
  State& s = state();
  s.current.counters.global_load_unique_bytes = 32 * s.loaded_sectors.size();
  s.current.counters.global_store_unique_bytes = 32 * s.stored_sectors.size();
  std::lock_guard lock(s.records_mutex);
  s.records.push_back(s.current);
  while (s.records.size() > kMaxRecords) s.records.pop_front();
}

}  // namespace detail
}  // namespace rdm::simt
