// The SM90 ptr-array kernel's compile error (nvcc 13.0 + g++ 12.2, types inside a function
// template) in 15 lines of code and no CUTLASS. The file is valid C++: g++ alone compiles it. nvcc
// 13.0's cudafe++ re-spells the sizeof's type for the host compiler as
//   Epi<Policy, Impl<int, __decltype((make<std::conditional<std::is_void_v<long>, void,
//       long>::type>()))>::Stride>::Storage
// (no `typename`: nothing there depends on a template parameter), and g++ 12.2 takes it for
// dependent: "type/value mismatch at argument 2 in template parameter list for 'Epi'".
// nvcc 13.5 folds the sizeof to 16 and compiles it; so does nvcc 13.0 with -ccbin clang++.
//   nvcc -std=c++17 -c typename_mismatch.cu
#include <type_traits>
template <class T> T make();
template <class A, class B> struct Impl { using Stride = int; };
template <class D, class S> struct Epi { struct Storage { char c[16]; }; };
struct Policy {};
template <int N> struct Main {};
template <class T> struct Builder {
  using Op = Epi<Policy, typename Impl<int, decltype(make<typename std::conditional<std::is_void_v<T>, void, T>::type>())>::Stride>;
};
template <int Dummy> int run() {
  using E = typename Builder<long>::Op;
  using M = Main<static_cast<int>(sizeof(typename E::Storage))>;
  return sizeof(M);
}
int main() { return run<0>(); }
