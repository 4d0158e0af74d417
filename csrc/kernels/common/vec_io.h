// Vectorised global-memory loads and stores that convert to and from fp32 registers.
// A group of N elements is moved in 16-byte chunks (one 128-bit transaction each) when
// N * sizeof(T) is a multiple of 16, element by element otherwise. Callers guarantee
// 16-byte alignment of the chunked addresses (checked on the host before choosing N).
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

template <typename T, int N>
inline constexpr bool kMovesInChunks = (N * sizeof(T)) % 16 == 0;

template <int N, typename T>
__device__ __forceinline__ void load_floats(const T* __restrict__ src, float (&dst)[N]) {
  if constexpr (kMovesInChunks<T, N>) {
    alignas(16) T staged[N];
#pragma unroll
    for (int c = 0; c < int(N * sizeof(T) / 16); ++c)
      reinterpret_cast<uint4*>(staged)[c] = reinterpret_cast<const uint4*>(src)[c];
#pragma unroll
    for (int e = 0; e < N; ++e) dst[e] = to_float(staged[e]);
  } else {
#pragma unroll
    for (int e = 0; e < N; ++e) dst[e] = to_float(src[e]);
  }
}

template <int N, typename T>
__device__ __forceinline__ void store_floats(T* __restrict__ dst, const float (&src)[N]) {
  if constexpr (kMovesInChunks<T, N>) {
    alignas(16) T staged[N];
#pragma unroll
    for (int e = 0; e < N; ++e) staged[e] = from_float<T>(src[e]);
#pragma unroll
    for (int c = 0; c < int(N * sizeof(T) / 16); ++c)
      reinterpret_cast<uint4*>(dst)[c] = reinterpret_cast<const uint4*>(staged)[c];
  } else {
#pragma unroll
    for (int e = 0; e < N; ++e) dst[e] = from_float<T>(src[e]);
  }
}

}  // namespace rdm
