// Host-only g++ probe: `template <int v> using Int = C<v>` fed a uint32_t constant through a static constexpr auto member.
#include <cstdio>
#include <cstdint>
#include <typeinfo>
template <auto v> struct C {};
template <int v> using Int = C<v>;
template <class... T> struct tuple {};
template <class Tag> struct Traits { static constexpr uint32_t Vec = 32; };
template <class Tag> struct Builder {
  static constexpr auto Vec = Traits<Tag>::Vec;
  using kBasic = tuple<Int<Vec>>;
};
struct Tag {};
#if ORDER == 0
using Ns = Builder<Tag>::kBasic;
#endif
int plain() { using K = Builder<Tag>::kBasic; std::printf("non_template      %s\n", typeid(K).name()); return 0; }
template <int D> int tmpl() { using K = typename Builder<Tag>::kBasic; std::printf("function_template %s\n", typeid(K).name()); return 0; }
#if ORDER == 1
using Ns = Builder<Tag>::kBasic;
#endif
int main() { std::printf("namespace_scope   %s\n", typeid(Ns).name()); plain(); tmpl<0>(); }
