"""The bisection search on its own, against synthetic outcome functions (the real probes are
matrix cells: tests/integration/test_bisect_cutlass.py and the H100 evidence)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kit.engine import bisect
from kit.engine.bisect import BisectError, ProbeResult, Values
from kit.report import bisectmd

GOOD = {"repro": "r", "placement": "namespace_scope", "tile_k": "literal", "shape_type": "int",
        "stages": "4"}
BAD = {"repro": "r", "placement": "function_template", "tile_k": "unsigned_trait",
       "shape_type": "int64", "stages": "7"}


def prober(outcome: Callable[[Values], str], flaky: frozenset[str] = frozenset()
           ) -> Callable[[list[Values]], list[ProbeResult]]:
    def probe(batch: list[Values]) -> list[ProbeResult]:
        out = []
        for v in batch:
            seen = ("ok", "crash") if v["stages"] in flaky else (outcome(v),) * 2
            agreed = seen[0] if len(set(seen)) == 1 else bisect.FLAKY
            out.append(ProbeResult(values=v, outcome=agreed, seen=seen,
                                   cell_id="-".join(v.values())))
        return out
    return probe


def test_two_axes_that_flip_only_together_are_reported_as_an_interaction() -> None:
    # The SM90 blockwise kernel's pattern: the unsigned trait breaks only inside a template.
    def outcome(v: Values) -> str:
        both = v["placement"] == "function_template" and v["tile_k"] == "unsigned_trait"
        return "init_error_internal" if both else "ok"

    found = bisect.axes(GOOD, BAD, prober(outcome))
    (flip,) = found.flips
    assert flip.changes == {"placement": ("namespace_scope", "function_template"),
                            "tile_k": ("literal", "unsigned_trait")}
    assert flip.necessary is True
    assert sorted(found.inert) == ["shape_type", "stages"]
    text = bisectmd.render(found, title="r")
    assert ("**placement: namespace_scope → function_template together with tile_k: literal → "
            "unsigned_trait** turn ok into init_error_internal; none of them does alone") in text


def test_one_axis_alone_is_found_and_an_ordered_axis_is_halved_to_its_edge() -> None:
    # Shared memory: 5 stages fit the H100's opt-in, 6 and more do not.
    def outcome(v: Values) -> str:
        return "init_error_internal" if int(v["stages"]) >= 6 else "ok"

    order = {"stages": ["2", "3", "4", "5", "6", "7", "8"]}
    found = bisect.axes(GOOD, BAD, prober(outcome), order=order)
    (flip,) = found.flips
    assert flip.changes == {"stages": ("4", "7")} and flip.edge == ("5", "6")
    assert "placement" in found.inert
    assert "Along that axis it changes between 5 and 6" in bisectmd.render(found, title="r")
    # endpoints, 4 singles, 1 revert, then halving inside 4..7: the search stays small
    assert len(found.probes) <= 2 + 4 + 1 + 2


def test_two_independent_causes_are_two_findings_and_neither_is_necessary() -> None:
    def outcome(v: Values) -> str:
        return "init_error_internal" if (v["placement"] == "function_template"
                                         or int(v["stages"]) >= 6) else "ok"

    found = bisect.axes(GOOD, BAD, prober(outcome))
    assert [list(f.changes) for f in found.flips] == [["placement"], ["stages"]]
    assert all(f.necessary is False for f in found.flips)


def test_a_flaky_probe_never_counts_as_a_flip() -> None:
    def outcome(v: Values) -> str:
        return "init_error_internal" if v["tile_k"] == "unsigned_trait" else "ok"

    # a stages=7 probe disagrees with itself: it can be neither the flip nor inert
    probe = prober(outcome, flaky=frozenset({"7"}))
    good, bad = GOOD | {"stages": "4"}, BAD | {"stages": "4"}
    found = bisect.axes(good, bad, probe)
    assert [list(f.changes) for f in found.flips] == [["tile_k"]]
    with pytest.raises(BisectError, match="flaky"):
        bisect.axes(good, BAD, probe)


def test_ends_with_the_same_outcome_are_refused_with_a_hint() -> None:
    with pytest.raises(BisectError, match="both cells are no_gpu") as info:
        bisect.axes(GOOD, BAD, prober(lambda v: "no_gpu"))
    assert "run where the cells run" in info.value.format_message()


@pytest.mark.parametrize(("outcomes", "first"), [
    ("oonnn", "c2"),
    ("oxonn", "c3"),  # c1 does not build: skipped, and c2 still pins the edge
    ("ooxnn", None),  # the edge is c2 or c3: skipping c2 leaves it undecided
])
def test_first_change_skips_third_outcomes_like_git_bisect(outcomes: str,
                                                            first: str | None) -> None:
    names = {"o": "ok", "n": "compile_error", "x": "infra_error"}
    got = bisect.first_change([f"c{i}" for i in range(len(outcomes))],
                              lambda c: names[outcomes[int(c[1:])]], "ok", "compile_error")
    assert got == first


def test_versions_are_ordered_by_their_numbers() -> None:
    assert bisect.ordered(["cuda13.5", "cuda13.0", "cuda13.2"]) == ["cuda13.0", "cuda13.2",
                                                                    "cuda13.5"]
    assert bisect.ordered(["4.2", "3.8", "3.10"]) == ["3.8", "3.10", "4.2"]
    assert bisect.ordered(["auto", "5"]) is None


def test_the_ends_are_picked_by_axis_values_label_or_nearest_passing_cell(
        project: Path) -> None:
    from kit.flows import bisect as bisect_run
    from kit.spec import matrix
    from kit.spec.model import CellResult, Outcome
    from kit.spec.repros import discover

    m = matrix.load(project, discover(project.parent / "repros"))
    cells = matrix.expand(m, preset="sm90")
    picked = bisect_run.pick("placement=namespace_scope,shape_type=int,stages=5", m, cells, None)
    assert picked["stages"] == "5"
    assert bisect_run.pick(cells[0].label, m, cells, None) == cells[0].axes
    with pytest.raises(BisectError, match="matches 4 cells") as info:
        bisect_run.pick("shape_type=int", m, cells, None)
    assert "add axis=value pairs" in info.value.format_message()

    run = [CellResult(cell_id=c.label, label=c.label, axes=c.axes,
                      outcome=Outcome.OK if c.knob_map["placement"] != "function_template"
                      else Outcome.INIT_ERROR_INTERNAL) for c in cells]
    bad = next(r for r in run if r.outcome is Outcome.INIT_ERROR_INTERNAL
               and r.axes["shape_type"] == "int64")
    good = bisect_run.nearest_good(dict(bad.axes), run)
    assert [a for a in good if good[a] != bad.axes[a]] == ["placement"]
