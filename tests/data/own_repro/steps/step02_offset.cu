// step02: one change from step01: the index offset, behind a macro so both sides build.
#include <vector>

#include "../helper.h"

#ifndef STEP_OFFSET
#define STEP_OFFSET 0
#endif

__global__ void axpy(int n, float a, const float* x, float* y) {
  int i = blockIdx.x * blockDim.x + threadIdx.x + STEP_OFFSET;
  if (i < n) y[i] = a * x[i] + y[i];
}

int main() {
  if (!print_device()) return 1;
  const int n = 1 << 16;
  std::vector<float> x(n, 1.0f), y(n, 2.0f);
  float *dx = nullptr, *dy = nullptr;
  CUDA_CHECK(cudaMalloc(&dx, n * sizeof(float)));
  CUDA_CHECK(cudaMalloc(&dy, n * sizeof(float)));
  CUDA_CHECK(cudaMemcpy(dx, x.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaMemcpy(dy, y.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  axpy<<<(n + 255) / 256, 256>>>(n, 3.0f, dx, dy);
  CUDA_CHECK(cudaGetLastError());
  CUDA_CHECK(cudaMemcpy(y.data(), dy, n * sizeof(float), cudaMemcpyDeviceToHost));
  bool ok = true;
  for (int i = 0; i < n; ++i) ok = ok && y[i] == 5.0f;
  std::printf("Disposition: %s\n", ok ? "Passed" : "Failed");
  return ok ? 0 : 1;
}
