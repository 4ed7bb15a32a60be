"""Predictions scored against real outcomes: a confusion table per hazard, for a person."""

from __future__ import annotations

from typing import Any


def render(score: dict[str, Any], predicted_run: str, real_run: str) -> str:
    lines = [f"### Predictions of `{predicted_run}` against the outcomes of `{real_run}`", "",
             f"{score['cells']} cells in both (matched by label); "
             f"{score['no_hazard_and_none_seen']} predicted no hazard and ran without Error "
             "Internal.", "", "| hazard | hits | misses | false alarms |",
             "| --- | --- | --- | --- |"]
    for cause, row in sorted(score["per_cause"].items()):
        lines.append(f"| `{cause}` | {row['hits']} | {row['misses']} | {row['false_alarms']} |")
    lines += ["", "| cell | predicted | real |", "| --- | --- | --- |"]
    lines += [f"| `{p['cell']}` | {p['predicted']} | {p['real']} |" for p in score["pairs"]]
    return "\n".join(lines) + "\n"
