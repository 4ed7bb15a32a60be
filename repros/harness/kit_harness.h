// kit harness: the one place a C++ repro reports what happened.
//
// Contract (see design.md): the program prints exactly one line
//   KIT_RESULT {json}
// and exits 0 whatever the kernel did; kit reads the line, not the exit status. A crash or a
// hang prints no line and kit classifies it from the signal / timeout.
//
// A repro includes this header, builds its CUTLASS Gemm type and calls
//   kit::run_grouped_gemm<Gemm>(report, args, verify_fn)
// which walks can_implement -> initialize -> run -> verify and records every observable that
// tells one cause of `Error Internal` from another (notes/cutlass-error-internal.md, section 2).
#pragma once

#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cutlass/cutlass.h"
#include "cutlass/device_kernel.h"

#ifndef KIT_REPRO
#define KIT_REPRO "unnamed"
#endif
// kit passes the knob values it built with as one string "name=value,name=value".
#ifndef KIT_KNOBS
#define KIT_KNOBS ""
#endif

namespace kit {

inline std::string json_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

inline std::string q(const std::string& s) { return "\"" + json_escape(s) + "\""; }

inline std::string cuda_error_json(cudaError_t e) {
  return "{\"name\":" + q(cudaGetErrorName(e)) + ",\"string\":" + q(cudaGetErrorString(e)) + "}";
}

// FNV-1a over the raw bytes of everything handed to CUTLASS that describes memory layout:
// two builds that hash the same passed byte-identical layouts/strides (the report's step20 vs
// step21 evidence, made a column instead of a printf).
struct LayoutDigest {
  std::uint64_t h = 1469598103934665603ull;
  std::size_t bytes = 0;
  void add(const void* p, std::size_t n) {
    auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) {
      h ^= b[i];
      h *= 1099511628211ull;
    }
    bytes += n;
  }
  template <class T>
  void add_all(const std::vector<T>& v) {
    if (!v.empty()) add(v.data(), v.size() * sizeof(T));
  }
  std::string hex() const {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
  }
};

struct Verify {
  bool ran = false;
  bool passed = false;
  double max_abs_error = 0.0;
  double tolerance = 0.0;
  std::size_t checked = 0;
};

// Everything one run learns; emitted as the single KIT_RESULT line.
struct Report {
  std::string repro = KIT_REPRO;
  std::string stage = "start";
  std::string status = "";
  int status_code = -1;
  cudaError_t cuda_error = cudaSuccess;
  cudaError_t direct_set_attribute = cudaSuccess;
  bool direct_set_attribute_tried = false;
  long long smem_bytes = -1;
  long long smem_optin_bytes = -1;
  // cudaFuncGetAttributes(device_kernel<GemmKernel>): which image the runtime would launch.
  cudaError_t func_attr_error = cudaSuccess;
  bool func_attr_tried = false;
  cudaFuncAttributes func_attr{};
  std::string device_name;
  int cc_major = -1, cc_minor = -1, sm_count = -1;
  Verify verify;
  std::string layout_digest;
  std::size_t layout_bytes = 0;
  std::string problem;  // JSON object text, filled by the repro
  std::string note;

  void emit() const {
    std::string s = "{";
    s += "\"repro\":" + q(repro);
    s += ",\"stage\":" + q(stage);
    s += ",\"status\":" + q(status);
    s += ",\"status_code\":" + std::to_string(status_code);
    s += ",\"cuda_error\":" + cuda_error_json(cuda_error);
    s += ",\"smem_bytes\":" + std::to_string(smem_bytes);
    s += ",\"smem_optin_bytes\":" + std::to_string(smem_optin_bytes);
    if (direct_set_attribute_tried) {
      s += ",\"direct_set_attribute\":" + cuda_error_json(direct_set_attribute);
    }
    if (func_attr_tried) {
      s += ",\"func_attributes\":{\"error\":" + cuda_error_json(func_attr_error);
      if (func_attr_error == cudaSuccess) {
        s += ",\"binary_version\":" + std::to_string(func_attr.binaryVersion);
        s += ",\"ptx_version\":" + std::to_string(func_attr.ptxVersion);
        s += ",\"num_regs\":" + std::to_string(func_attr.numRegs);
        s += ",\"max_dynamic_smem\":" + std::to_string(func_attr.maxDynamicSharedSizeBytes);
        s += ",\"static_smem\":" + std::to_string(func_attr.sharedSizeBytes);
      }
      s += "}";
    }
    s += ",\"device\":{\"name\":" + q(device_name) + ",\"cc\":" +
         q(std::to_string(cc_major) + "." + std::to_string(cc_minor)) +
         ",\"sm_count\":" + std::to_string(sm_count) + "}";
    s += ",\"verify\":{\"ran\":" + std::string(verify.ran ? "true" : "false") +
         ",\"passed\":" + std::string(verify.passed ? "true" : "false");
    if (verify.ran) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.6g", verify.max_abs_error);
      s += ",\"max_abs_error\":" + std::string(std::isfinite(verify.max_abs_error) ? buf : "null");
      std::snprintf(buf, sizeof buf, "%.6g", verify.tolerance);
      s += ",\"tolerance\":" + std::string(buf);
      s += ",\"checked\":" + std::to_string(verify.checked);
    }
    s += "}";
    s += ",\"knobs\":" + knobs_json();
    s += ",\"layout_digest\":" + q(layout_digest);
    s += ",\"layout_bytes\":" + std::to_string(layout_bytes);
    if (!problem.empty()) s += ",\"problem\":" + problem;
    if (!note.empty()) s += ",\"note\":" + q(note);
    s += "}";
    std::printf("KIT_RESULT %s\n", s.c_str());
    std::fflush(stdout);
  }

  static std::string knobs_json() {
    std::string in = KIT_KNOBS, out = "{";
    std::size_t start = 0;
    bool first = true;
    while (start < in.size()) {
      std::size_t end = in.find(',', start);
      if (end == std::string::npos) end = in.size();
      std::string item = in.substr(start, end - start);
      std::size_t eq = item.find('=');
      if (eq != std::string::npos) {
        out += (first ? "" : ",") + q(item.substr(0, eq)) + ":" + q(item.substr(eq + 1));
        first = false;
      }
      start = end + 1;
    }
    return out + "}";
  }
};

// Reads the device the repro runs on; returns false (and reports) when there is none.
// KIT_FACTS_ONLY=1 (kit sets it on a machine that cannot run the cell): report what the host
// side knows (sizes, knobs) and touch no device at all, so a CPU machine learns them too.
inline bool facts_only() {
  const char* v = std::getenv("KIT_FACTS_ONLY");
  return v != nullptr && v[0] == '1';
}

inline bool probe_device(Report& r) {
  if (facts_only()) {
    r.stage = "facts";
    return false;
  }
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    r.stage = "device";
    r.cuda_error = e != cudaSuccess ? e : cudaErrorNoDevice;
    return false;
  }
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  r.device_name = prop.name;
  r.cc_major = prop.major;
  r.cc_minor = prop.minor;
  r.sm_count = prop.multiProcessorCount;
  int optin = 0;
  cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, 0);
  r.smem_optin_bytes = optin;
  return true;
}

// Drives one CUTLASS device-level GEMM through every stage. `verify` runs after a successful
// run() and fills r.verify. Never exits early without emitting: every return path reports.
template <class Gemm, class Verifier>
int run_gemm(Report& r, typename Gemm::Arguments& args, Verifier&& verify) {
  using GemmKernel = typename Gemm::GemmKernel;
  r.smem_bytes = static_cast<long long>(sizeof(typename GemmKernel::SharedStorage));
  if (!probe_device(r)) {
    r.emit();
    return 0;
  }

  // Which image would launch, before CUTLASS touches it (no image => cause (b)/(c)).
  r.func_attr_tried = true;
  r.func_attr_error = cudaFuncGetAttributes(&r.func_attr, cutlass::device_kernel<GemmKernel>);
  cudaGetLastError();

  Gemm gemm;
  r.stage = "can_implement";
  cutlass::Status st = gemm.can_implement(args);
  r.status = cutlassGetStatusString(st);
  r.status_code = static_cast<int>(st);
  if (st != cutlass::Status::kSuccess) {
    r.cuda_error = cudaGetLastError();
    r.emit();
    return 0;
  }

  std::size_t workspace_size = Gemm::get_workspace_size(args);
  void* workspace = nullptr;
  if (workspace_size > 0 && cudaMalloc(&workspace, workspace_size) != cudaSuccess) {
    r.stage = "initialize";
    r.cuda_error = cudaGetLastError();
    r.note = "workspace allocation failed";
    r.emit();
    return 0;
  }

  r.stage = "initialize";
  st = gemm.initialize(args, workspace);
  r.status = cutlassGetStatusString(st);
  r.status_code = static_cast<int>(st);
  // CUTLASS clears the error it saw (gemm_universal_adapter.h); ask the runtime ourselves so
  // the result says invalid argument (shared memory) vs no image / bad handle.
  r.cuda_error = cudaGetLastError();
  r.direct_set_attribute_tried = true;
  r.direct_set_attribute = cudaFuncSetAttribute(cutlass::device_kernel<GemmKernel>,
                                                cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                static_cast<int>(r.smem_bytes));
  cudaGetLastError();
  if (st != cutlass::Status::kSuccess) {
    cudaFree(workspace);
    r.emit();
    return 0;
  }

  r.stage = "run";
  st = gemm.run();
  r.status = cutlassGetStatusString(st);
  r.status_code = static_cast<int>(st);
  cudaError_t sync = cudaDeviceSynchronize();
  r.cuda_error = sync != cudaSuccess ? sync : cudaGetLastError();
  if (st != cutlass::Status::kSuccess || r.cuda_error != cudaSuccess) {
    cudaFree(workspace);
    r.emit();
    return 0;
  }

  r.stage = "verify";
  verify(r.verify);
  r.cuda_error = cudaGetLastError();
  if (r.verify.ran && r.verify.passed && r.cuda_error == cudaSuccess) r.stage = "done";
  cudaFree(workspace);
  r.emit();
  return 0;
}

// Reports a configuration the repro refuses before building anything (e.g. a knob value
// the kernel family cannot express), so kit still gets its one line.
inline int refuse(Report& r, const std::string& why) {
  r.stage = "configure";
  r.note = why;
  r.emit();
  return 0;
}

}  // namespace kit
