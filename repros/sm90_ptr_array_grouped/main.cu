// kit repro: SM90 (Hopper) ptr-array grouped GEMM, FP8 e4m3 x e4m3 -> fp32 accum -> fp16 D.
//
// A RowMajor (K-major), B ColumnMajor (K-major), C/D ColumnMajor fp16, GroupProblemShape,
// TMA warp-specialized ptr-array kernel (cooperative or pingpong), cluster 1x1x1.
// D = alpha * A*B + beta * C with alpha = beta = 1.
//
// Knobs (each an integer -D macro; see repro.yaml / README.md):
//   KIT_PLACEMENT  0 = non_template      the CUTLASS `using` chain lives in a plain function
//                  1 = function_template the same chain inside `template <int Dummy> int run_case(...)`
//                  2 = namespace_scope   the chain at namespace scope, `template <class Gemm> run_case`
//   KIT_SHAPE      0 = int, 1 = int64    index type of GroupProblemShape<cute::Shape<T,T,T>>
//   KIT_SCHEDULE   0 = cooperative, 1 = pingpong
//   KIT_STAGES     0 = StageCountAutoCarveout<sizeof(epilogue SharedStorage)>, N = StageCount<N>
//   KIT_TILE_M/N/K CTA tile shape
//   KIT_SIZES_ONLY (optional) host-only: print shared-storage sizes as `KIT_SIZES {json}` and exit;
//                  no kernel is referenced, so it needs no GPU and builds quickly.
//
// The `using` chain is written once (KIT_GEMM_TYPES); the three placements differ only in where
// it is expanded. All argument plumbing is in `template <class Gemm> int run_grouped(...)`.

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cutlass/cutlass.h"
#include "cute/tensor.hpp"
#include "cutlass/epilogue/collective/collective_builder.hpp"
#include "cutlass/epilogue/thread/linear_combination.h"
#include "cutlass/gemm/collective/collective_builder.hpp"
#include "cutlass/gemm/device/gemm_universal_adapter.h"
#include "cutlass/gemm/dispatch_policy.hpp"
#include "cutlass/gemm/group_array_problem_shape.hpp"
#include "cutlass/gemm/kernel/gemm_universal.hpp"
#include "cutlass/util/packed_stride.hpp"

#include "kit_args.h"
#include "kit_harness.h"

#ifndef KIT_PLACEMENT
#define KIT_PLACEMENT 2
#endif
#ifndef KIT_SHAPE
#define KIT_SHAPE 0
#endif
#ifndef KIT_SCHEDULE
#define KIT_SCHEDULE 0
#endif
#ifndef KIT_STAGES
#define KIT_STAGES 0
#endif
#ifndef KIT_TILE_M
#define KIT_TILE_M 128
#endif
#ifndef KIT_TILE_N
#define KIT_TILE_N 128
#endif
#ifndef KIT_TILE_K
#define KIT_TILE_K 128
#endif

#if KIT_PLACEMENT < 0 || KIT_PLACEMENT > 2
#error "KIT_PLACEMENT must be 0 (non_template), 1 (function_template) or 2 (namespace_scope)"
#endif
#if KIT_SHAPE != 0 && KIT_SHAPE != 1
#error "KIT_SHAPE must be 0 (int) or 1 (int64)"
#endif
#if KIT_SCHEDULE != 0 && KIT_SCHEDULE != 1
#error "KIT_SCHEDULE must be 0 (cooperative) or 1 (pingpong)"
#endif
#if KIT_STAGES < 0
#error "KIT_STAGES must be 0 (auto) or a positive stage count"
#endif

/////////////////////////////////////////////////////////////////////////////////////////////////
// Fixed configuration (not part of the knob-dependent chain).

namespace kitcfg {

#if KIT_SHAPE == 0
using ShapeIndex = int;
#else
using ShapeIndex = int64_t;
#endif
using ProblemShape = cutlass::gemm::GroupProblemShape<cute::Shape<ShapeIndex, ShapeIndex, ShapeIndex>>;

using ElementA = cutlass::float_e4m3_t;
using ElementB = cutlass::float_e4m3_t;
using ElementC = cutlass::half_t;
using ElementD = cutlass::half_t;
using ElementAccumulator = float;
using ElementCompute = float;

using LayoutA = cutlass::layout::RowMajor;
using LayoutB = cutlass::layout::ColumnMajor;
using LayoutC = cutlass::layout::ColumnMajor;
using LayoutD = cutlass::layout::ColumnMajor;

constexpr int AlignmentA = 128 / cutlass::sizeof_bits<ElementA>::value;  // 16 elements = 16 B
constexpr int AlignmentB = 128 / cutlass::sizeof_bits<ElementB>::value;
constexpr int AlignmentC = 128 / cutlass::sizeof_bits<ElementC>::value;  // 8 elements = 16 B
constexpr int AlignmentD = 128 / cutlass::sizeof_bits<ElementD>::value;

using ArchTag = cutlass::arch::Sm90;
using OperatorClass = cutlass::arch::OpClassTensorOp;
using TileShape = cute::Shape<cute::Int<KIT_TILE_M>, cute::Int<KIT_TILE_N>, cute::Int<KIT_TILE_K>>;
using ClusterShape = cute::Shape<cute::_1, cute::_1, cute::_1>;

#if KIT_SCHEDULE == 0
using KernelSchedule = cutlass::gemm::KernelPtrArrayTmaWarpSpecializedCooperative;
using EpilogueSchedule = cutlass::epilogue::PtrArrayTmaWarpSpecializedCooperative;
#else
using KernelSchedule = cutlass::gemm::KernelPtrArrayTmaWarpSpecializedPingpong;
using EpilogueSchedule = cutlass::epilogue::PtrArrayTmaWarpSpecializedPingpong;
#endif

}  // namespace kitcfg

#if KIT_STAGES == 0
#define KIT_STAGE_COUNT(EPI)                        \
  cutlass::gemm::collective::StageCountAutoCarveout< \
      static_cast<int>(sizeof(typename EPI::SharedStorage))>
#else
#define KIT_STAGE_COUNT(EPI) cutlass::gemm::collective::StageCount<KIT_STAGES>
#endif

// The CUTLASS type chain, written once. Expanded at namespace scope, inside a plain function or
// inside a function template depending on KIT_PLACEMENT.
#define KIT_GEMM_TYPES                                                                          \
  using CollectiveEpilogue = typename cutlass::epilogue::collective::CollectiveBuilder<         \
      kitcfg::ArchTag, kitcfg::OperatorClass, kitcfg::TileShape, kitcfg::ClusterShape,          \
      cutlass::epilogue::collective::EpilogueTileAuto, kitcfg::ElementAccumulator,              \
      kitcfg::ElementCompute, kitcfg::ElementC, kitcfg::LayoutC*, kitcfg::AlignmentC,           \
      kitcfg::ElementD, kitcfg::LayoutD*, kitcfg::AlignmentD, kitcfg::EpilogueSchedule,         \
      cutlass::epilogue::fusion::LinearCombination<kitcfg::ElementD, kitcfg::ElementCompute,    \
                                                   kitcfg::ElementC,                            \
                                                   kitcfg::ElementCompute>>::CollectiveOp;      \
  using CollectiveMainloop = typename cutlass::gemm::collective::CollectiveBuilder<             \
      kitcfg::ArchTag, kitcfg::OperatorClass, kitcfg::ElementA, kitcfg::LayoutA*,               \
      kitcfg::AlignmentA, kitcfg::ElementB, kitcfg::LayoutB*, kitcfg::AlignmentB,               \
      kitcfg::ElementAccumulator, kitcfg::TileShape, kitcfg::ClusterShape,                      \
      KIT_STAGE_COUNT(CollectiveEpilogue), kitcfg::KernelSchedule>::CollectiveOp;               \
  using GemmKernel = cutlass::gemm::kernel::GemmUniversal<kitcfg::ProblemShape,                 \
                                                          CollectiveMainloop, CollectiveEpilogue>; \
  using Gemm = cutlass::gemm::device::GemmUniversalAdapter<GemmKernel>;

/////////////////////////////////////////////////////////////////////////////////////////////////
// Command line

struct Options {  // long long: kit::parse_args writes them
  long long groups = 4;
  long long m = 256, n = 512, k = 512;
  long long seed = 2024;
};

static void usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--groups G] [--m M] [--n N] [--k K] [--seed S]\n"
               "  (also --name=value). Defaults: --groups 4 --m 256 --n 512 --k 512 --seed 2024\n"
               "  m, n, k: positive multiples of 16; group g uses m_g = max(16, m - 16*(g %% 4)).\n"
               "  groups: 1..4096.\n",
               argv0);
}

// Returns -1 to go on, otherwise the exit code (0 after --help, 2 after a mistake).
static int parse_args(int argc, char** argv, Options& o) {
  return kit::parse_args(argc, argv,
                         {{"groups", &o.groups, 1, 4096},
                          {"m", &o.m, 16, 1 << 20, 16},
                          {"n", &o.n, 16, 1 << 20, 16},
                          {"k", &o.k, 16, 1 << 20, 16},
                          {"seed", &o.seed, 0, 1LL << 62}},
                         usage);
}

/////////////////////////////////////////////////////////////////////////////////////////////////
// Deterministic inputs: small integers in {-2,-1,0,1,2}; exact in e4m3, fp16 and fp32.

static inline std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static inline float small_int(std::uint64_t seed, std::uint64_t tensor, std::uint64_t idx) {
  std::uint64_t h = splitmix64(seed ^ splitmix64((tensor << 56) ^ idx));
  return static_cast<float>(static_cast<int>(h % 5ull) - 2);
}

/////////////////////////////////////////////////////////////////////////////////////////////////
// Reference: one naive fp32 GEMM per group, written without CUTLASS (own index math).
//   A row-major M x K (lda = K), B column-major K x N (ldb = K), C/D column-major M x N (ld = M).
//   D_ref = fp16_round(alpha * sum_k A*B + beta * C), stored as float.

__global__ void kit_reference_gemm(int M, int N, int K, const float* A, const float* B,
                                   const float* C, float alpha, float beta, float* D) {
  int m = blockIdx.x * blockDim.x + threadIdx.x;
  int n = blockIdx.y * blockDim.y + threadIdx.y;
  if (m >= M || n >= N) return;
  const float* a = A + static_cast<std::size_t>(m) * K;
  const float* b = B + static_cast<std::size_t>(n) * K;
  float acc = 0.f;
  for (int kk = 0; kk < K; ++kk) acc += a[kk] * b[kk];
  std::size_t o = static_cast<std::size_t>(n) * M + m;
  float v = alpha * acc + beta * C[o];
  D[o] = __half2float(__float2half_rn(v));
}

/////////////////////////////////////////////////////////////////////////////////////////////////
// Device memory owner (frees on every return path).

struct DevBuf {
  void* p = nullptr;
  DevBuf() = default;
  DevBuf(const DevBuf&) = delete;
  DevBuf& operator=(const DevBuf&) = delete;
  ~DevBuf() {
    if (p) cudaFree(p);
  }
  cudaError_t alloc(std::size_t bytes) { return cudaMalloc(&p, bytes ? bytes : 1); }
  template <class T>
  T* as() const {
    return static_cast<T*>(p);
  }
};

template <class T>
static cudaError_t upload(DevBuf& buf, const std::vector<T>& host) {
  cudaError_t e = buf.alloc(host.size() * sizeof(T));
  if (e != cudaSuccess) return e;
  if (host.empty()) return cudaSuccess;
  return cudaMemcpy(buf.p, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice);
}

static int setup_failed(kit::Report& r, cudaError_t e, const char* what) {
  r.stage = "setup";
  r.cuda_error = e;
  r.note = what;
  r.emit();
  return 0;
}

static const char* kit_placement_name() {
#if KIT_PLACEMENT == 0
  return "non_template";
#elif KIT_PLACEMENT == 1
  return "function_template";
#else
  return "namespace_scope";
#endif
}

/////////////////////////////////////////////////////////////////////////////////////////////////
// Shared runner: builds every argument for Gemm and hands it to the harness.

template <class Gemm>
int run_grouped(const Options& opt, kit::Report& report) {
  using GemmKernel = typename Gemm::GemmKernel;
  using CollectiveMainloop = typename GemmKernel::CollectiveMainloop;
  using CollectiveEpilogue = typename GemmKernel::CollectiveEpilogue;
  using ProblemShape = typename GemmKernel::ProblemShape;
  using UnderlyingShape = typename ProblemShape::UnderlyingProblemShape;
  using ElementA = typename GemmKernel::ElementA;
  using ElementB = typename GemmKernel::ElementB;
  using ElementC = typename GemmKernel::ElementC;
  using ElementD = typename GemmKernel::ElementD;
  using StrideA = typename GemmKernel::InternalStrideA;
  using StrideB = typename GemmKernel::InternalStrideB;
  using StrideC = typename GemmKernel::InternalStrideC;
  using StrideD = typename GemmKernel::InternalStrideD;

  constexpr int kStages = CollectiveMainloop::DispatchPolicy::Stages;
  constexpr long long kMainloopTensor = sizeof(typename CollectiveMainloop::TensorStorage);
  constexpr long long kEpilogueShared = sizeof(typename CollectiveEpilogue::SharedStorage);
  constexpr long long kKernelShared = sizeof(typename GemmKernel::SharedStorage);

  char cfg[256];
  std::snprintf(cfg, sizeof cfg,
                "placement=%s mainloop_stages=%d mainloop_tensor_smem=%lld epilogue_smem=%lld "
                "kernel_smem=%lld",
                kit_placement_name(), kStages, kMainloopTensor, kEpilogueShared, kKernelShared);

#ifdef KIT_SIZES_ONLY
  (void)opt;
  (void)report;
  std::printf(
      "KIT_SIZES {\"repro\":%s,\"knobs\":%s,\"tile\":[%d,%d,%d],\"schedule\":%s,"
      "\"stages\":%d,\"mainloop_tensor_storage\":%lld,\"mainloop_shared_storage\":%lld,"
      "\"epilogue_shared_storage\":%lld,\"kernel_shared_storage\":%lld,"
      "\"sm90_optin_limit\":232448,\"overflows\":%s,\"shape_index_bytes\":%d}\n",
      kit::q(KIT_REPRO).c_str(), kit::Report::knobs_json().c_str(), KIT_TILE_M, KIT_TILE_N,
      KIT_TILE_K, KIT_SCHEDULE == 0 ? "\"cooperative\"" : "\"pingpong\"", kStages,
      kMainloopTensor, static_cast<long long>(sizeof(typename CollectiveMainloop::SharedStorage)),
      kEpilogueShared, kKernelShared, kKernelShared > 232448 ? "true" : "false",
      static_cast<int>(sizeof(cute::tuple_element_t<0, UnderlyingShape>)));
  (void)cfg;
  return 0;
#else
  const int G = opt.groups;

  // ---- problem shapes (host), per-group strides and offsets ---------------------------------
  std::vector<UnderlyingShape> shapes_host;
  std::vector<StrideA> stride_a_host;
  std::vector<StrideB> stride_b_host;
  std::vector<StrideC> stride_c_host;
  std::vector<StrideD> stride_d_host;
  std::vector<std::size_t> off_a, off_b, off_c;  // D uses off_c
  std::vector<int> gm(G), gn(G), gk(G);
  std::size_t total_a = 0, total_b = 0, total_c = 0;
  std::string shapes_json = "[";
  for (int g = 0; g < G; ++g) {
    int M = opt.m - 16 * (g % 4);
    if (M < 16) M = 16;
    int N = opt.n, K = opt.k;
    gm[g] = M;
    gn[g] = N;
    gk[g] = K;
    shapes_host.push_back(UnderlyingShape{M, N, K});
    stride_a_host.push_back(cutlass::make_cute_packed_stride(StrideA{}, {M, K, 1}));
    stride_b_host.push_back(cutlass::make_cute_packed_stride(StrideB{}, {N, K, 1}));
    stride_c_host.push_back(cutlass::make_cute_packed_stride(StrideC{}, {M, N, 1}));
    stride_d_host.push_back(cutlass::make_cute_packed_stride(StrideD{}, {M, N, 1}));
    off_a.push_back(total_a);
    off_b.push_back(total_b);
    off_c.push_back(total_c);
    total_a += static_cast<std::size_t>(M) * K;
    total_b += static_cast<std::size_t>(K) * N;
    total_c += static_cast<std::size_t>(M) * N;
    shapes_json += (g ? ",[" : "[") + std::to_string(M) + "," + std::to_string(N) + "," +
                   std::to_string(K) + "]";
  }
  shapes_json += "]";

  const float alpha = 1.0f, beta = 1.0f;

  kit::LayoutDigest digest;
  digest.add_all(shapes_host);
  digest.add_all(stride_a_host);
  digest.add_all(stride_b_host);
  digest.add_all(stride_c_host);
  digest.add_all(stride_d_host);
  report.layout_digest = digest.hex();
  report.layout_bytes = digest.bytes;
  report.problem = "{\"groups\":" + std::to_string(G) + ",\"m\":" + std::to_string(opt.m) +
                   ",\"n\":" + std::to_string(opt.n) + ",\"k\":" + std::to_string(opt.k) +
                   ",\"seed\":" + std::to_string(opt.seed) + ",\"alpha\":1,\"beta\":1" +
                   ",\"shapes\":" + shapes_json + "}";
  report.note = cfg;
  report.smem_bytes = kKernelShared;  // run_gemm sets the same value; set early for no-GPU runs

  if (!kit::probe_device(report)) {
    report.emit();
    return 0;
  }

  // ---- host data -----------------------------------------------------------------------------
  std::vector<ElementA> a_host(total_a);
  std::vector<ElementB> b_host(total_b);
  std::vector<ElementC> c_host(total_c);
  std::vector<float> af(total_a), bf(total_b), cf(total_c);
  for (std::size_t i = 0; i < total_a; ++i) {
    af[i] = small_int(opt.seed, 1, i);
    a_host[i] = ElementA(af[i]);
  }
  for (std::size_t i = 0; i < total_b; ++i) {
    bf[i] = small_int(opt.seed, 2, i);
    b_host[i] = ElementB(bf[i]);
  }
  for (std::size_t i = 0; i < total_c; ++i) {
    cf[i] = small_int(opt.seed, 3, i);
    c_host[i] = ElementC(cf[i]);
  }

  // ---- device data ---------------------------------------------------------------------------
  cudaError_t e;
  DevBuf d_a, d_b, d_c, d_d, d_af, d_bf, d_cf, d_ref;
  if ((e = upload(d_a, a_host)) != cudaSuccess) return setup_failed(report, e, "upload A");
  if ((e = upload(d_b, b_host)) != cudaSuccess) return setup_failed(report, e, "upload B");
  if ((e = upload(d_c, c_host)) != cudaSuccess) return setup_failed(report, e, "upload C");
  if ((e = d_d.alloc(total_c * sizeof(ElementD))) != cudaSuccess)
    return setup_failed(report, e, "alloc D");
  // 0xFFFF is a NaN in fp16: any element CUTLASS does not write fails verification.
  if ((e = cudaMemset(d_d.p, 0xFF, total_c * sizeof(ElementD))) != cudaSuccess)
    return setup_failed(report, e, "memset D");
  if ((e = upload(d_af, af)) != cudaSuccess) return setup_failed(report, e, "upload A (ref)");
  if ((e = upload(d_bf, bf)) != cudaSuccess) return setup_failed(report, e, "upload B (ref)");
  if ((e = upload(d_cf, cf)) != cudaSuccess) return setup_failed(report, e, "upload C (ref)");
  if ((e = d_ref.alloc(total_c * sizeof(float))) != cudaSuccess)
    return setup_failed(report, e, "alloc D (ref)");

  // Per-group pointer arrays (device addresses, stored on the device).
  std::vector<const ElementA*> ptr_a_host(G);
  std::vector<const ElementB*> ptr_b_host(G);
  std::vector<const ElementC*> ptr_c_host(G);
  std::vector<ElementD*> ptr_d_host(G);
  for (int g = 0; g < G; ++g) {
    ptr_a_host[g] = d_a.as<ElementA>() + off_a[g];
    ptr_b_host[g] = d_b.as<ElementB>() + off_b[g];
    ptr_c_host[g] = d_c.as<ElementC>() + off_c[g];
    ptr_d_host[g] = d_d.as<ElementD>() + off_c[g];
  }
  DevBuf d_ptr_a, d_ptr_b, d_ptr_c, d_ptr_d, d_stride_a, d_stride_b, d_stride_c, d_stride_d,
      d_shapes;
  if ((e = upload(d_ptr_a, ptr_a_host)) != cudaSuccess) return setup_failed(report, e, "ptr A");
  if ((e = upload(d_ptr_b, ptr_b_host)) != cudaSuccess) return setup_failed(report, e, "ptr B");
  if ((e = upload(d_ptr_c, ptr_c_host)) != cudaSuccess) return setup_failed(report, e, "ptr C");
  if ((e = upload(d_ptr_d, ptr_d_host)) != cudaSuccess) return setup_failed(report, e, "ptr D");
  if ((e = upload(d_stride_a, stride_a_host)) != cudaSuccess)
    return setup_failed(report, e, "stride A");
  if ((e = upload(d_stride_b, stride_b_host)) != cudaSuccess)
    return setup_failed(report, e, "stride B");
  if ((e = upload(d_stride_c, stride_c_host)) != cudaSuccess)
    return setup_failed(report, e, "stride C");
  if ((e = upload(d_stride_d, stride_d_host)) != cudaSuccess)
    return setup_failed(report, e, "stride D");
  if ((e = upload(d_shapes, shapes_host)) != cudaSuccess)
    return setup_failed(report, e, "problem shapes");

  // ---- CUTLASS arguments ---------------------------------------------------------------------
  cutlass::KernelHardwareInfo hw_info;
  hw_info.device_id = 0;
  hw_info.sm_count = report.sm_count;  // cudaDeviceProp::multiProcessorCount of device 0

  typename Gemm::Arguments args;
  args.mode = cutlass::gemm::GemmUniversalMode::kGrouped;
  args.problem_shape = ProblemShape{G, d_shapes.as<UnderlyingShape>(), shapes_host.data()};
  args.mainloop = {d_ptr_a.as<const ElementA*>(), d_stride_a.as<StrideA>(),
                   d_ptr_b.as<const ElementB*>(), d_stride_b.as<StrideB>()};
  args.epilogue.ptr_C = d_ptr_c.as<const ElementC*>();
  args.epilogue.dC = d_stride_c.as<StrideC>();
  args.epilogue.ptr_D = d_ptr_d.as<ElementD*>();
  args.epilogue.dD = d_stride_d.as<StrideD>();
  args.epilogue.thread.alpha = alpha;  // one scalar alpha/beta for every group
  args.epilogue.thread.beta = beta;
  args.epilogue.thread.alpha_ptr = nullptr;
  args.epilogue.thread.beta_ptr = nullptr;
  args.epilogue.thread.alpha_ptr_array = nullptr;
  args.epilogue.thread.beta_ptr_array = nullptr;
  args.hw_info = hw_info;

  // ---- verification (runs after a successful gemm.run()) --------------------------------------
  auto verify = [&](kit::Verify& v) {
    v.ran = true;
    v.passed = false;
    for (int g = 0; g < G; ++g) {
      dim3 block(16, 16);
      dim3 grid((gm[g] + 15) / 16, (gn[g] + 15) / 16);
      kit_reference_gemm<<<grid, block>>>(gm[g], gn[g], gk[g], d_af.as<float>() + off_a[g],
                                          d_bf.as<float>() + off_b[g],
                                          d_cf.as<float>() + off_c[g], alpha, beta,
                                          d_ref.as<float>() + off_c[g]);
    }
    if (cudaDeviceSynchronize() != cudaSuccess) {
      v.max_abs_error = NAN;
      return;
    }
    std::vector<ElementD> d_host(total_c);
    std::vector<float> ref_host(total_c);
    if (cudaMemcpy(d_host.data(), d_d.p, total_c * sizeof(ElementD), cudaMemcpyDeviceToHost) !=
            cudaSuccess ||
        cudaMemcpy(ref_host.data(), d_ref.p, total_c * sizeof(float), cudaMemcpyDeviceToHost) !=
            cudaSuccess) {
      v.max_abs_error = NAN;
      return;
    }
    // Inputs are small integers, so fp32 accumulation is exact and both sides round the same
    // fp32 value to fp16 (round-to-nearest): the expected error is 0. Bound per element:
    // 0.5 + |ref| / 1024 (half an integer step plus one fp16 ulp at |ref|).
    const double tol_abs = 0.5, tol_rel = 1.0 / 1024.0;
    double max_err = 0.0, max_ref = 0.0;
    bool ok = true, saw_nan = false;
    for (std::size_t i = 0; i < total_c; ++i) {
      double d = static_cast<float>(d_host[i]);
      double r = ref_host[i];
      double err = std::fabs(d - r);
      if (!(err <= tol_abs + tol_rel * std::fabs(r))) ok = false;  // NaN fails here
      if (std::isnan(err)) saw_nan = true;
      else if (err > max_err) max_err = err;
      if (std::fabs(r) > max_ref) max_ref = std::fabs(r);
    }
    v.max_abs_error = saw_nan ? NAN : max_err;  // emitted as null when not finite
    v.tolerance = tol_abs + tol_rel * max_ref;
    v.checked = total_c;
    v.passed = ok;
  };

  return kit::run_gemm<Gemm>(report, args, verify);
#endif
}

/////////////////////////////////////////////////////////////////////////////////////////////////
// The three placements of the type chain.

#if KIT_PLACEMENT == 0
// step21: the chain inside a plain (non-template) function.
int run_case(const Options& opt, kit::Report& report) {
  KIT_GEMM_TYPES
  return run_grouped<Gemm>(opt, report);
}
#define KIT_RUN_CASE(opt, report) run_case(opt, report)

#elif KIT_PLACEMENT == 1
// step20: the same chain inside a function template, instantiated once.
template <int Dummy>
int run_case(const Options& opt, kit::Report& report) {
  KIT_GEMM_TYPES
  return run_grouped<Gemm>(opt, report);
}
#define KIT_RUN_CASE(opt, report) run_case<0>(opt, report)

#else
// step22: the chain at namespace scope, used from a templated runner.
namespace kitns {
KIT_GEMM_TYPES
}  // namespace kitns

template <class G>
int run_case(const Options& opt, kit::Report& report) {
  return run_grouped<G>(opt, report);
}
#define KIT_RUN_CASE(opt, report) run_case<kitns::Gemm>(opt, report)
#endif

int main(int argc, char** argv) {
  Options opt;
  int rc = parse_args(argc, argv, opt);
  if (rc >= 0) return rc;
  kit::Report report;
  return KIT_RUN_CASE(opt, report);
}
