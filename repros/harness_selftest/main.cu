// harness_selftest: a seconds-to-compile kernel that exercises kit's plumbing for real.
//
// It checks that a cell compiles with the cell's toolchain and CUTLASS headers, reaches the
// GPU, and that kit classifies what a kernel can do to it: verify (ok), a wrong result, a
// hang (kit must kill it: timeout) and an abort (crash with the signal). Not a CUTLASS bug
// repro: keep it out of matrices meant for upstream.
//
// KIT_MODE: 0 = ok, 1 = wrong result, 2 = hang, 3 = abort
#include <cstdlib>
#include <vector>

#include "kit_harness.h"

#ifndef KIT_MODE
#define KIT_MODE 0
#endif

__global__ void axpy(int n, float a, const float* x, float* y) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = a * x[i] + y[i];
}

__global__ void spin_until(volatile int* flag) {
  while (*flag == 0) {
  }
}

int main(int argc, char** argv) {
  kit::Report r;
  int n = argc > 1 ? std::atoi(argv[1]) : (1 << 20);
  r.problem = "{\"n\":" + std::to_string(n) + "}";
  if (!kit::probe_device(r)) {
    r.emit();
    return 0;
  }
  if (KIT_MODE == 3) std::abort();

  std::vector<float> x(n), y(n);
  for (int i = 0; i < n; ++i) {
    x[i] = static_cast<float>(i % 17);
    y[i] = static_cast<float>(i % 5);
  }
  kit::LayoutDigest digest;
  digest.add(&n, sizeof n);
  r.layout_digest = digest.hex();
  r.layout_bytes = digest.bytes;

  float *dx = nullptr, *dy = nullptr;
  r.stage = "run";
  cudaMalloc(&dx, n * sizeof(float));
  cudaMalloc(&dy, n * sizeof(float));
  cudaMemcpy(dx, x.data(), n * sizeof(float), cudaMemcpyHostToDevice);
  cudaMemcpy(dy, y.data(), n * sizeof(float), cudaMemcpyHostToDevice);
  axpy<<<(n + 255) / 256, 256>>>(n, 2.0f, dx, dy);
  if (KIT_MODE == 2) {
    int* flag = nullptr;
    cudaMalloc(&flag, sizeof(int));
    cudaMemset(flag, 0, sizeof(int));
    spin_until<<<1, 1>>>(flag);  // never released: kit's timeout must end this process
  }
  r.cuda_error = cudaDeviceSynchronize();
  r.status = r.cuda_error == cudaSuccess ? "Success" : "Error Internal";
  r.status_code = r.cuda_error == cudaSuccess ? 0 : -1;
  if (r.cuda_error != cudaSuccess) {
    r.emit();
    return 0;
  }
  std::vector<float> out(n);
  cudaMemcpy(out.data(), dy, n * sizeof(float), cudaMemcpyDeviceToHost);

  r.stage = "verify";
  r.verify.ran = true;
  r.verify.tolerance = 0.0;
  double worst = 0.0;
  for (int i = 0; i < n; ++i) {
    float expect = 2.0f * x[i] + y[i] + (KIT_MODE == 1 && i == n / 2 ? 1.0f : 0.0f);
    double err = std::fabs(static_cast<double>(out[i]) - expect);
    worst = err > worst ? err : worst;
  }
  r.verify.max_abs_error = worst;
  r.verify.checked = static_cast<std::size_t>(n);
  r.verify.passed = worst <= r.verify.tolerance;
  if (r.verify.passed) r.stage = "done";
  cudaFree(dx);
  cudaFree(dy);
  r.emit();
  return 0;
}
