// CUDA's built-in vector types (dim3, uint3, float2, float4, ...) for host compilation,
// with the same sizes and alignments as vector_types.h of the CUDA toolkit.
#pragma once

struct uint3 {
  unsigned int x, y, z;
};

struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return {x, y, z}; }
};

// RDM_SIMT_VECTOR_TYPE(name, scalar, alignment, members...) defines `struct name` and
// `make_name(...)`, mirroring CUDA's declarations.
#define RDM_SIMT_VECTOR_TYPE_2(name, T, align)                          \
  struct alignas(align) name {                                          \
    T x, y;                                                             \
  };                                                                    \
  inline constexpr name make_##name(T x, T y) { return name{x, y}; }
#define RDM_SIMT_VECTOR_TYPE_3(name, T)                                 \
  struct name {                                                         \
    T x, y, z;                                                          \
  };                                                                    \
  inline constexpr name make_##name(T x, T y, T z) { return name{x, y, z}; }
#define RDM_SIMT_VECTOR_TYPE_4(name, T, align)                          \
  struct alignas(align) name {                                          \
    T x, y, z, w;                                                       \
  };                                                                    \
  inline constexpr name make_##name(T x, T y, T z, T w) { return name{x, y, z, w}; }

RDM_SIMT_VECTOR_TYPE_2(char2, signed char, 2)
RDM_SIMT_VECTOR_TYPE_4(char4, signed char, 4)
RDM_SIMT_VECTOR_TYPE_2(uchar2, unsigned char, 2)
RDM_SIMT_VECTOR_TYPE_4(uchar4, unsigned char, 4)
RDM_SIMT_VECTOR_TYPE_2(short2, short, 4)
RDM_SIMT_VECTOR_TYPE_4(short4, short, 8)
RDM_SIMT_VECTOR_TYPE_2(ushort2, unsigned short, 4)
RDM_SIMT_VECTOR_TYPE_4(ushort4, unsigned short, 8)
RDM_SIMT_VECTOR_TYPE_2(int2, int, 8)
RDM_SIMT_VECTOR_TYPE_3(int3, int)
RDM_SIMT_VECTOR_TYPE_4(int4, int, 16)
RDM_SIMT_VECTOR_TYPE_2(uint2, unsigned int, 8)
RDM_SIMT_VECTOR_TYPE_4(uint4, unsigned int, 16)
RDM_SIMT_VECTOR_TYPE_2(float2, float, 8)
RDM_SIMT_VECTOR_TYPE_3(float3, float)
RDM_SIMT_VECTOR_TYPE_4(float4, float, 16)
RDM_SIMT_VECTOR_TYPE_2(double2, double, 16)
RDM_SIMT_VECTOR_TYPE_2(longlong2, long long, 16)
RDM_SIMT_VECTOR_TYPE_2(ulonglong2, unsigned long long, 16)

#undef RDM_SIMT_VECTOR_TYPE_2
#undef RDM_SIMT_VECTOR_TYPE_3
#undef RDM_SIMT_VECTOR_TYPE_4

inline constexpr uint3 make_uint3(unsigned int x, unsigned int y, unsigned int z) { return uint3{x, y, z}; }
