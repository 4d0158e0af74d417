#include "shared_memory.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <vector>

namespace rdm::simt {

namespace {

// A contiguous run of static __shared__ variables.
struct Range {
  std::uintptr_t begin, end;
};

struct Module {
  std::string path;
  std::uintptr_t load_bias = 0;
};

struct SharedMemoryState {
  std::vector<Range> static_ranges;  // sorted, merged
  bool scanned = false;
  unsigned char* dynamic = nullptr;
  std::size_t dynamic_capacity = 0;
  std::size_t dynamic_size = 0;
};

SharedMemoryState& state() {
  static SharedMemoryState s;
  return s;
}

bool read_at(int fd, void* out, std::size_t bytes, off_t offset) {
  return pread(fd, out, bytes, offset) == static_cast<ssize_t>(bytes);
}

// Appends the address ranges of the `.noinit*` sections of one ELF file, as loaded.
// Section headers are not mapped at run time, so they are read from the file itself.
void collect_noinit_sections(const Module& module, std::vector<Range>& out) {
  const int fd = open(module.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;  // e.g. the vDSO, which has no file
  Elf64_Ehdr eh;
  std::vector<Elf64_Shdr> sections;
  std::vector<char> names;
  bool ok = read_at(fd, &eh, sizeof eh, 0) && std::memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 &&
            eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_shentsize == sizeof(Elf64_Shdr) &&
            eh.e_shstrndx < eh.e_shnum;
  if (ok) {
    sections.resize(eh.e_shnum);
    ok = read_at(fd, sections.data(), sections.size() * sizeof(Elf64_Shdr), static_cast<off_t>(eh.e_shoff));
  }
  if (ok) {
    const Elf64_Shdr& strtab = sections[eh.e_shstrndx];
    names.resize(strtab.sh_size + 1, '\0');
    ok = read_at(fd, names.data(), strtab.sh_size, static_cast<off_t>(strtab.sh_offset));
  }
  close(fd);
  if (!ok) return;
  for (const Elf64_Shdr& s : sections) {
    if (s.sh_name >= names.size() || !(s.sh_flags & SHF_ALLOC) || s.sh_size == 0) continue;
    if (std::strncmp(names.data() + s.sh_name, ".noinit", 7) != 0) continue;
    const std::uintptr_t begin = module.load_bias + s.sh_addr;
    out.push_back({begin, begin + s.sh_size});
  }
}

// The loaded module (executable or shared library) that contains this runtime, and so the
// kernels: each copy of the runtime only poisons the shared memory of its own module.
Module this_module() {
  struct Search {
    std::uintptr_t address;
    Module found;
  } search{reinterpret_cast<std::uintptr_t>(&this_module), {}};
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* data) {
        auto* search = static_cast<Search*>(data);
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          const std::uintptr_t begin = info->dlpi_addr + ph.p_vaddr;
          if (ph.p_type != PT_LOAD || search->address < begin || search->address >= begin + ph.p_memsz) continue;
          const bool main_program = info->dlpi_name == nullptr || info->dlpi_name[0] == '\0';
          search->found = {main_program ? "/proc/self/exe" : info->dlpi_name, info->dlpi_addr};
          return 1;
        }
        return 0;
      },
      &search);
  return search.found;
}

void scan_static_ranges(SharedMemoryState& s) {
  std::vector<Range> ranges;
  collect_noinit_sections(this_module(), ranges);
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
  for (const Range& r : ranges) {
    if (!s.static_ranges.empty() && r.begin <= s.static_ranges.back().end)
      s.static_ranges.back().end = std::max(s.static_ranges.back().end, r.end);
    else
      s.static_ranges.push_back(r);
  }
  s.scanned = true;
}

}  // namespace

void* dynamic_shared_memory() { return state().dynamic; }

bool is_shared_memory(const void* p, std::size_t bytes) {
  const SharedMemoryState& s = state();
  const auto begin = reinterpret_cast<std::uintptr_t>(p);
  const auto dyn = reinterpret_cast<std::uintptr_t>(s.dynamic);
  if (begin >= dyn && begin + bytes <= dyn + s.dynamic_size) return true;
  auto it = std::upper_bound(s.static_ranges.begin(), s.static_ranges.end(), begin,
                             [](std::uintptr_t a, const Range& r) { return a < r.begin; });
  return it != s.static_ranges.begin() && begin + bytes <= std::prev(it)->end;
}

namespace detail {

void prepare_shared_memory(std::size_t dynamic_bytes) {
  SharedMemoryState& s = state();
  if (!s.scanned) scan_static_ranges(s);
  if (dynamic_bytes > s.dynamic_capacity) {
    ::operator delete[](s.dynamic, std::align_val_t{kDynamicSharedAlignment});
    s.dynamic = static_cast<unsigned char*>(
        ::operator new[](dynamic_bytes, std::align_val_t{kDynamicSharedAlignment}));
    s.dynamic_capacity = dynamic_bytes;
  }
  if (s.dynamic == nullptr)  // keep the base a valid, aligned address even for 0 bytes
    s.dynamic = static_cast<unsigned char*>(::operator new[](1, std::align_val_t{kDynamicSharedAlignment}));
  s.dynamic_size = dynamic_bytes;
}

void poison_shared_memory() {
  SharedMemoryState& s = state();
  for (const Range& r : s.static_ranges)
    std::memset(reinterpret_cast<void*>(r.begin), kSharedMemoryPoison, r.end - r.begin);
  std::memset(s.dynamic, kSharedMemoryPoison, s.dynamic_size);
}

}  // namespace detail
}  // namespace rdm::simt
