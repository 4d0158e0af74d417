// Warp-level tensor-core instructions (ldmatrix, stmatrix, movmatrix, mma.sync), emulated
// from the fragment layouts of the PTX ISA: every lane publishes its operands through the
// warp exchange and reads back the elements its own fragment holds. Like the instructions,
// these need all 32 lanes of a full warp. Each reports its shared-memory rows and mma
// shapes to the instrumentation (instrument.h), at the caller's source location.
//
// Fragment of an 8x8 matrix of 16-bit elements (ldmatrix, stmatrix, movmatrix): lane l holds
// row l/4, columns 2*(l%4) and 2*(l%4)+1, the lower column in the low 16 bits.
#pragma once
#include <cstdint>
#include <source_location>

namespace rdm::simt {

// ldmatrix.sync.aligned.m8n8.x{num}[.trans].shared.b16: lanes 8*i .. 8*i+7 supply the row
// addresses of matrix i (16-byte aligned, in shared memory); the other lanes' addresses
// are ignored. Each supplying lane reads its row at the instruction, so that it may
// overwrite the row right after. d[i] receives the fragment of matrix i (of its transpose
// with .trans).
void ldmatrix(std::uint32_t* d, int num, bool trans, const void* row, const std::source_location& loc);

// stmatrix.sync.aligned.m8n8.x{num}[.trans].shared.b16 (sm_90): the inverse of ldmatrix.
// r[i] is the lane's fragment of matrix i; lanes 8*i .. 8*i+7 supply the row addresses of
// matrix i and each writes its row (of the transpose with .trans). As with plain stores,
// another lane sees a row only after a __syncwarp.
void stmatrix(const std::uint32_t* r, int num, bool trans, void* row, const std::source_location& loc);

// movmatrix.sync.aligned.m8n8.trans.b16: returns the lane's fragment of the transpose of
// the 8x8 matrix whose fragments the warp passes in `a`.
std::uint32_t movmatrix_trans(std::uint32_t a, const std::source_location& loc);

enum class MmaInput { kF16, kBF16, kTF32 };

// mma.sync.aligned.m16n8k{k}.row.col.{f32,f16}.{input}.{input}.{f32,f16}: D = A * B + C with
// A 16 x k (row), B k x 8 (col), C/D 16 x 8. With g = lane/4, t = lane%4:
//   16-bit inputs (k = 16: a[0..3], b[0..1]; k = 8: a[0..1], b[0]), two elements per register:
//     a[0]: A[g][2t..2t+1]  a[1]: A[g+8][2t..2t+1]  a[2]: A[g][2t+8..2t+9]  a[3]: A[g+8][2t+8..2t+9]
//     b[0]: B[2t..2t+1][g]  b[1]: B[2t+8..2t+9][g]
//   tf32 (k = 8), one element per register:
//     a[0]: A[g][t]  a[1]: A[g+8][t]  a[2]: A[g][t+4]  a[3]: A[g+8][t+4]   b[0]: B[t][g]  b[1]: B[t+4][g]
//   C/D element i (0..3): row g + 8*(i/2), column 2t + i%2; f32: register i; f16: register
//   i/2, half i%2.
// The lower-indexed element of a pair sits in the low 16 bits. The sum over k is computed
// in double, starting from C and adding k = 0, 1, ..., and rounded once to the accumulator
// type (the GPU's accumulation order and precision differ slightly). A tf32 operand is
// the fp32 register with its low 13 mantissa bits cleared (see tensor_core.cpp).
void mma(float (&d)[4], const std::uint32_t* a, const std::uint32_t* b, const float (&c)[4], MmaInput input, int k,
         const std::source_location& loc);
void mma_f16_accumulate(std::uint32_t (&d)[2], const std::uint32_t* a, const std::uint32_t* b,
                        const std::uint32_t (&c)[2], int k, const std::source_location& loc);

}  // namespace rdm::simt
