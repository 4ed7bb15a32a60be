// step03: a timing run that checks nothing: it ends cleanly and says no verdict.
#include "../helper.h"

__global__ void spin(float* out) { out[threadIdx.x] = static_cast<float>(threadIdx.x); }

int main() {
  if (!print_device()) return 1;
  float* d = nullptr;
  CUDA_CHECK(cudaMalloc(&d, 256 * sizeof(float)));
  cudaEvent_t a, b;
  CUDA_CHECK(cudaEventCreate(&a));
  CUDA_CHECK(cudaEventCreate(&b));
  CUDA_CHECK(cudaEventRecord(a));
  spin<<<1, 256>>>(d);
  CUDA_CHECK(cudaEventRecord(b));
  CUDA_CHECK(cudaEventSynchronize(b));
  float ms = 0.f;
  CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
  std::printf("elapsed: %.3f ms\n", ms);
  return 0;
}
