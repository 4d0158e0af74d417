#include "tensor_core.h"

#include <cstdio>
#include <cstring>
#include <string>

#include "block_sync.h"
#include "builtins.h"
#include "call_site.h"
#include "fp16.h"
#include "shared_memory.h"

namespace rdm::simt {

namespace {

constexpr unsigned kFullWarp = 0xffffffffu;

std::uint16_t load_u16(const void* p) {
  std::uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Element `half` (0 = low) of a 32-bit register holding two 16-bit values.
std::uint16_t half_of(std::uint32_t reg, unsigned half) { return static_cast<std::uint16_t>(reg >> (16 * half)); }

struct MmaOperands {
  std::uint32_t a[4];
  std::uint32_t b[2];
};

template <class Format>
void mma_impl(float (&d)[4], const float (&c)[4], const detail::WarpSlot* slots) {
  const auto operands = [&](unsigned lane) { return detail::slot_value<MmaOperands>(slots, lane); };
  // A[r][k] lives in lane 4*(r%8) + (k%8)/2, register (r>=8) + 2*(k>=8), half k%2.
  const auto a_at = [&](unsigned r, unsigned k) {
    const MmaOperands o = operands(4 * (r % 8) + (k % 8) / 2);
    return detail::widen<Format>(half_of(o.a[(r >= 8 ? 1 : 0) + (k >= 8 ? 2 : 0)], k % 2));
  };
  // B[k][n] lives in lane 4*n + (k%8)/2, register k>=8, half k%2.
  const auto b_at = [&](unsigned k, unsigned n) {
    const MmaOperands o = operands(4 * n + (k % 8) / 2);
    return detail::widen<Format>(half_of(o.b[k >= 8 ? 1 : 0], k % 2));
  };
  const unsigned g = lane_id() / 4, t = lane_id() % 4;
  for (unsigned i = 0; i < 4; ++i) {
    const unsigned row = g + (i >= 2 ? 8 : 0), col = 2 * t + i % 2;
    double sum = c[i];
    for (unsigned k = 0; k < 16; ++k) sum += static_cast<double>(a_at(row, k)) * static_cast<double>(b_at(k, col));
    d[i] = static_cast<float>(sum);
  }
}

}  // namespace

void ldmatrix(std::uint32_t* d, int num, bool trans, const void* row, const std::source_location& loc) {
  const unsigned lane = lane_id();
  if (lane < 8u * static_cast<unsigned>(num)) {
    char what[64];
    std::snprintf(what, sizeof what, "ldmatrix.x%d%s row address %p of lane %u", num, trans ? ".trans" : "", row,
                  lane);
    if (reinterpret_cast<std::uintptr_t>(row) % 16 != 0)
      detail::fault(std::string(what) + " at " + CallSite::from(loc).str() + " is not 16-byte aligned");
    if (!is_shared_memory(row, 16))
      detail::fault(std::string(what) + " at " + CallSite::from(loc).str() + " is not in shared memory");
  }
  const detail::WarpSlot* slots =
      detail::block_sync().warp_exchange(trans ? "ldmatrix.trans" : "ldmatrix", CallSite::from(loc), kFullWarp,
                                         &row, sizeof row);
  const auto row_of = [&](int matrix, unsigned r) {
    return static_cast<const unsigned char*>(detail::slot_value<const void*>(slots, 8 * matrix + r));
  };
  for (int m = 0; m < num; ++m) {
    if (!trans) {
      std::memcpy(&d[m], row_of(m, lane / 4) + 4 * (lane % 4), 4);
    } else {  // element (r, c) of the transposed matrix is element (c, r) of the stored one
      const unsigned c = lane / 4, r0 = 2 * (lane % 4);
      d[m] = load_u16(row_of(m, r0) + 2 * c) | (static_cast<std::uint32_t>(load_u16(row_of(m, r0 + 1) + 2 * c)) << 16);
    }
  }
}

void mma_m16n8k16(float (&d)[4], const std::uint32_t (&a)[4], const std::uint32_t (&b)[2], const float (&c)[4],
                  MmaInput input, const std::source_location& loc) {
  MmaOperands mine;
  std::memcpy(mine.a, a, sizeof mine.a);
  std::memcpy(mine.b, b, sizeof mine.b);
  const detail::WarpSlot* slots = detail::block_sync().warp_exchange(
      input == MmaInput::kF16 ? "mma.m16n8k16.f16" : "mma.m16n8k16.bf16", CallSite::from(loc), kFullWarp, &mine,
      sizeof mine);
  if (input == MmaInput::kF16)
    mma_impl<detail::HalfFormat>(d, c, slots);
  else
    mma_impl<detail::BFloat16Format>(d, c, slots);
}

}  // namespace rdm::simt
