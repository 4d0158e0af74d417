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

#include "call_site.h"

namespace rdm::simt {

namespace {

// A contiguous run of static __shared__ variables.
struct Range {
  std::uintptr_t begin, end;
};

struct Module {
  std::string path;
  std::uintptr_t load_bias = 0;
  std::vector<ElfW(Phdr)> segments;  // program headers as loaded
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

bool same_segment(const ElfW(Phdr)& a, const ElfW(Phdr)& b) {
  return a.p_type == b.p_type && a.p_flags == b.p_flags && a.p_offset == b.p_offset && a.p_vaddr == b.p_vaddr &&
         a.p_filesz == b.p_filesz && a.p_memsz == b.p_memsz;
}

// Appends the address ranges of the `.noinit*` sections of `module`, as loaded; returns why
// it could not, or an empty string. Section headers are not mapped at run time, so they are
// read from the file, which must still be the one that was loaded: memset through section
// headers of another build would overwrite arbitrary memory.
std::string collect_noinit_sections(const Module& module, std::vector<Range>& out) {
  const int fd = open(module.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "cannot open " + module.path;
  Elf64_Ehdr eh;
  std::vector<Elf64_Phdr> segments;
  std::vector<Elf64_Shdr> sections;
  std::vector<char> names;
  bool ok = read_at(fd, &eh, sizeof eh, 0) && std::memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 &&
            eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_phentsize == sizeof(Elf64_Phdr) &&
            eh.e_shentsize == sizeof(Elf64_Shdr) && eh.e_shstrndx < eh.e_shnum;
  if (ok) {
    segments.resize(eh.e_phnum);
    sections.resize(eh.e_shnum);
    ok = read_at(fd, segments.data(), segments.size() * sizeof(Elf64_Phdr), static_cast<off_t>(eh.e_phoff)) &&
         read_at(fd, sections.data(), sections.size() * sizeof(Elf64_Shdr), static_cast<off_t>(eh.e_shoff));
  }
  if (ok) {
    const Elf64_Shdr& strtab = sections[eh.e_shstrndx];
    names.resize(strtab.sh_size + 1, '\0');
    ok = read_at(fd, names.data(), strtab.sh_size, static_cast<off_t>(strtab.sh_offset));
  }
  close(fd);
  if (!ok) return module.path + " is not a readable ELF64 file";
  if (!std::equal(segments.begin(), segments.end(), module.segments.begin(), module.segments.end(), same_segment))
    return module.path + " differs from the loaded module (rebuilt or replaced since it was loaded?)";
  for (const Elf64_Shdr& sh : sections) {
    if (sh.sh_name >= names.size() || !(sh.sh_flags & SHF_ALLOC) || sh.sh_size == 0) continue;
    if (std::strncmp(names.data() + sh.sh_name, ".noinit", 7) != 0) continue;
    const bool in_writable_segment = std::any_of(segments.begin(), segments.end(), [&](const Elf64_Phdr& ph) {
      return ph.p_type == PT_LOAD && (ph.p_flags & PF_W) && sh.sh_addr >= ph.p_vaddr &&
             sh.sh_addr + sh.sh_size <= ph.p_vaddr + ph.p_memsz;
    });
    if (!in_writable_segment) return module.path + ": section " + (names.data() + sh.sh_name) + " is not writable";
    const std::uintptr_t begin = module.load_bias + sh.sh_addr;
    out.push_back({begin, begin + sh.sh_size});
  }
  return {};
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
        auto* target = static_cast<Search*>(data);
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          const std::uintptr_t begin = info->dlpi_addr + ph.p_vaddr;
          if (ph.p_type != PT_LOAD || target->address < begin || target->address >= begin + ph.p_memsz) continue;
          const bool main_program = info->dlpi_name == nullptr || info->dlpi_name[0] == '\0';
          target->found = {main_program ? "/proc/self/exe" : info->dlpi_name, info->dlpi_addr,
                           {info->dlpi_phdr, info->dlpi_phdr + info->dlpi_phnum}};
          return 1;
        }
        return 0;
      },
      &search);
  return search.found;
}

void scan_static_ranges(SharedMemoryState& s) {
  std::vector<Range> ranges;
  if (std::string why = collect_noinit_sections(this_module(), ranges); !why.empty())
    throw LaunchError("rdm SIMT: cannot locate the __shared__ variables to poison them: " + why);
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
