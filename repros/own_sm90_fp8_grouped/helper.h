// helper.h: what a CUTLASS user's repro folder tends to carry beside its .cu files.
#pragma once

#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>

#define CUDA_CHECK(expr)                                                                  \
  do {                                                                                    \
    cudaError_t err_ = (expr);                                                            \
    if (err_ != cudaSuccess) {                                                            \
      std::printf("CUDA error: %s (%s) at %s:%d\n", cudaGetErrorName(err_),               \
                  cudaGetErrorString(err_), __FILE__, __LINE__);                          \
      std::exit(2);                                                                       \
    }                                                                                     \
  } while (0)

// Prints the device the way the bug report's logs do; returns false without one.
inline bool print_device() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    std::printf("no CUDA device\n");
    return false;
  }
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device: %s (sm_%d%d), smem opt-in %zu B\n", prop.name, prop.major, prop.minor,
              prop.sharedMemPerBlockOptin);
  return true;
}
