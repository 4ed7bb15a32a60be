// bench_kernel: y = a*x + variant over 1M floats, verified on the host. Each variant is its own
// binary (KIT_VARIANT is a compile-time constant), so a matrix of N variants is N real compiles.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <vector>

#ifndef KIT_VARIANT
#define KIT_VARIANT 0
#endif

template <int Unroll>
__global__ void axpb(const float* x, float* y, float a, int n) {
  int i = (blockIdx.x * blockDim.x + threadIdx.x) * Unroll;
#pragma unroll
  for (int u = 0; u < Unroll; ++u) {
    if (i + u < n) y[i + u] = a * x[i + u] + float(KIT_VARIANT);
  }
}

static void report(const char* stage, const char* status, const char* err, double max_err) {
  std::printf("KIT_RESULT {\"repro\":\"bench_kernel\",\"stage\":\"%s\",\"status\":\"%s\","
              "\"cuda_error\":{\"name\":\"%s\"},\"verify\":{\"ran\":%s,\"passed\":%s,"
              "\"max_abs_error\":%g,\"tolerance\":0}}\n",
              stage, status, err, max_err >= 0 ? "true" : "false",
              max_err == 0 ? "true" : "false", max_err < 0 ? 0.0 : max_err);
}

int main() {
  const int n = 1 << 20;
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    report("device", "no device", "cudaErrorNoDevice", -1);
    return 0;
  }
  std::vector<float> hx(n), hy(n);
  for (int i = 0; i < n; ++i) hx[i] = float(i % 1000);
  float *x = nullptr, *y = nullptr;
  cudaMalloc(&x, n * sizeof(float));
  cudaMalloc(&y, n * sizeof(float));
  cudaMemcpy(x, hx.data(), n * sizeof(float), cudaMemcpyHostToDevice);
  axpb<4><<<(n / 4 + 255) / 256, 256>>>(x, y, 2.0f, n);
  cudaError_t e = cudaDeviceSynchronize();
  if (e != cudaSuccess) {
    report("run", "kernel failed", cudaGetErrorName(e), -1);
    return 0;
  }
  cudaMemcpy(hy.data(), y, n * sizeof(float), cudaMemcpyDeviceToHost);
  double worst = 0;
  for (int i = 0; i < n; ++i) worst = std::fmax(worst, std::fabs(hy[i] - (2.0f * hx[i] + KIT_VARIANT)));
  report(worst == 0 ? "done" : "verify", "Success", "cudaSuccess", worst);
  return 0;
}
