"""The static check over demangled kernel names: every spelling of an integer argument."""

from __future__ import annotations

from kit.engine import binary

# Mangled names as nvcc's host side emits them, and what c++filt prints for each.
INT = ("_ZN7cutlass13device_kernelIN4cute1CILi128EEEEEvv",
       "void cutlass::device_kernel<cute::C<128> >()")


def spelt(code: str, text: str) -> tuple[str, str]:
    return (f"_ZN7cutlass13device_kernelIN4cute1CIL{code}128EEEEEvv",
            f"void cutlass::device_kernel<cute::C<{text}> >()")


def facts(*symbols: tuple[str, str]) -> dict[str, object]:
    return binary.facts_from_symbols([s[0] for s in symbols], [s[1] for s in symbols])


def test_every_integer_spelling_is_one_kernel_named_two_ways() -> None:
    for code, text in (("j", "128u"), ("m", "128ul"), ("s", "(short)128"),
                       ("h", "(unsigned char)128"), ("y", "128ull"), ("l", "128l")):
        found = facts(INT, spelt(code, text))
        assert found["kernels_named_twice"] == 1, text
        assert found["spellings"] == ["C<128>", f"C<{text}>"]
        assert f"C<128> vs C<{text}>" in str(found["warning"])


def test_two_symbols_that_differ_only_in_linkage_are_one_kernel() -> None:
    local = ("_ZN7cutlassL13device_kernelIN4cute1CILi128EEEEEvv", INT[1])
    assert facts(INT, local)["kernels_named_twice"] == 0


def test_different_kernels_are_not_a_split_name() -> None:
    other = ("_ZN7cutlass13device_kernelIN4cute1CILi64EEEEEvv",
             "void cutlass::device_kernel<cute::C<64> >()")
    assert facts(INT, other)["kernels_named_twice"] == 0
    # a digit inside an identifier is no integer argument
    sm90 = ("x", "void cutlass::device_kernel<Sm90Kernel<cute::C<128> > >()")
    sm90u = ("y", "void cutlass::device_kernel<Sm90Kernel<cute::C<128u> > >()")
    assert facts(sm90, sm90u)["spellings"] == ["C<128>", "C<128u>"]
