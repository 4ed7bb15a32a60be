// g++ 12.2 rejects what EDG (nvcc's front end) writes for the SM90 ptr-array kernel's types
// inside a function template: a member of a class named through a decltype, without
// `typename`. Nothing in it depends on a template parameter, so no `typename` is needed, and
// clang++ agrees; g++ takes `is_void_v<long>` inside `typename conditional<...>::type` for
// dependent, and then wants a type where it sees a value:
//   error: type/value mismatch at argument 2 in template parameter list for 'Epi'
//   g++ -std=c++17 -c typename_mismatch_gcc.cpp
#include <type_traits>
template <class T> T make();
template <class A, class B> struct Impl { using Stride = int; };
template <class D, class... Args> struct Epi {};
struct Policy {};
template <int Dummy> int run() {
  // as EDG prints the type inside a function template: no `typename` before ::Stride
  using E = Epi<Policy, Impl<int, decltype(make<typename std::conditional<std::is_void_v<long>, void, long>::type>())>::Stride>;
  return sizeof(E);
}
int main() { return run<0>(); }
