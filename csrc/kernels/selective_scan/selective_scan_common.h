// Device helpers shared by the selective-scan kernels: element conversion, the
// discretisation of Δ, and kItems-element loads and stores of one lane's time steps.
#pragma once
#include "../common/vec_io.h"
#include "../portable.h"
#include "selective_scan_params.h"

namespace rdm::selective_scan {

// torch.nn.functional.softplus with beta 1 and threshold 20: x itself above the threshold.
__device__ __forceinline__ float softplus(float x) { return x > 20.f ? x : log1pf(expf(x)); }

__device__ __forceinline__ float silu(float x) { return x / (1.f + expf(-x)); }

// Δ = delta + delta_bias, then softplus if asked.
__device__ __forceinline__ float discretise(float delta, float bias, bool use_softplus) {
  const float dt = delta + bias;
  return use_softplus ? softplus(dt) : dt;
}

// The vector that carries kItems = 4 elements of T in one access: 16 bytes of fp32, 8 of a
// 16-bit type (32 lanes x 8 bytes still cover whole sectors).
template <typename T> struct Items;
template <> struct Items<float> { using Vec = float4; };
template <> struct Items<__half> { using Vec = uint2; };
template <> struct Items<__nv_bfloat16> { using Vec = uint2; };

__device__ __forceinline__ void unpack(const float4& v, float (&x)[kItems]) {
  x[0] = v.x, x[1] = v.y, x[2] = v.z, x[3] = v.w;
}
template <typename T>
__device__ __forceinline__ void unpack_words(const uint2& v, float (&x)[kItems]) {
  x[0] = bits_to_float<T>(v.x), x[1] = bits_to_float<T>(v.x >> 16);
  x[2] = bits_to_float<T>(v.y), x[3] = bits_to_float<T>(v.y >> 16);
}

// Loads the lane's time steps t0 .. t0 + kItems - 1 of one row; steps at or past `length`
// read as `fill`. One vector access when the row is aligned (p.vectorized) and whole,
// element by element otherwise (the tail of the last chunk, or unaligned inputs).
template <typename T>
__device__ __forceinline__ void load_items(const T* row, int64_t t0, int64_t length, bool vectorized,
                                           float (&x)[kItems], float fill = 0.f) {
  if (vectorized && t0 + kItems <= length) {
    const auto v = load_global(reinterpret_cast<const typename Items<T>::Vec*>(row + t0));
    if constexpr (std::is_same_v<T, float>)
      unpack(v, x);
    else
      unpack_words<T>(v, x);
    return;
  }
#pragma unroll
  for (int i = 0; i < kItems; ++i) x[i] = t0 + i < length ? to_float(load_global(row + t0 + i)) : fill;
}

template <typename T>
__device__ __forceinline__ void store_items(T* row, int64_t t0, int64_t length, bool vectorized,
                                            const float (&x)[kItems]) {
  if (vectorized && t0 + kItems <= length) {
    if constexpr (std::is_same_v<T, float>) {
      store_global(reinterpret_cast<float4*>(row + t0), make_float4(x[0], x[1], x[2], x[3]));
    } else {
      const uint2 v = make_uint2(float_to_bits<T>(x[0]) | float_to_bits<T>(x[1]) << 16,
                                 float_to_bits<T>(x[2]) | float_to_bits<T>(x[3]) << 16);
      store_global(reinterpret_cast<uint2*>(row + t0), v);
    }
    return;
  }
#pragma unroll
  for (int i = 0; i < kItems; ++i)
    if (t0 + i < length) store_global(row + t0 + i, from_float<T>(x[i]));
}

}  // namespace rdm::selective_scan
