from __future__ import annotations

import getpass
import os
import socket
from pathlib import Path

import pytest

from kit.report.redact import redact


@pytest.fixture(autouse=True)
def _machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """A known home, host and user, and no secret-looking variables of this machine."""
    for name in list(os.environ):
        if name.upper().endswith(("TOKEN", "SECRET", "PASSWORD", "PASSWD", "API_KEY")):
            monkeypatch.delenv(name)
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: Path("/home/alice")))
    monkeypatch.setattr(socket, "gethostname", lambda: "buildbox7")
    monkeypatch.setattr(getpass, "getuser", lambda: "alice")


def test_tokens_secrets_home_and_host_never_survive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_SERVICE_TOKEN", "s3cr3t-value-123")
    text = ("token ghp_abcdefghijklmnopqrstuvwxyz0123 and s3cr3t-value-123 in "
            "/home/alice/src/cutlass on buildbox7; github_pat_ABCDEFGHIJKLMNOPQRSTUV_1234 "
            "and hunter22hunter22")
    out = redact(text, extra_secrets=["hunter22hunter22"])
    assert out == ("token <redacted> and <redacted> in ~/src/cutlass on <host>; <redacted> "
                   "and <redacted>")


@pytest.mark.parametrize("prefix", ["ghp", "gho", "ghu", "ghs", "ghr"])
def test_every_github_token_kind(prefix: str) -> None:
    token = f"{prefix}_" + "x" * 36
    assert redact(f"Authorization: Bearer {token}.") == "Authorization: Bearer <redacted>."


def test_secret_variables_by_name_and_length(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "plain-token-1")  # not ghp_-shaped: found by its name
    monkeypatch.setenv("GH_TOKEN", "another-token-2")
    monkeypatch.setenv("DB_PASSWORD", "correct horse")
    monkeypatch.setenv("AWS_SECRET", "short")  # < 8 characters: would hit ordinary words
    monkeypatch.setenv("TOKENIZER", "not-a-secret-value")  # the name does not end in TOKEN
    out = redact("plain-token-1 another-token-2 correct horse short not-a-secret-value")
    assert out == "<redacted> <redacted> <redacted> short not-a-secret-value"


def test_longest_secret_first_leaves_no_partial_value() -> None:
    assert redact("abcdefgh-and-more", extra_secrets=["abcdefgh", "abcdefgh-and-more"]) == \
        "<redacted>"
    assert redact("kept", extra_secrets=[""]) == "kept"


def test_home_and_user_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: Path("/srv/users/alice")))
    text = ('cd /srv/users/alice/x; "/home/alice/y" /Users/alice (/home/alice) '
            "/home/alice2/z /data/home/alice/w alice wrote alice's test")
    assert redact(text) == ('cd ~/x; "~/y" ~ (~) /home/alice2/z /data/home/alice/w '
                            "alice wrote alice's test")


def test_root_as_a_path_component(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(getpass, "getuser", lambda: "root")
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: Path("/root")))
    assert redact("/root/.cache/kit and /rootfs and /srv/root/x; root cause, -I/root/inc") == \
        "~/.cache/kit and /rootfs and /srv/root/x; root cause, -I~/inc"


def test_host_name_as_a_whole_word_only(monkeypatch: pytest.MonkeyPatch) -> None:
    assert redact("on buildbox7 (buildbox7.lan), not buildbox77 or mybuildbox7") == \
        "on <host> (<host>.lan), not buildbox77 or mybuildbox7"
    monkeypatch.setattr(socket, "gethostname", lambda: "ci")  # too short to be sure
    assert redact("init_error_internal on sm_121a: ci passed") == \
        "init_error_internal on sm_121a: ci passed"


def test_ordinary_report_text_is_unchanged() -> None:
    text = ("| `host` · `4.2` · `unsigned_trait` | ❌ init_error_internal | ✅ ok |\n"
            "cutlass::device_kernel<cute::C<32u>> on sm_90a, /usr/local/cuda/bin/nvcc")
    assert redact(text) == text
