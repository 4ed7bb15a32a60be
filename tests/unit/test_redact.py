from __future__ import annotations

import socket
from pathlib import Path

import pytest

from kit.redact import redact


def test_tokens_secrets_home_and_host_never_survive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_SERVICE_TOKEN", "s3cr3t-value-123")
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: Path("/home/alice")))
    monkeypatch.setattr(socket, "gethostname", lambda: "buildbox7")
    text = ("token ghp_abcdefghijklmnopqrstuvwxyz0123 and s3cr3t-value-123 in "
            "/home/alice/src/cutlass on buildbox7; github_pat_ABCDEFGHIJKLMNOPQRSTUV_1234")
    out = redact(text, extra_secrets=["hunter22hunter22"])
    assert "ghp_" not in out and "github_pat_" not in out
    assert "s3cr3t" not in out
    assert "/home/alice" not in out and "~/src/cutlass" in out
    assert "buildbox7" not in out and "<host>" in out


def test_ordinary_words_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "gethostname", lambda: "ci")  # too short to be sure
    assert redact("init_error_internal on sm_121a: ci passed") == \
        "init_error_internal on sm_121a: ci passed"
