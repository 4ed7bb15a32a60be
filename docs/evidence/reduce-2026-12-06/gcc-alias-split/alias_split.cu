// nvcc registers one kernel and g++ launches another: a host/device type split with no CUTLASS.
//
// `Int` converts its argument to int, so Shape<Int<k>> must be tuple<C<128>> (int) for every
// compiler. EDG (nvcc's front end, which names the kernel it registers) and clang++ say so;
// g++ 12.2 and 13.3 make it tuple<C<128u>> when k is `static constexpr auto` whose type depends
// on a template parameter and Int<k> sits inside another alias template (Shape). Launched from
// a function template, the kernel cudafe++ registers (spelled by EDG, C<128>) is not the one
// g++ instantiates and launches (C<128u>): the launch finds no kernel image.
//
//   nvcc -arch=sm_90a -o split alias_split.cu && ./split                 fails
//   nvcc -arch=sm_90a -o twin alias_split.cu -DTWIN=1 && ./twin          passes
//
// The twin differs in one line: k is declared `unsigned` instead of `auto`.
#include <cstdio>

template <auto v> struct C {};
template <int v> using Int = C<v>;
template <class... T> struct tuple {};
template <class... T> using Shape = tuple<T...>;

template <class E> struct Bits { static constexpr int value = 8 * sizeof(E); };

template <class E> struct Tile {
#if TWIN
  static constexpr unsigned k = 1024u / Bits<E>::value;  // the twin: the type does not depend on E
#else
  static constexpr auto k = 1024u / Bits<E>::value;      // unsigned int, its type depends on E
#endif
  using Shape_ = Shape<Int<k>>;
};

template <class T> struct Op {
  struct Params { int* out; };
};

template <class Operator> __global__ void device_kernel(typename Operator::Params p) { *p.out = 42; }

template <int Dummy> int run() {  // the kernel's types inside a function template
  using Kernel = Op<typename Tile<char>::Shape_>;
  int* out = nullptr;
  cudaMalloc(&out, sizeof(int));
  cudaMemset(out, 0, sizeof(int));
  cudaFuncAttributes attr{};
  cudaError_t e = cudaFuncGetAttributes(&attr, device_kernel<Kernel>);
  std::printf("cudaFuncGetAttributes: %s\n", cudaGetErrorName(e));
  device_kernel<Kernel><<<1, 1>>>(typename Kernel::Params{out});
  cudaError_t launch = cudaGetLastError();
  cudaError_t sync = cudaDeviceSynchronize();
  int host = 0;
  cudaMemcpy(&host, out, sizeof(int), cudaMemcpyDeviceToHost);
  std::printf("launch: %s, sync: %s, kernel wrote %d\n", cudaGetErrorName(launch),
              cudaGetErrorName(sync), host);
  bool ok = e == cudaSuccess && launch == cudaSuccess && sync == cudaSuccess && host == 42;
  std::printf("Disposition: %s\n", ok ? "Passed" : "Failed");  // as CUTLASS's examples say it
  return ok ? 0 : 1;
}

int main() { return run<0>(); }
