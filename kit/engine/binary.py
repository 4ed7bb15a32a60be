"""Static facts about a compiled binary, read with binutils: no GPU needed.

The one that matters first: whether one `cutlass::device_kernel<...>` (or any other
`__global__` template a cubin holds) is named two ways on the host side. Seen with kernel
types declared inside a function template: the host compiler re-derives a `cute::C<32>` as
`cute::C<32u>`, so the launch and cudaFuncSetAttribute go to a second, never registered
stub, which initialize() reports as Error Internal. Two symbols that differ only in the type
of an integer template argument are that; two genuinely different kernels (an example with a
cooperative and a pingpong GEMM) are not. Recorded as evidence, never as a GPU outcome.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from kit.sources import cuobjdump
from kit.util import cmd

# The kernel's own host symbol (not the stubs whose names embed it): `L` marks internal
# linkage, which CUTLASS gives device_kernel (`__global__ static`).
# Bumped whenever inspect() learns something new, so cached builds are looked at again.
FACTS_VERSION = 8

_DEVICE_KERNEL = re.compile(r"_ZN7cutlassL?13device_kernel[A-Za-z0-9_]*$")
_ANY_FUNCTION = re.compile(r"_Z[A-Za-z0-9_]*$")
# An integer template argument as c++filt spells it, by its type: 128 (int), 128u, 128l,
# 128ul, 128ll, 128ull, and the types with no suffix in a cast: (short)128,
# (unsigned char)128, (signed char)128, (char)128, (unsigned short)128, (__int128)128.
_INT_LITERAL = re.compile(
    r"(?<![\w.])(?P<cast>\((?:(?:un)?signed )?(?:char|short|int|long|long long|__int128)\))?"
    r"(?P<value>-?\d+)(?P<suffix>ull|ul|ll|u|l)?(?![\w.])")
# The template a literal is an argument of, for the message: `C<` in cute::C<128u>.
_TEMPLATE_BEFORE = re.compile(r"(\w+)<$")
def inspect(binary: Path) -> dict[str, Any]:
    """Host-side facts (nm) and device-side facts (cuobjdump) together."""
    found = cuobjdump.cubins(binary)
    facts = _host_facts(binary)
    if not facts.get("kernels_named_twice"):  # not CUTLASS's kernel: any template kernel
        kernels = {k for img in found.get("cubins") or [] for k in img["kernels"]}
        facts |= _unregistered_twins(binary, kernels)
    return {**facts, **_device_facts(found)}


def _unregistered_twins(binary: Path, kernels: set[str]) -> dict[str, Any]:
    """A host function named like a kernel the cubins hold, but for an integer argument's
    type: a launch of it finds no kernel (a program of one's own, no CUTLASS in it)."""
    templates = sorted(k for k in kernels if "I" in k)  # a template argument list
    if not templates:
        return {}
    found = symbols(binary, _ANY_FUNCTION)
    if isinstance(found, str):  # no binutils: the host facts already say so
        return {}
    device = cmd.run(["c++filt", "--no-recurse-limit", *templates], timeout=120).output
    if len(device.splitlines()) != len(templates):
        return {}
    on_device = {_plain(d): (d, m) for d, m in zip(device.splitlines(), templates, strict=True)}
    mangled, names = [], []
    for sym, name in zip(*found, strict=True):
        kernel_name, kernel_sym = on_device.get(_plain(name), (name, sym))
        if name != kernel_name:
            mangled += [sym, kernel_sym]
            names += [name, kernel_name]
    if not mangled:
        return {}
    facts = facts_from_symbols(mangled, names)
    kernel = re.sub(r"<.*", "", names[1]).split("::")[-1].split()[-1]
    facts["warning"] = facts["warning"].replace("cutlass::device_kernel", kernel)
    return facts


def _plain(name: str) -> str:
    return _INT_LITERAL.sub(lambda m: m.group("value"), name)


def _device_facts(found: dict[str, Any]) -> dict[str, Any]:
    images = found.get("cubins")
    if images is None:
        return found
    cubins = [{"arch": img["arch"], "kernels": len(img["kernels"]),
               "device_kernels": sum(1 for k in img["kernels"] if _DEVICE_KERNEL.match(k))}
              for img in images]
    facts: dict[str, Any] = {"cubins": cubins}
    holding = [c["arch"] for c in cubins if c["device_kernels"]]
    if len(set(holding)) > 1:
        # Cubins come in link order, and the linker keeps the first object's copy of the
        # (weak) host code that launches the kernel: that copy calls its own unit's kernel.
        facts["device_kernel_first_arch"] = holding[0]
    return facts


def _host_facts(binary: Path) -> dict[str, Any]:
    found = symbols(binary, _DEVICE_KERNEL)
    if isinstance(found, str):
        return {"nm": found} if found.startswith(("unavailable", "failed")) else \
            {"c++filt": found}
    mangled, demangled = found
    return facts_from_symbols(mangled, demangled)


def symbols(binary: Path, pattern: re.Pattern[str]) -> tuple[list[str], list[str]] | str:
    """The binary's function symbols that match `pattern`, mangled and demangled, or why not."""
    nm = shutil.which("nm")
    cxxfilt = shutil.which("c++filt")
    if nm is None or cxxfilt is None:
        return "unavailable (install binutils)"
    done = cmd.run([nm, binary], timeout=120)
    if done.returncode != 0:
        return f"failed: {done.tail(2)}"
    mangled = sorted({n for n in _symbol_names(done.output) if pattern.match(n)})
    # CUTLASS kernel names run to thousands of characters: lift c++filt's recursion limit.
    demangled = cmd.run([cxxfilt, "--no-recurse-limit", *mangled],
                        timeout=120).output.splitlines() if mangled else []
    if len(demangled) != len(mangled):
        return "c++filt failed"
    return mangled, demangled


def facts_from_symbols(mangled: list[str], demangled: list[str]) -> dict[str, Any]:
    """Group the kernel's symbols by their demangled name with every integer spelt as a plain
    number: a group holding two spellings is one kernel named two ways. Two symbols whose
    demangled names are the same (they differ only in linkage, `L`) are one kernel."""
    facts: dict[str, Any] = {"version": FACTS_VERSION,
                             "device_kernel_instantiations": len(mangled)}
    groups: dict[str, dict[str, list[str]]] = {}
    for sym, name in zip(mangled, demangled, strict=True):
        key = _plain(name)
        groups.setdefault(key, {}).setdefault(name, []).append(sym)
    twice = [g for g in groups.values() if len(g) > 1]
    facts["kernels_named_twice"] = len(twice)
    if twice:
        facts["device_kernel_symbols"] = [s for g in twice for syms in g.values() for s in syms]
        facts["spellings"] = spellings(*sorted(twice[0], key=len)[:2])  # the plain one first
        facts["warning"] = (f"{len(twice)} cutlass::device_kernel named two ways on the host "
                            f"({' vs '.join(facts['spellings'])}): host code launches a kernel "
                            "that was never registered")
    return facts


def spellings(first: str, second: str) -> list[str]:
    """Where two spellings of one name first part: the integer argument each writes, with its
    template (`C<128>`, `C<128u>`)."""
    a, b = list(_INT_LITERAL.finditer(first)), list(_INT_LITERAL.finditer(second))
    for x, y in zip(a, b, strict=False):
        if x.group(0) != y.group(0) and x.group("value") == y.group("value"):
            return [_with_template(first, x), _with_template(second, y)]
    return [first[:80], second[:80]]


def _with_template(name: str, literal: re.Match[str]) -> str:
    before = _TEMPLATE_BEFORE.search(name[:literal.start()])
    if before is None:
        return literal.group(0)
    close = ">" if name[literal.end():literal.end() + 1] == ">" else ", ...>"
    return f"{before.group(1)}<{literal.group(0)}{close}"


def _symbol_names(nm_output: str) -> list[str]:
    """Function symbols from `nm` lines ("address type name"), compiler clones dropped."""
    names = []
    for line in nm_output.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tTwW":
            names.append(parts[2].split(".", 1)[0])
    return names
