"""How compiles are packed: cores and memory, predictions from history."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.engine import history
from kit.engine.scheduler import Job, Scheduler


def job(gb: float, seconds: float) -> Job:
    return Job(group=[], cost=history.Cost(gb, seconds, "recipe"))


def drain(s: Scheduler) -> list[Job]:
    started = []
    while (j := s.next()) is not None:
        started.append(j)
    return started


def test_cells_that_need_7_gb_each_never_oversubscribe_the_budget() -> None:
    s = Scheduler([job(7.4, 100) for _ in range(8)], cores=16, budget_gb=22.5)
    first = drain(s)
    assert len(first) == 3  # 22.2 GB; a fourth would be 29.6
    s.done(first[0])
    assert len(drain(s)) == 1  # one finished, one more starts


def test_the_longest_predicted_compile_starts_first_and_small_ones_fill_the_gaps() -> None:
    big, small = job(8, 300), job(1, 20)
    s = Scheduler([small, big, job(8, 200), job(8, 250)], cores=16, budget_gb=18)
    started = drain(s)
    assert started[0] is big
    assert small in started  # 8 + 8 = 16, the 1 GB one still fits


def test_cores_cap_the_count_even_when_memory_is_plenty() -> None:
    s = Scheduler([job(0.5, 10) for _ in range(10)], cores=2, budget_gb=100)
    assert len(drain(s)) == 2


def test_a_compile_bigger_than_the_budget_still_runs_alone() -> None:
    s = Scheduler([job(40, 10), job(1, 10)], cores=4, budget_gb=20)
    started = drain(s)
    assert [j.cost.gb for j in started] == [40]  # alone: nothing else fits beside it
    s.done(started[0])
    assert [j.cost.gb for j in drain(s)] == [1]


def test_history_predicts_from_the_recipe_then_its_family_then_the_default(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIT_CACHE", str(tmp_path))
    key = history.recipe_key("sm90_ptr_array_grouped", "abc")
    history.record(key, 3.1, 40.0)
    history.record(key, 3.5, 50.0)
    data = history.load()
    assert history.predict(data, key, "sm90_ptr_array_grouped", 6.0) == history.Cost(
        3.5, 45.0, "recipe")
    other = history.recipe_key("sm90_ptr_array_grouped", "def")
    assert history.predict(data, other, "sm90_ptr_array_grouped", 6.0).known == "family"
    assert history.predict(data, "x|y", "x", 6.0) == history.Cost(6.0, 120.0, "default")
    for _ in range(20):
        history.record(key, 1.0, 1.0)
    assert len(history.load()[key]) == history.KEEP
