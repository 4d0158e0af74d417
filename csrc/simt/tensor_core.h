// Warp-level tensor-core instructions (ldmatrix, mma.sync), emulated from the fragment
// layouts of the PTX ISA: every lane publishes its operands through the warp exchange and
// reads back the elements its own fragment holds. Like the instructions, these need all
// 32 lanes of a full warp.
#pragma once
#include <cstdint>
#include <source_location>

namespace rdm::simt {

// ldmatrix.sync.aligned.m8n8.x{num}[.trans].shared.b16: lanes 8*i .. 8*i+7 supply the row
// addresses of matrix i (16-byte aligned, in shared memory); the other lanes' addresses
// are ignored. Without .trans lane l receives row l/4, columns 2*(l%4) and 2*(l%4)+1 of
// matrix i in d[i]; with .trans it receives the same positions of the transposed matrix.
void ldmatrix(std::uint32_t* d, int num, bool trans, const void* row, const std::source_location& loc);

enum class MmaInput { kF16, kBF16 };

// mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}.{f16,bf16}.f32: D = A * B + C with
// A 16x16 (row), B 16x8 (col), C/D 16x8 fp32. With g = lane/4, t = lane%4:
//   a[0]: A[g][2t..2t+1]   a[1]: A[g+8][2t..2t+1]   a[2]: A[g][2t+8..2t+9]   a[3]: A[g+8][2t+8..2t+9]
//   b[0]: B[2t..2t+1][g]   b[1]: B[2t+8..2t+9][g]
//   c/d[0..1]: (g, 2t..2t+1)                         c/d[2..3]: (g+8, 2t..2t+1)
// the lower-indexed element of a pair in the low 16 bits. The sum over k is computed in
// double and rounded once (the GPU's accumulation order and precision differ slightly).
void mma_m16n8k16(float (&d)[4], const std::uint32_t (&a)[4], const std::uint32_t (&b)[2], const float (&c)[4],
                  MmaInput input, const std::source_location& loc);

}  // namespace rdm::simt
