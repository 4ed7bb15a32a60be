"""nox -l, as a user reads it right after `pip install .`: every session, one whole sentence."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_nox_lists_every_session_in_one_whole_sentence() -> None:
    done = subprocess.run([sys.executable, "-m", "nox", "-l", "-f", str(ROOT / "noxfile.py")],
                          capture_output=True, text=True, timeout=120, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith(("* ", "- "))]
    assert any(ln.startswith("- repro-cuda12.9") for ln in lines)
    assert any(ln.startswith("- repro-cuda12.8") for ln in lines)
    assert all(" -> " in ln and ln.rstrip().endswith(".") for ln in lines), lines
