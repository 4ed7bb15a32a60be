// Standalone repro, written the way a user writes one (no kit harness, its own main):
// SM90 FP8 ptr-array grouped GEMM (CUTLASS example 57 style), e4m3 x e4m3 -> fp32 -> fp16.
// Prints `can_implement(): <status>`, `initialize(): <status>`, `run(): <status>` and the
// examples' `Disposition: Passed|Failed` after checking every group against a reference.
//
//   REPRO_PLACEMENT  0: the CUTLASS types inside a plain function ("step21")
//                    1: inside a function template ("step20")
//                    2: at namespace scope ("step22", the default)
//   REPRO_STAGES     a fixed mainloop stage count (default: StageCountAutoCarveout)
//   USE_INT64_SHAPE  int64_t problem shapes instead of int
//
// nvcc -std=c++17 --expt-relaxed-constexpr -O2 -gencode arch=compute_90a,code=sm_90a \
//      -I<cutlass>/include -I<cutlass>/tools/util/include repro_sm90_fp8_grouped_init.cu

#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "cute/tensor.hpp"
#include "cutlass/cutlass.h"
#include "cutlass/epilogue/collective/collective_builder.hpp"
#include "cutlass/gemm/collective/collective_builder.hpp"
#include "cutlass/gemm/device/gemm_universal_adapter.h"
#include "cutlass/gemm/dispatch_policy.hpp"
#include "cutlass/gemm/group_array_problem_shape.hpp"
#include "cutlass/gemm/kernel/gemm_universal.hpp"
#include "cutlass/util/packed_stride.hpp"
#include "helper.h"

#ifndef REPRO_PLACEMENT
#define REPRO_PLACEMENT 2
#endif

#ifdef USE_INT64_SHAPE
using Index = int64_t;
#else
using Index = int;
#endif

using ProblemShape = cutlass::gemm::GroupProblemShape<cute::Shape<Index, Index, Index>>;
using ElementA = cutlass::float_e4m3_t;
using ElementB = cutlass::float_e4m3_t;
using ElementC = cutlass::half_t;
using LayoutA = cutlass::layout::RowMajor;
using LayoutB = cutlass::layout::ColumnMajor;
using LayoutC = cutlass::layout::ColumnMajor;
using TileShape = cute::Shape<cute::_128, cute::_128, cute::_128>;
using ClusterShape = cute::Shape<cute::_1, cute::_1, cute::_1>;

#ifdef REPRO_STAGES
#define STAGES(EPI) cutlass::gemm::collective::StageCount<REPRO_STAGES>
#else
#define STAGES(EPI) \
  cutlass::gemm::collective::StageCountAutoCarveout<static_cast<int>(sizeof(typename EPI::SharedStorage))>
#endif

#define GEMM_TYPES                                                                              \
  using Epilogue = typename cutlass::epilogue::collective::CollectiveBuilder<                   \
      cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, TileShape, ClusterShape,             \
      cutlass::epilogue::collective::EpilogueTileAuto, float, float, ElementC, LayoutC*, 8,     \
      ElementC, LayoutC*, 8, cutlass::epilogue::PtrArrayTmaWarpSpecializedCooperative,          \
      cutlass::epilogue::fusion::LinearCombination<ElementC, float, ElementC, float>>::CollectiveOp; \
  using Mainloop = typename cutlass::gemm::collective::CollectiveBuilder<                       \
      cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, ElementA, LayoutA*, 16, ElementB,    \
      LayoutB*, 16, float, TileShape, ClusterShape, STAGES(Epilogue),                           \
      cutlass::gemm::KernelPtrArrayTmaWarpSpecializedCooperative>::CollectiveOp;                \
  using Kernel = cutlass::gemm::kernel::GemmUniversal<ProblemShape, Mainloop, Epilogue>;        \
  using Gemm = cutlass::gemm::device::GemmUniversalAdapter<Kernel>;

__global__ void reference(int M, int N, int K, const float* A, const float* B, float* D) {
  int m = blockIdx.x * blockDim.x + threadIdx.x, n = blockIdx.y * blockDim.y + threadIdx.y;
  if (m >= M || n >= N) return;
  float acc = 0.f;
  for (int k = 0; k < K; ++k) acc += A[size_t(m) * K + k] * B[size_t(n) * K + k];
  D[size_t(n) * M + m] = __half2float(__float2half_rn(acc));
}

template <class T>
T* upload(const std::vector<T>& host) {
  T* d = nullptr;
  CUDA_CHECK(cudaMalloc(&d, host.size() * sizeof(T)));
  CUDA_CHECK(cudaMemcpy(d, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
  return d;
}

template <class Gemm>
int run_grouped() {
  using Kernel = typename Gemm::GemmKernel;
  using Shape = typename ProblemShape::UnderlyingProblemShape;
  using StrideA = typename Kernel::InternalStrideA;
  using StrideB = typename Kernel::InternalStrideB;
  using StrideC = typename Kernel::InternalStrideC;
  const int groups = 4, N = 512, K = 512;
  std::printf("kernel shared storage: %d B\n", int(sizeof(typename Kernel::SharedStorage)));

  std::vector<Shape> shapes;
  std::vector<StrideA> sa;
  std::vector<StrideB> sb;
  std::vector<StrideC> sc;
  std::vector<int> ms;
  size_t na = 0, nb = 0, nc = 0;
  std::vector<size_t> oa, ob, oc;
  for (int g = 0; g < groups; ++g) {
    int M = 256 - 16 * g;
    ms.push_back(M);
    shapes.push_back(Shape{M, N, K});
    sa.push_back(cutlass::make_cute_packed_stride(StrideA{}, {M, K, 1}));
    sb.push_back(cutlass::make_cute_packed_stride(StrideB{}, {N, K, 1}));
    sc.push_back(cutlass::make_cute_packed_stride(StrideC{}, {M, N, 1}));
    oa.push_back(na), ob.push_back(nb), oc.push_back(nc);
    na += size_t(M) * K, nb += size_t(N) * K, nc += size_t(M) * N;
  }
  std::vector<float> af(na), bf(nb);
  std::vector<ElementA> a(na);
  std::vector<ElementB> b(nb);
  for (size_t i = 0; i < na; ++i) af[i] = float(int(i * 7 % 5) - 2), a[i] = ElementA(af[i]);
  for (size_t i = 0; i < nb; ++i) bf[i] = float(int(i * 3 % 5) - 2), b[i] = ElementB(bf[i]);
  ElementA* da = upload(a);
  ElementB* db = upload(b);
  ElementC* dd = upload(std::vector<ElementC>(nc, ElementC(0)));
  std::vector<const ElementA*> pa;
  std::vector<const ElementB*> pb;
  std::vector<ElementC*> pd;
  for (int g = 0; g < groups; ++g) pa.push_back(da + oa[g]), pb.push_back(db + ob[g]), pd.push_back(dd + oc[g]);
  auto d_shapes = upload(shapes);
  auto d_pa = upload(pa);
  auto d_pb = upload(pb);
  auto d_pd = upload(pd);
  auto d_sa = upload(sa);
  auto d_sb = upload(sb);
  auto d_sc = upload(sc);

  cutlass::KernelHardwareInfo hw;
  hw.device_id = 0;
  hw.sm_count = cutlass::KernelHardwareInfo::query_device_multiprocessor_count(0);
  typename Gemm::Arguments args;
  args.mode = cutlass::gemm::GemmUniversalMode::kGrouped;
  args.problem_shape = ProblemShape{groups, d_shapes, shapes.data()};
  args.mainloop = {d_pa, d_sa, d_pb, d_sb};
  args.epilogue.ptr_C = nullptr;
  args.epilogue.dC = d_sc;
  args.epilogue.ptr_D = d_pd;
  args.epilogue.dD = d_sc;
  args.epilogue.thread.alpha = 1.0f;
  args.epilogue.thread.beta = 0.0f;
  args.hw_info = hw;

  Gemm gemm;
  cutlass::Status status = gemm.can_implement(args);
  std::printf("can_implement(): %s\n", cutlassGetStatusString(status));
  if (status != cutlass::Status::kSuccess) return 1;
  size_t workspace_size = Gemm::get_workspace_size(args);
  void* workspace = nullptr;
  CUDA_CHECK(cudaMalloc(&workspace, workspace_size ? workspace_size : 1));
  status = gemm.initialize(args, workspace);
  std::printf("initialize(): %s\n", cutlassGetStatusString(status));
  if (status != cutlass::Status::kSuccess) return 1;
  status = gemm.run();
  std::printf("run(): %s\n", cutlassGetStatusString(status));
  if (status != cutlass::Status::kSuccess) return 1;
  CUDA_CHECK(cudaDeviceSynchronize());

  float* daf = upload(af);
  float* dbf = upload(bf);
  float* dref = upload(std::vector<float>(nc, 0.f));
  for (int g = 0; g < groups; ++g) {
    dim3 block(16, 16), grid((ms[g] + 15) / 16, (N + 15) / 16);
    reference<<<grid, block>>>(ms[g], N, K, daf + oa[g], dbf + ob[g], dref + oc[g]);
  }
  CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<ElementC> d(nc);
  std::vector<float> ref(nc);
  CUDA_CHECK(cudaMemcpy(d.data(), dd, nc * sizeof(ElementC), cudaMemcpyDeviceToHost));
  CUDA_CHECK(cudaMemcpy(ref.data(), dref, nc * sizeof(float), cudaMemcpyDeviceToHost));
  double worst = 0;
  for (size_t i = 0; i < nc; ++i) worst = std::fmax(worst, std::fabs(float(d[i]) - ref[i]));
  std::printf("max abs error: %g\n", worst);
  std::printf("Disposition: %s\n", worst <= 0.5 ? "Passed" : "Failed");
  return worst <= 0.5 ? 0 : 1;
}

#if REPRO_PLACEMENT == 0
int run_case() {
  GEMM_TYPES
  return run_grouped<Gemm>();
}
#elif REPRO_PLACEMENT == 1
template <int Unused>
int run_case_t() {
  GEMM_TYPES
  return run_grouped<Gemm>();
}
int run_case() { return run_case_t<0>(); }
#else
namespace at_namespace {
GEMM_TYPES
}
int run_case() { return run_grouped<at_namespace::Gemm>(); }
#endif

int main(int argc, char** argv) {
  if (argc > 1) {
    std::printf("usage: %s   (no options; initialize() may report Error Internal when the\n"
                "  stage count asks for more shared memory than the GPU allows)\n", argv[0]);
    return 0;
  }
  if (!print_device()) return 1;
  return run_case();
}
