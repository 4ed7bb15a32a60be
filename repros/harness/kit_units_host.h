// kit units, host side: the main() of the per_arch build layout (README "Build structure"), shared
// by every repro that has one: its host.cu calls kit::units::host_main and is compiled ONCE, with a
// -gencode for every arch of the cell. The GEMM lives in the per-arch units (gemm_tu.cu = main.cu with KIT_AS_UNIT),
// which register their entry in kit::units::registry() keyed by KIT_TU_ARCH. host_main parses no arguments:
// it picks the unit for the running device's SM (exact match, then an any-arch unit) and hands it argc/argv.
// Before dispatching it launches kit::units::fill_kernel<uint16_t> once (a non-static __global__ template
// that every unit also instantiates) and records the outcome; the unit puts it in its KIT_RESULT note.
#pragma once

#include <cuda_runtime.h>
#include <cstdint>
#include <string>
#include <vector>
#include "kit_harness.h"
#include "kit_units.h"

namespace kit {

namespace units {
inline void host_fill_probe(kit::units::HostState& hs) {
  const std::size_t n = 4096;
  const uint16_t v = 0xABCD;
  uint16_t* d = nullptr;
  hs.fill_tried = true;
  hs.fill_error = cudaMalloc(&d, n * sizeof(uint16_t));
  if (hs.fill_error == cudaSuccess) {
    kit::units::fill_kernel<uint16_t><<<kit::units::fill_blocks(n), 256>>>(d, n, v);
    hs.fill_error = cudaGetLastError();
    if (hs.fill_error == cudaSuccess) hs.fill_error = cudaDeviceSynchronize();
    if (hs.fill_error == cudaSuccess) {
      std::vector<uint16_t> h(n, 0);
      hs.fill_error = cudaMemcpy(h.data(), d, n * sizeof(uint16_t), cudaMemcpyDeviceToHost);
      hs.fill_ok = hs.fill_error == cudaSuccess;
      for (uint16_t x : h) hs.fill_ok = hs.fill_ok && x == v;
    }
    cudaFree(d);
  }
  cudaGetLastError();  // the unit starts from a clean (non-sticky) error state
}

inline int host_main(int argc, char** argv) {
  kit::units::HostState& hs = kit::units::host_state();
  const std::vector<kit::units::Unit>& units = kit::units::registry();
  kit::Report r;
  if (units.empty()) {
    r.stage = "dispatch";
    r.note = "no unit registered in this binary";
    r.emit();
    return 0;
  }
  if (!kit::probe_device(r)) {
    // No usable GPU: run a unit anyway (any-arch first, else the first registered) so the line is the
    // single layout's "device" line (smem_bytes, layout_digest) rather than a dispatch error.
    const kit::units::Unit* u = kit::units::find(0);
    if (u == nullptr) u = &units.front();
    hs.entry_arch = u->arch;
    hs.dispatched = true;
    cudaGetLastError();
    return u->entry(argc, argv);
  }
  const int sm = r.cc_major * 10 + r.cc_minor;
  hs.device_sm = sm;
  const kit::units::Unit* u = kit::units::find(sm);
  if (u == nullptr) {
    r.stage = "dispatch";
    r.cuda_error = cudaErrorNoKernelImageForDevice;
    r.note = "no unit covers sm_" + std::to_string(sm) + "; units[" + kit::units::list() + "]";
    r.emit();
    return 0;
  }
  host_fill_probe(hs);
  hs.entry_arch = u->arch;
  hs.dispatched = true;
  return u->entry(argc, argv);
}

}  // namespace units
}  // namespace kit
