"""`kit bisect`: the smallest change that flips a cell, found by probing real cells.

Axis bisection starts from a good cell and a bad one (different outcomes). It moves the good
cell toward the bad one an axis at a time, then two at a time, ... and stops at the smallest
sets of axis changes that give the bad outcome (two axes that flip only together are
reported as such). Each such set is then reverted in the bad cell, to say whether it is also
necessary; an ordered axis (toolchain versions, stage counts) is narrowed by halving to the
two neighbouring values where the outcome changes.

Version bisection walks the commits between two CUTLASS refs, like `git bisect run`: a probe
whose outcome is neither the old one nor the new one (a commit that does not build) is skipped.

The search is pure: it calls `probe` with batches of cells (axis values) and reads outcomes;
the caller decides how cells run (kit.workflow runs them like any matrix cell, in parallel).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kit.util.errors import KitError

Values = dict[str, str]
FLAKY = "flaky"


class BisectError(KitError):
    """The two ends cannot be bisected (same outcome, a flaky end, different repros)."""

    exit_code = 2


@dataclass(frozen=True, kw_only=True)
class ProbeResult:
    values: Values
    outcome: str  # agreed by every repeat, or FLAKY
    seen: tuple[str, ...] = ()  # each repeat's outcome
    cell_id: str = ""
    reason: str = ""


Prober = Callable[[list[Values]], list[ProbeResult]]


@dataclass(frozen=True, kw_only=True)
class Flip:
    """A smallest set of axis changes that turns the good outcome into the bad one."""

    changes: dict[str, tuple[str, str]]  # axis -> (good value, bad value)
    necessary: bool | None = None  # reverting them in the bad cell restores the good outcome
    edge: tuple[str, str] | None = None  # ordered axis: the neighbours where it flips


@dataclass(kw_only=True)
class Bisection:
    good: ProbeResult
    bad: ProbeResult
    flips: list[Flip] = field(default_factory=list)
    inert: list[str] = field(default_factory=list)  # axes that alone change nothing
    searched_up_to: int = 0  # the largest set size tried
    probes: list[ProbeResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "good": _probe_dict(self.good), "bad": _probe_dict(self.bad),
            "flips": [{"changes": {a: list(v) for a, v in f.changes.items()},
                       "necessary": f.necessary, "edge": list(f.edge) if f.edge else None}
                      for f in self.flips],
            "inert": self.inert, "searched_up_to": self.searched_up_to,
            "probes": [_probe_dict(p) for p in self.probes],
        }


def axes(good: Values, bad: Values, probe: Prober, *, order: dict[str, list[str]] | None = None,
         max_together: int = 3) -> Bisection:
    """Bisect between two cells given as axis values (the same axes, different values)."""
    if set(good) != set(bad):
        raise BisectError("the two cells have different axes (different repros?)",
                          hint="pick two cells of one repro")
    log: list[ProbeResult] = []

    def run(batch: list[Values]) -> list[ProbeResult]:
        done = probe(batch)
        log.extend(done)
        return done

    g, b = run([good, bad])
    for end, name in ((g, "good"), (b, "bad")):
        if end.outcome == FLAKY:
            raise BisectError(f"the {name} cell is flaky ({', '.join(end.seen)})",
                              hint="raise --repeat, or pick another cell")
    if g.outcome == b.outcome:
        raise BisectError(f"both cells are {g.outcome}: nothing flips between them",
                          hint="on a machine without the GPU every cell is no_gpu / "
                               "skipped_arch; run where the cells run")
    diff = [a for a in good if good[a] != bad[a]]
    result = Bisection(good=g, bad=b)
    found: list[tuple[str, ...]] = []
    singles: dict[str, ProbeResult] = {}
    for size in range(1, min(max_together, len(diff)) + 1):
        result.searched_up_to = size
        subsets = [s for s in itertools.combinations(diff, size)
                   if not any(set(f) <= set(s) for f in found)]
        done = run([good | {a: bad[a] for a in s} for s in subsets])
        if size == 1:
            singles = {s[0]: r for s, r in zip(subsets, done, strict=True)}
        found += [s for s, r in zip(subsets, done, strict=True) if r.outcome == b.outcome]
        if found:
            break
    back = run([bad | {a: good[a] for a in s} for s in found]) if found else []
    for s, reverted in zip(found, back, strict=True):
        edge = None
        if len(s) == 1 and order and s[0] in order:
            edge = _edge(s[0], good, bad, order[s[0]], g.outcome, b.outcome, run)
        result.flips.append(Flip(changes={a: (good[a], bad[a]) for a in s},
                                 necessary=reverted.outcome == g.outcome, edge=edge))
    result.inert = [a for a, r in singles.items()
                    if r.outcome == g.outcome and not any(a in s for s in found)]
    result.probes = log
    return result


def _edge(axis: str, good: Values, bad: Values, values: list[str], old: str, new: str,
          run: Prober) -> tuple[str, str] | None:
    """Halve the ordered values between good's and bad's to the neighbours where it flips."""
    i, j = values.index(good[axis]), values.index(bad[axis])
    path = values[i:j + 1] if i < j else values[j:i + 1][::-1]
    first = first_change(path, lambda v: run([good | {axis: v}])[0].outcome, old, new)
    if first is None:
        return None
    return path[path.index(first) - 1], first


def first_change(path: Sequence[str], outcome_of: Callable[[str], str], old: str,
                 new: str) -> str | None:
    """The first item of path (whose ends give old and new) whose outcome is new, assuming
    one change along the path; items with a third outcome are skipped, like git bisect's 125.
    None when skips leave it undecided."""
    lo, hi = 0, len(path) - 1  # path[lo] gives old, path[hi] gives new
    skipped: set[int] = set()
    while True:
        candidates = [k for k in range(lo + 1, hi) if k not in skipped]
        if not candidates:  # neighbours, or only skipped items between them
            return path[hi] if hi == lo + 1 else None
        mid = candidates[len(candidates) // 2]
        got = outcome_of(path[mid])
        if got == new:
            hi = mid
        elif got == old:
            lo = mid
        else:
            skipped.add(mid)


def version_key(value: str) -> tuple[int, ...] | None:
    """cuda13.2 -> (13, 2); "4.2" -> (4, 2); "7" -> (7,); a name without digits -> None."""
    numbers = re.findall(r"\d+", value)
    return tuple(int(n) for n in numbers) if numbers else None


def ordered(values: Sequence[str]) -> list[str] | None:
    """The values in version order, when every one reads as a version and none tie."""
    keys = [version_key(v) for v in values]
    if any(k is None for k in keys) or len(set(keys)) != len(keys):
        return None
    return sorted(values, key=lambda v: version_key(v) or ())


def _probe_dict(p: ProbeResult) -> dict[str, Any]:
    return {"values": p.values, "outcome": p.outcome, "seen": list(p.seen),
            "cell_id": p.cell_id, "reason": p.reason}


@dataclass(kw_only=True)
class VersionBisection:
    old: ProbeResult
    new: ProbeResult
    first: str | None  # the first commit with the new outcome; None when skips hide it
    commits: list[str]
    probes: list[ProbeResult] = field(default_factory=list)
    subjects: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"old": _probe_dict(self.old), "new": _probe_dict(self.new),
                "first": self.first, "commits": self.commits, "subjects": self.subjects,
                "probes": [_probe_dict(p) for p in self.probes]}


def commits(shas: list[str], cell: Values, probe: Prober) -> VersionBisection:
    """The first of shas (oldest first) whose outcome for the cell is the newest's."""
    log: list[ProbeResult] = []

    def at(sha: str) -> ProbeResult:
        (done,) = probe([cell | {"cutlass": sha}])
        log.append(done)
        return done

    old, new = probe([cell | {"cutlass": shas[0]}, cell | {"cutlass": shas[-1]}])
    log += [old, new]
    if FLAKY in (old.outcome, new.outcome) or old.outcome == new.outcome:
        raise BisectError(f"the cell is {old.outcome} at {shas[0][:12]} and {new.outcome} at "
                          f"{shas[-1][:12]}: nothing to bisect",
                          hint="pick refs where the outcome differs (and a GPU that runs it)")
    first = first_change(shas, lambda sha: at(sha).outcome, old.outcome, new.outcome)
    return VersionBisection(old=old, new=new, first=first, commits=shas, probes=log)
