// kit harness: what the grouped-GEMM repros' host code shares: a seeded generator for their
// inputs, every device allocation of a run freed on every return path, bf16 bits to float.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace kit {

struct Rng {  // splitmix64
  unsigned long long s;
  explicit Rng(unsigned long long seed) : s(seed) {}
  unsigned long long next() {
    unsigned long long z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  unsigned pick(unsigned n) { return static_cast<unsigned>(next() % n); }
};

// Every cudaMalloc of one run; freed on every return path.
struct DeviceArena {
  std::vector<void*> ptrs;
  cudaError_t err = cudaSuccess;
  template <class T>
  T* alloc(std::size_t count) {
    void* p = nullptr;
    if (err != cudaSuccess) return nullptr;
    err = cudaMalloc(&p, count * sizeof(T) > 0 ? count * sizeof(T) : 1);
    if (err != cudaSuccess) return nullptr;
    ptrs.push_back(p);
    return static_cast<T*>(p);
  }
  template <class T>
  T* upload(const std::vector<T>& h) {
    T* d = alloc<T>(h.size());
    if (d && !h.empty()) err = cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice);
    return err == cudaSuccess ? d : nullptr;
  }
  ~DeviceArena() {
    for (void* p : ptrs) cudaFree(p);
  }
};

inline float bf16_bits_to_float(uint16_t b) {
  uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

}  // namespace kit
