// g++ gives Shape<Int<k>> the wrong type: tuple<C<128u>> instead of tuple<C<128>>.
// Int converts its argument to int ([temp.arg.nontype]), so every compiler must name
// tuple<C<128>>; clang++ does, and so does EDG (nvcc's front end). g++ 12.2 does not.
//   g++ -std=c++17 -c alias_split_gcc.cpp && nm -C alias_split_gcc.o | grep show
template <auto v> struct C {};
template <int v> using Int = C<v>;
template <class... T> struct tuple {};
template <class... T> using Shape = tuple<T...>;
template <class E> struct Bits { static constexpr int value = 8 * sizeof(E); };
template <class E> struct Trait {
  static constexpr auto k = 1024u / Bits<E>::value;  // unsigned int; its type depends on E
  using K = Shape<Int<k>>;                           // g++: tuple<C<128u>>  (wrong)
  using I = Int<k>;                                  // g++: C<128>          (right)
};
template <class T> void show() {}
int main() { show<Trait<char>::K>(); show<Trait<char>::I>(); }
