"""What makes a reduced file still interesting: kit's oracles, each a yes/no on one attempt.

C-Vise calls an interestingness test (a shell script, exit 0 = still interesting) thousands of
times; the script compiles the candidate with the host compiler alone (seconds, where the whole
nvcc compile takes a minute) and asks this module:

  static         the object names one `__global__` template instantiation two ways: two
                 mangled names of one kernel that differ only in an integer argument's type
                 (C<128> vs C<128u>), as kit.engine.binary reads them
  compile_error  the compiler's first error has the same message signature as the cell's first
                 error (an error further down is no match: deleting a declaration makes
                 errors of every kind, and a reduction that chased one of them would end in
                 a file that fails for a reason of its own)

Run as `python -m kit.engine.oracles static OBJECT` or `compile_error LOG SIGNATURE`.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from kit.engine import binary

ORACLES = ("static", "compile_error")
# Any __global__ function's host symbol; a reduced file need not keep CUTLASS's names.
_KERNEL_STUB = re.compile(r"^_Z[A-Za-z0-9_]*$")


def split_name(obj: Path) -> bool:
    """The object holds one kernel named two ways (CUTLASS's device_kernel or any other)."""
    found = binary.symbols(obj, _KERNEL_STUB)
    if isinstance(found, str):
        if found.startswith("unavailable"):
            raise RuntimeError(f"nm and c++filt are {found}")
        return False
    # only templates can be named two ways by an argument's type
    pairs = [(n, d) for n, d in zip(*found, strict=True) if "<" in d]
    facts = binary.facts_from_symbols([n for n, _ in pairs], [d for _, d in pairs])
    return bool(facts.get("kernels_named_twice"))


def signature_of(first_error: str) -> str:
    """The part of a compiler error that stays the same while the file shrinks: the message
    without file, line, column, numbers and the names quoted in it."""
    text = re.sub(r"^.*?(error|fatal error):\s*", "", first_error.strip())
    text = re.sub(r"'[^']*'|‘[^’]*’|\"[^\"]*\"", "'…'", text)
    text = re.sub(r"\d+", "#", text)  # an argument's position may move as the file shrinks
    return re.split(r"\s+in template parameter list|\s+for\s+'", text)[0].strip()[:120]


def same_error(log: str, signature: str) -> bool:
    first = next((ln for ln in log.splitlines() if re.search(r"\berror:", ln)), None)
    return first is not None and signature_of(first) == signature


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "static":
        return 0 if split_name(Path(argv[1])) else 1
    if len(argv) >= 3 and argv[0] == "compile_error":
        log = Path(argv[1]).read_text(errors="replace")
        return 0 if same_error(log, argv[2]) else 1
    print(f"usage: python -m kit.engine.oracles {'|'.join(ORACLES)} ...", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
