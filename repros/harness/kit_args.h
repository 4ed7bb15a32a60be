// kit harness: a repro's command line. Every repro takes integer options, `--name V` or
// `--name=V`, each in a range (and, where a kernel needs it, a multiple of a step), and --help.
// Host code only: no CUDA, no CUTLASS.
//
//   long long m = 256, ...;
//   int rc = kit::parse_args(argc, argv, {{"m", &m, 1, 1 << 16}, ...}, usage);
//   if (rc >= 0) return rc;  // 0 after --help, 2 after a mistake (usage printed)
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string>

namespace kit {

struct IntArg {
  const char* name;  // without the leading "--"
  long long* value;
  long long lo, hi;
  long long step = 1;  // the value must be a multiple of it
};

inline bool parse_integer(const std::string& s, long long* out) {
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

// Returns -1 when the program should go on, otherwise its exit code.
inline int parse_args(int argc, char** argv, std::initializer_list<IntArg> args,
                      void (*usage)(const char* argv0)) {
  auto fail = [&](const std::string& why) {
    std::fprintf(stderr, "%s\n", why.c_str());
    usage(argv[0]);
    return 2;
  };
  for (int i = 1; i < argc; ++i) {
    std::string name = argv[i], text;
    if (name == "--help" || name == "-h") {
      usage(argv[0]);
      return 0;
    }
    if (name.rfind("--", 0) != 0) return fail("unexpected argument: " + name);
    bool inline_value = false;
    std::size_t eq = name.find('=');
    if (eq != std::string::npos) {
      text = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    const IntArg* arg = nullptr;
    for (const IntArg& a : args)
      if (name == std::string("--") + a.name) arg = &a;
    if (arg == nullptr) return fail("unknown argument: " + name);
    if (!inline_value) {
      if (i + 1 >= argc) return fail("missing value for " + name);
      text = argv[++i];
    }
    long long v = 0;
    if (!parse_integer(text, &v) || v < arg->lo || v > arg->hi || v % arg->step != 0) {
      std::string want = "an integer in " + std::to_string(arg->lo) + ".." +
                         std::to_string(arg->hi);
      if (arg->step != 1) want += ", a multiple of " + std::to_string(arg->step);
      return fail("bad value for " + name + ": '" + text + "' (" + want + ")");
    }
    *arg->value = v;
  }
  return -1;
}

}  // namespace kit
