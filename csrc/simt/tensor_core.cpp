#include "tensor_core.h"

#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

#include "block_sync.h"
#include "builtins.h"
#include "call_site.h"
#include "fp16.h"
#include "instrument.h"
#include "shared_memory.h"

// Planted bugs: tests/test_simt_layer.py compiles this file with -DRDM_SIMT_PLANTED_BUG=<n>
// and checks that the self-test case of the instruction concerned then fails, i.e. that the
// case can catch a wrong fragment layout or rounding. Never set in a real build.
#ifndef RDM_SIMT_PLANTED_BUG
#define RDM_SIMT_PLANTED_BUG 0
#endif

namespace rdm::simt {

namespace {

constexpr unsigned kFullWarp = 0xffffffffu;

enum PlantedBug {
  kMma16BitALane = 1,   // f16/bf16 inputs: A rows g and g+8 swapped in lane 5
  kTf32Rounds = 2,      // tf32 operands rounded to nearest instead of truncated
  kTf32BRegister = 3,   // tf32: B rows t+4 read from b[0]
  kF16AccTruncates = 4, // f16 accumulators rounded toward zero
  kStmatrixLane = 5,    // stmatrix: lane 9 writes its row from the wrong lane's fragment
  kMovmatrixHalves = 6, // movmatrix: lane 0 gets its halves swapped
};
constexpr bool planted(PlantedBug bug) { return RDM_SIMT_PLANTED_BUG == bug; }

struct Row16 {
  unsigned char bytes[16];
};

std::uint16_t load_u16(const unsigned char* p) {
  std::uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Element `half` (0 = low) of a 32-bit register holding two 16-bit values.
std::uint16_t half_of(std::uint32_t reg, unsigned half) { return static_cast<std::uint16_t>(reg >> (16 * half)); }

std::uint32_t pack(std::uint16_t lo, std::uint16_t hi) { return lo | static_cast<std::uint32_t>(hi) << 16; }

// Element (r, c) of the 8x8 matrix whose fragments (one register per lane, see
// tensor_core.h) the warp published in `slots`, register `reg` of each slot.
std::uint16_t fragment_element(const detail::WarpSlot* slots, unsigned reg, unsigned r, unsigned c) {
  std::uint32_t v;
  std::memcpy(&v, slots[4 * r + c / 2].bytes + 4 * reg, sizeof v);
  return half_of(v, c % 2);
}

// Faults unless the row address of a lane that supplies a row of ldmatrix/stmatrix is
// 16-byte aligned shared memory.
void check_row_address(const char* op, int num, bool trans, const void* row, const std::source_location& loc) {
  char what[96];
  std::snprintf(what, sizeof what, "%s.x%d%s row address %p of lane %u", op, num, trans ? ".trans" : "", row,
                lane_id());
  if (reinterpret_cast<std::uintptr_t>(row) % 16 != 0)
    detail::fault(std::string(what) + " at " + CallSite::from(loc).str() + " is not 16-byte aligned");
  if (!is_shared_memory(row, 16))
    detail::fault(std::string(what) + " at " + CallSite::from(loc).str() + " is not in shared memory");
}

// A .tf32 operand is an fp32 register. The PTX ISA expects it to hold tf32 data (what
// cvt.rna.tf32.f32 produces: low 13 mantissa bits zero) and does not say what mma does with
// any other fp32 bit pattern. The hardware's behaviour is not documented by NVIDIA; public
// reports of measurements on sm_80 say the low bits are simply ignored, i.e. the operand
// is truncated toward zero (e.g. a kernel project's note that 1 + 0.75 * 2^-10 enters an
// mma as 1.0), and libraries that want rounding do it in software before the mma
// (CUTLASS's float -> tfloat32_t conversions, cvt.rna in CUDA's __float_to_tf32). So the
// emulation truncates, keeping NaNs NaN. This is the uncertain part of the tf32 model:
// not yet checked on a GPU by this project. Kernels wanting round-to-nearest convert their
// operands with rdm::float_to_tf32 first, which makes the question moot.
double tf32_operand(std::uint32_t bits) {
  const float value = std::bit_cast<float>(bits);
  if (std::isnan(value)) return value;
  if constexpr (planted(kTf32Rounds)) return std::bit_cast<float>((bits + 0x1000u) & 0xffffe000u);
  return std::bit_cast<float>(bits & 0xffffe000u);
}

struct MmaOperands {
  std::uint32_t a[4];
  std::uint32_t b[2];
};

// The elements of A and B, read from the fragments the warp published (layouts in
// tensor_core.h).
class MmaFragments {
 public:
  MmaFragments(const detail::WarpSlot* slots, MmaInput input) : slots_(slots), input_(input) {}

  double a(unsigned r, unsigned k) const {
    if (input_ == MmaInput::kTF32) return tf32_operand(operands(4 * (r % 8) + k % 4).a[r / 8 + 2 * (k / 4)]);
    const unsigned lane = 4 * (r % 8) + (k % 8) / 2;
    unsigned reg = r / 8 + 2 * (k / 8);
    if (planted(kMma16BitALane) && lane == 5) reg ^= 1;
    return widen16(half_of(operands(lane).a[reg], k % 2));
  }
  double b(unsigned k, unsigned n) const {
    if (input_ == MmaInput::kTF32) {
      const unsigned reg = planted(kTf32BRegister) ? 0 : k / 4;
      return tf32_operand(operands(4 * n + k % 4).b[reg]);
    }
    return widen16(half_of(operands(4 * n + (k % 8) / 2).b[k / 8], k % 2));
  }

 private:
  MmaOperands operands(unsigned lane) const { return detail::slot_value<MmaOperands>(slots_, lane); }
  double widen16(std::uint16_t bits) const {
    return input_ == MmaInput::kF16 ? detail::widen<detail::HalfFormat>(bits)
                                    : detail::widen<detail::BFloat16Format>(bits);
  }
  const detail::WarpSlot* slots_;
  MmaInput input_;
};

const char* mma_name(MmaInput input, int k, bool f16_accumulate) {
  if (f16_accumulate) return k == 16 ? "mma.m16n8k16.f16.f16acc" : "mma.m16n8k8.f16.f16acc";
  switch (input) {
    case MmaInput::kF16:
      return k == 16 ? "mma.m16n8k16.f16" : "mma.m16n8k8.f16";
    case MmaInput::kBF16:
      return k == 16 ? "mma.m16n8k16.bf16" : "mma.m16n8k8.bf16";
    case MmaInput::kTF32:
      break;
  }
  return "mma.m16n8k8.tf32";
}

// Publishes the lane's a and b fragments (4 and 2 registers for k = 16 and tf32, 2 and 1
// for 16-bit inputs with k = 8) and returns, for each of the lane's four C/D elements, the
// exact sum over k of A * B plus `c` (as double).
void mma_sums(double (&sums)[4], const std::uint32_t* a, const std::uint32_t* b, const double (&c)[4],
              MmaInput input, int k, bool f16_accumulate, const std::source_location& loc) {
  if (!((k == 16 && input != MmaInput::kTF32) || k == 8))
    detail::fault(std::string("unsupported mma shape m16n8k") + std::to_string(k) + " at " + CallSite::from(loc).str());
  record_mma(16, 8, k, loc);
  const unsigned a_regs = input == MmaInput::kTF32 || k == 16 ? 4 : 2;
  MmaOperands mine{};
  std::memcpy(mine.a, a, a_regs * sizeof(std::uint32_t));
  std::memcpy(mine.b, b, a_regs / 2 * sizeof(std::uint32_t));
  const detail::WarpSlot* slots = detail::block_sync().warp_exchange(
      mma_name(input, k, f16_accumulate), CallSite::from(loc), kFullWarp, &mine, sizeof mine);
  const MmaFragments fragments(slots, input);
  const unsigned g = lane_id() / 4, t = lane_id() % 4;
  for (unsigned i = 0; i < 4; ++i) {
    const unsigned row = g + 8 * (i / 2), col = 2 * t + i % 2;
    double sum = c[i];
    for (unsigned kk = 0; kk < static_cast<unsigned>(k); ++kk) sum += fragments.a(row, kk) * fragments.b(kk, col);
    sums[i] = sum;
  }
}

std::uint16_t round_to_half(double value) {
  const std::uint16_t nearest = detail::round_to<detail::HalfFormat>(value);
  if constexpr (planted(kF16AccTruncates)) {
    const double widened = detail::widen<detail::HalfFormat>(nearest);
    if (std::isfinite(widened) && std::abs(widened) > std::abs(value)) return nearest - 1;  // one ulp toward zero
  }
  return nearest;
}

}  // namespace

void ldmatrix(std::uint32_t* d, int num, bool trans, const void* row, const std::source_location& loc) {
  const unsigned lane = lane_id();
  Row16 mine{};
  if (lane < 8u * static_cast<unsigned>(num)) {
    check_row_address("ldmatrix", num, trans, row, loc);
    record_access(MemorySpace::kShared, AccessKind::kLdmatrix, row, 16, loc);
    std::memcpy(&mine, row, sizeof mine);
  }
  const detail::WarpSlot* slots = detail::block_sync().warp_exchange(trans ? "ldmatrix.trans" : "ldmatrix",
                                                                     CallSite::from(loc), kFullWarp, &mine,
                                                                     sizeof mine);
  // Row r of matrix m, as lane 8*m + r read it.
  const auto row_of = [&](int m, unsigned r) { return slots[8 * m + r].bytes; };
  for (int m = 0; m < num; ++m) {
    if (!trans) {
      std::memcpy(&d[m], row_of(m, lane / 4) + 4 * (lane % 4), 4);
    } else {  // element (r, c) of the transposed matrix is element (c, r) of the stored one
      const unsigned c = lane / 4, r0 = 2 * (lane % 4);
      d[m] = pack(load_u16(row_of(m, r0) + 2 * c), load_u16(row_of(m, r0 + 1) + 2 * c));
    }
  }
}

void stmatrix(const std::uint32_t* r, int num, bool trans, void* row, const std::source_location& loc) {
  const unsigned lane = lane_id();
  const bool supplies_row = lane < 8u * static_cast<unsigned>(num);
  if (supplies_row) check_row_address("stmatrix", num, trans, row, loc);
  std::uint32_t mine[4] = {};
  std::memcpy(mine, r, static_cast<std::size_t>(num) * sizeof(std::uint32_t));
  const detail::WarpSlot* slots = detail::block_sync().warp_exchange(trans ? "stmatrix.trans" : "stmatrix",
                                                                     CallSite::from(loc), kFullWarp, mine,
                                                                     sizeof mine);
  if (!supplies_row) return;
  const unsigned m = lane / 8, rr = lane % 8;
  const unsigned source_row = planted(kStmatrixLane) && lane == 9 ? (rr + 1) % 8 : rr;
  std::uint16_t out[8];
  for (unsigned c = 0; c < 8; ++c)  // with .trans, stored row rr is column rr of the fragments' matrix
    out[c] = trans ? fragment_element(slots, m, c, source_row) : fragment_element(slots, m, source_row, c);
  record_access(MemorySpace::kShared, AccessKind::kStmatrix, row, 16, loc);
  std::memcpy(row, out, sizeof out);
}

std::uint32_t movmatrix_trans(std::uint32_t a, const std::source_location& loc) {
  const detail::WarpSlot* slots =
      detail::block_sync().warp_exchange("movmatrix.trans", CallSite::from(loc), kFullWarp, &a, sizeof a);
  const unsigned lane = lane_id(), r = lane / 4, c = 2 * (lane % 4);
  // Element (r, c) of the transpose is element (c, r) of the matrix.
  std::uint16_t lo = fragment_element(slots, 0, c, r), hi = fragment_element(slots, 0, c + 1, r);
  if (planted(kMovmatrixHalves) && lane == 0) std::swap(lo, hi);
  return pack(lo, hi);
}

void mma(float (&d)[4], const std::uint32_t* a, const std::uint32_t* b, const float (&c)[4], MmaInput input, int k,
         const std::source_location& loc) {
  const double c_exact[4] = {c[0], c[1], c[2], c[3]};
  double sums[4];
  mma_sums(sums, a, b, c_exact, input, k, false, loc);
  for (int i = 0; i < 4; ++i) d[i] = static_cast<float>(sums[i]);
}

void mma_f16_accumulate(std::uint32_t (&d)[2], const std::uint32_t* a, const std::uint32_t* b,
                        const std::uint32_t (&c)[2], int k, const std::source_location& loc) {
  double c_exact[4];
  for (unsigned i = 0; i < 4; ++i) c_exact[i] = detail::widen<detail::HalfFormat>(half_of(c[i / 2], i % 2));
  double sums[4];
  mma_sums(sums, a, b, c_exact, MmaInput::kF16, k, true, loc);
  for (unsigned i = 0; i < 2; ++i) d[i] = pack(round_to_half(sums[2 * i]), round_to_half(sums[2 * i + 1]));
}

}  // namespace rdm::simt
