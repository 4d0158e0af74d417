// Device helpers shared by the selective-scan kernels: element conversion, the
// discretisation of Δ, and kItems-element loads and stores of one lane's time steps.
#pragma once
#include <type_traits>

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

// One warp's view of the chunk it works on: lane l owns steps start + l * kItems + i.
// Rows that are aligned for vectors (ForwardParams::vectorized) move as one vector per lane
// while the whole chunk lies within L. Otherwise (unaligned rows, the last partial chunk)
// the warp moves the chunk through its staging buffer in shared memory: lane l reads steps
// start + 32 i + l, so that each request covers consecutive addresses, then every lane
// picks its kItems consecutive steps (one 16-byte shared access). The choice is uniform
// across the warp, as the staging path's __syncwarp needs.
struct WarpChunk {
  float* stage;  // kChunk floats of this warp's shared staging buffer, 16-byte aligned
  int64_t start, length;
  int lane;
  bool whole;  // the chunk lies within L

  __device__ __forceinline__ int64_t first_step() const { return start + lane * kItems; }
};

template <typename T>
__device__ __forceinline__ void load_items(const T* row, const WarpChunk& w, bool vectorized, float (&x)[kItems],
                                           float fill = 0.f) {
  if (vectorized && w.whole) {
    const auto v = load_global(reinterpret_cast<const typename Items<T>::Vec*>(row + w.first_step()));
    if constexpr (std::is_same_v<T, float>)
      unpack(v, x);
    else
      unpack_words<T>(v, x);
    return;
  }
  __syncwarp();  // the previous pick from the buffer is done before it is overwritten
#pragma unroll
  for (int i = 0; i < kItems; ++i) {
    const int64_t t = w.start + 32 * i + w.lane;
    store_shared(w.stage + 32 * i + w.lane, t < w.length ? to_float(load_global(row + t)) : fill);
  }
  __syncwarp();
  unpack(load_shared(reinterpret_cast<const float4*>(w.stage + w.lane * kItems)), x);
}

template <typename T>
__device__ __forceinline__ void store_items(T* row, const WarpChunk& w, bool vectorized, const float (&x)[kItems]) {
  if (vectorized && w.whole) {
    T* dst = row + w.first_step();
    if constexpr (std::is_same_v<T, float>) {
      store_global(reinterpret_cast<float4*>(dst), make_float4(x[0], x[1], x[2], x[3]));
    } else {
      const uint2 v = make_uint2(float_to_bits<T>(x[0]) | float_to_bits<T>(x[1]) << 16,
                                 float_to_bits<T>(x[2]) | float_to_bits<T>(x[3]) << 16);
      store_global(reinterpret_cast<uint2*>(dst), v);
    }
    return;
  }
  __syncwarp();
  store_shared(reinterpret_cast<float4*>(w.stage + w.lane * kItems), make_float4(x[0], x[1], x[2], x[3]));
  __syncwarp();
#pragma unroll
  for (int i = 0; i < kItems; ++i) {
    const int64_t t = w.start + 32 * i + w.lane;
    if (t < w.length) store_global(row + t, from_float<T>(load_shared(w.stage + 32 * i + w.lane)));
  }
}

// Atomically adds the lane's kItems values to an fp32 row, through the staging buffer so
// that each warp request adds to 32 consecutive steps (steps past L are not touched).
__device__ __forceinline__ void add_items(float* row, const WarpChunk& w, const float (&x)[kItems]) {
  __syncwarp();
  store_shared(reinterpret_cast<float4*>(w.stage + w.lane * kItems), make_float4(x[0], x[1], x[2], x[3]));
  __syncwarp();
#pragma unroll
  for (int i = 0; i < kItems; ++i) {
    const int64_t t = w.start + 32 * i + w.lane;
    if (t < w.length) atomic_add(row + t, load_shared(w.stage + 32 * i + w.lane));
  }
}

// The state entering this lane's kItems steps of a chunk. Step i is the map h -> a[i] h + b[i];
// each lane composes its own maps, an inclusive scan over the lanes composes them across the
// warp (after the step with offset o, lane l holds the maps of lanes l - 2o + 1 .. l, earlier
// map applied first), and the exclusive prefix (the lanes before this one) is applied to the
// chunk's incoming state h_in. Every lane of the warp must call it.
__device__ __forceinline__ float state_before_lane(const float (&a)[kItems], const float (&b)[kItems], float h_in,
                                                   int lane) {
  float lane_a = a[0], lane_b = b[0];
#pragma unroll
  for (int i = 1; i < kItems; ++i) lane_b = fmaf(a[i], lane_b, b[i]), lane_a *= a[i];
#pragma unroll
  for (int offset = 1; offset < 32; offset *= 2) {
    const float prev_a = __shfl_up_sync(0xffffffffu, lane_a, offset);
    const float prev_b = __shfl_up_sync(0xffffffffu, lane_b, offset);
    if (lane >= offset) lane_b = fmaf(lane_a, prev_b, lane_b), lane_a *= prev_a;
  }
  float before_a = __shfl_up_sync(0xffffffffu, lane_a, 1);
  float before_b = __shfl_up_sync(0xffffffffu, lane_b, 1);
  if (lane == 0) before_a = 1.f, before_b = 0.f;
  return fmaf(before_a, h_in, before_b);
}

}  // namespace rdm::selective_scan
