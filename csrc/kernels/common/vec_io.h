// Vectorised global-memory loads and stores that convert to and from fp32 registers.
// A group of N elements is moved in 16-byte chunks (one 128-bit transaction each) when
// N * sizeof(T) is a multiple of 16, in 8-byte chunks when it is a multiple of 8, element
// by element otherwise. Callers guarantee the chunk size's alignment of the chunked
// addresses (checked on the host before choosing N). Every access goes through
// rdm::load_global/store_global, one call per chunk, so the emulation counts each chunk
// as one request of its size.
#pragma once
#include "../portable.h"

namespace rdm {

template <typename T> __device__ __forceinline__ float to_float(T x);
template <> __device__ __forceinline__ float to_float<float>(float x) { return x; }
template <> __device__ __forceinline__ float to_float<__half>(__half x) { return __half2float(x); }
template <> __device__ __forceinline__ float to_float<__nv_bfloat16>(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename T> __device__ __forceinline__ T from_float(float x);
template <> __device__ __forceinline__ float from_float<float>(float x) { return x; }
template <> __device__ __forceinline__ __half from_float<__half>(float x) { return __float2half_rn(x); }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }

// One element's bits (the low 8 * sizeof(T) bits of a 32-bit word) to fp32 and back.
// Unpacking words in registers, rather than through a staging array, keeps the data out
// of local memory.
template <typename T> __device__ __forceinline__ float bits_to_float(uint32_t bits);
template <> __device__ __forceinline__ float bits_to_float<float>(uint32_t bits) { return __uint_as_float(bits); }
template <> __device__ __forceinline__ float bits_to_float<__half>(uint32_t bits) {
  return __half2float(__ushort_as_half(static_cast<unsigned short>(bits & 0xffffu)));
}
template <> __device__ __forceinline__ float bits_to_float<__nv_bfloat16>(uint32_t bits) {
  return __bfloat162float(__ushort_as_bfloat16(static_cast<unsigned short>(bits & 0xffffu)));
}

template <typename T> __device__ __forceinline__ uint32_t float_to_bits(float x);
template <> __device__ __forceinline__ uint32_t float_to_bits<float>(float x) { return __float_as_uint(x); }
template <> __device__ __forceinline__ uint32_t float_to_bits<__half>(float x) {
  return __half_as_ushort(__float2half_rn(x));
}
template <> __device__ __forceinline__ uint32_t float_to_bits<__nv_bfloat16>(float x) {
  return __bfloat16_as_ushort(__float2bfloat16_rn(x));
}

// Bytes per chunk for N elements of T: 16 (one 128-bit access) or 8 (64-bit) when they
// fill whole chunks, 0 for element by element.
template <typename T, int N>
inline constexpr int kChunkBytes = (N * sizeof(T)) % 16 == 0 ? 16 : (N * sizeof(T)) % 8 == 0 ? 8 : 0;

template <int kBytes> struct Chunk;
template <> struct Chunk<16> {
  using type = uint4;
  static constexpr int kWords = 4;
  static __device__ __forceinline__ void split(const uint4& v, uint32_t (&w)[4]) {
    w[0] = v.x, w[1] = v.y, w[2] = v.z, w[3] = v.w;
  }
  static __device__ __forceinline__ uint4 join(const uint32_t (&w)[4]) { return make_uint4(w[0], w[1], w[2], w[3]); }
};
template <> struct Chunk<8> {
  using type = uint2;
  static constexpr int kWords = 2;
  static __device__ __forceinline__ void split(const uint2& v, uint32_t (&w)[2]) { w[0] = v.x, w[1] = v.y; }
  static __device__ __forceinline__ uint2 join(const uint32_t (&w)[2]) { return make_uint2(w[0], w[1]); }
};

template <int N, typename T>
__device__ __forceinline__ void load_floats(const T* __restrict__ src, float (&dst)[N]) {
  constexpr int kBytes = kChunkBytes<T, N>;
  if constexpr (kBytes != 0) {
    using C = Chunk<kBytes>;
    constexpr int kPerWord = 4 / sizeof(T), kPerChunk = kBytes / sizeof(T);
#pragma unroll
    for (int c = 0; c < N / kPerChunk; ++c) {
      uint32_t words[C::kWords];
      C::split(load_global(reinterpret_cast<const typename C::type*>(src) + c), words);
#pragma unroll
      for (int w = 0; w < C::kWords; ++w)
#pragma unroll
        for (int e = 0; e < kPerWord; ++e) dst[c * kPerChunk + w * kPerWord + e] = bits_to_float<T>(words[w] >> (16 * e));
    }
  } else {
#pragma unroll
    for (int e = 0; e < N; ++e) dst[e] = to_float(load_global(src + e));
  }
}

template <int N, typename T>
__device__ __forceinline__ void store_floats(T* __restrict__ dst, const float (&src)[N]) {
  constexpr int kBytes = kChunkBytes<T, N>;
  if constexpr (kBytes != 0) {
    using C = Chunk<kBytes>;
    constexpr int kPerWord = 4 / sizeof(T), kPerChunk = kBytes / sizeof(T);
#pragma unroll
    for (int c = 0; c < N / kPerChunk; ++c) {
      uint32_t words[C::kWords] = {};
#pragma unroll
      for (int w = 0; w < C::kWords; ++w)
#pragma unroll
        for (int e = 0; e < kPerWord; ++e) words[w] |= float_to_bits<T>(src[c * kPerChunk + w * kPerWord + e]) << (16 * e);
      store_global(reinterpret_cast<typename C::type*>(dst) + c, C::join(words));
    }
  } else {
#pragma unroll
    for (int e = 0; e < N; ++e) store_global(dst + e, from_float<T>(src[e]));
  }
}

}  // namespace rdm
