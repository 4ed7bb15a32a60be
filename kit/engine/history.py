"""What earlier compiles cost, so the scheduler can pack the next ones.

Per build recipe (repro, arch, flags, macros) the last few measured peaks and durations; a
recipe never seen borrows from its family (the same repro, any knobs), and a family never
seen gets the default. Kept in kit's cache, shared by every project on the machine.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit.util import cache
from kit.util.files import write_json

KEEP = 8  # entries per recipe: enough for a median, small enough to follow a new toolchain


@dataclass(frozen=True)
class Cost:
    gb: float
    seconds: float
    known: str  # "recipe", "family" or "default": how much the guess is worth


def path() -> Path:
    return cache.history_file()


def load() -> dict[str, list[dict[str, Any]]]:
    try:
        data = json.loads(path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def predict(data: dict[str, list[dict[str, Any]]], recipe: str, family: str,
            default_gb: float, default_seconds: float = 120.0) -> Cost:
    own = data.get(recipe, [])
    if own:
        return _cost(own, "recipe")
    kin = [e for key, entries in data.items() if key.startswith(f"{family}|")
           for e in entries]
    if kin:
        return _cost(kin, "family")
    return Cost(default_gb, default_seconds, "default")


def _cost(entries: list[dict[str, Any]], known: str) -> Cost:
    # The largest peak seen, not the median: under-predicting memory is what gets a compile
    # killed; over-predicting only costs some parallelism.
    return Cost(max(e["gb"] for e in entries), statistics.median(e["s"] for e in entries),
                known)


def record(recipe: str, gb: float, seconds: float) -> None:
    with cache.locked(path()):
        data = load()
        entries = data.setdefault(recipe, [])
        entries.append({"gb": round(gb, 3), "s": round(seconds, 2)})
        del entries[:-KEEP]
        write_json(path(), data)


def recipe_key(repro: str, compile_key: str) -> str:
    """family|recipe: the family is the part a new recipe of the same repro shares."""
    return f"{repro}|{compile_key}"
