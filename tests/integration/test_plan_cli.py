from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from kit.cli.commands import cli
from tests.unit.conftest import write_project


def invoke(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return r.exit_code, r.output


def test_plan_json_counts_what_compiles_and_what_runs(tmp_path: Path) -> None:
    project = write_project(tmp_path)
    code, out = invoke("matrix", "plan", "--runtime", "host", "--matrix", str(project),
                       "--preset", "smoke", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["summary"]["cells"] == 2
    assert {s["run"] for s in data["steps"]} <= {"no_gpu", "skipped_arch", "run"}
