// kit units: the multi-TU ("per_arch") build layout of a repro.
//
// A repro's main.cu compiled with -DKIT_AS_UNIT defines no main(); it registers its entry here, keyed
// by KIT_TU_ARCH (the SM digits of the one arch this TU was compiled for, 0/undefined = any arch).
// host.cu defines main(), picks the entry for the running device (exact SM first, then an any-arch
// entry) and calls it with argc/argv. This mirrors FlashInfer/vLLM: the same header-defined launcher
// instantiated in one TU per GPU arch, linked into one program.
//
// The registry is a function-local static of an inline function: every TU shares the one object
// and it is built on first use, so static-init order across TUs does not matter.
//
// fill_kernel below is deliberately a NON-static __global__ function template (unlike CUTLASS's
// `__global__ static` device_kernel): host.cu and every unit instantiate fill_kernel<uint16_t>, the
// units alone fill_kernel<float>, so their host stubs are what -static-global-template-stub=true|false
// (static vs weak stub) and the link order act on. The units launch both as non-fatal probes and put
// the launch results in the KIT_RESULT note (unit_fill_u16=, unit_fill_f32=; host.cu's: host_fill=).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kit {
namespace units {

using Entry = int (*)(int argc, char** argv);

struct Unit {
  int arch;            // KIT_TU_ARCH of the TU that registered it (0 = any)
  Entry entry;
  const char* repro;   // KIT_REPRO of that TU
};

inline std::vector<Unit>& registry() {
  static std::vector<Unit> units;
  return units;
}

// What host.cu learned before dispatching; units append it to their KIT_RESULT note.
struct HostState {
  bool dispatched = false;
  int device_sm = -1;     // major*10+minor of device 0, -1 if none
  int entry_arch = -1;    // arch key of the entry host.cu chose
  bool fill_tried = false;
  cudaError_t fill_error = cudaSuccess;  // host.cu's fill_kernel<uint16_t> launch + sync
  bool fill_ok = false;                  // and the values it read back
};

inline HostState& host_state() {
  static HostState s;
  return s;
}

struct Register {
  Register(int arch, Entry entry, const char* repro) { registry().push_back(Unit{arch, entry, repro}); }
};

// Exact SM match first, then an any-arch (0) entry; nullptr when no unit covers `sm`.
inline const Unit* find(int sm) {
  for (const Unit& u : registry())
    if (u.arch == sm) return &u;
  for (const Unit& u : registry())
    if (u.arch == 0) return &u;
  return nullptr;
}

inline std::string list() {
  std::string s;
  for (const Unit& u : registry()) s += (s.empty() ? "" : ",") + std::to_string(u.arch);
  return s;
}

// One line for the KIT_RESULT note. `drive_tu_arch` is the KIT_TU_ARCH of the TU whose copy of the
// (weak, linker-merged) driver template is running: it differs from entry_arch when the linker kept
// another TU's copy.
inline std::string describe(int drive_tu_arch) {
  const HostState& h = host_state();
  std::string s = "units[" + list() + "] entry_arch=" + std::to_string(h.entry_arch) +
                  " drive_tu_arch=" + std::to_string(drive_tu_arch) + " device_sm=" + std::to_string(h.device_sm);
  if (h.fill_tried)
    s += std::string(" host_fill=") + cudaGetErrorName(h.fill_error) + (h.fill_ok ? "/ok" : "/bad");
  return s;
}

// Non-static __global__ function template (see the header comment). Grid-stride fill.
template <class T>
__global__ void fill_kernel(T* p, std::size_t n, T v) {
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x)
    p[i] = v;
}

inline unsigned fill_blocks(std::size_t n) {
  const std::size_t b = (n + 255) / 256;
  return static_cast<unsigned>(b == 0 ? 1 : (b > 4096 ? 4096 : b));
}

}  // namespace units
}  // namespace kit

#ifndef KIT_TU_ARCH
#define KIT_TU_ARCH 0
#endif

// In a unit TU: registers `fn` (int fn(int, char**)) for this TU's arch.
#define KIT_REGISTER_UNIT(fn) \
  static const ::kit::units::Register kit_unit_register_(KIT_TU_ARCH, &fn, KIT_REPRO)
