"""kit publish against a real HTTP server on loopback that speaks the GitHub endpoints used."""

from __future__ import annotations

import json
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

from kit import publish
from kit.cli import cli
from tests.integration.conftest import ROOT

TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


@dataclass
class FakeGitHub:
    """In-memory issues/comments/gists, plus scripted failures for the next requests."""

    comments: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)


def handler_for(state: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
            blob = json.dumps(data).encode()
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(blob)))
            self.end_headers()
            self.wfile.write(blob)

        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body: dict[str, Any] = json.loads(self.rfile.read(length)) if length else {}
            state.requests.append({"method": method, "path": self.path,
                                   "headers": dict(self.headers), "body": body})
            if state.script:
                status, headers = state.script.pop(0)
                self._answer(status, {"message": "scripted"}, headers)
                return
            path = self.path.split("?")[0]
            if method == "GET" and path.endswith("/comments"):
                query = parse_qs(urlsplit(self.path).query)
                page = int(query.get("page", ["1"])[0])
                self._answer(200, state.comments[(page - 1) * 100: page * 100])
            elif method == "POST" and path.endswith("/comments"):
                c = {"id": 1000 + len(state.comments), "body": body["body"],
                     "html_url": f"http://gh.test/c/{1000 + len(state.comments)}"}
                state.comments.append(c)
                self._answer(201, c)
            elif method == "PATCH" and "/issues/comments/" in path:
                cid = int(path.rsplit("/", 1)[1])
                c = next(c for c in state.comments if c["id"] == cid)
                c["body"] = body["body"]
                self._answer(200, c)
            elif method == "POST" and path == "/gists":
                self._answer(201, {"id": "g1", "html_url": "http://gh.test/gist/g1"})
            else:
                self._answer(404, {"message": "Not Found"})

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PATCH(self) -> None:
            self._handle("PATCH")

    return Handler


@pytest.fixture
def github() -> Iterator[tuple[FakeGitHub, str]]:
    state = FakeGitHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def run(tmp_path: Path) -> Path:
    dest = tmp_path / "sm90"
    shutil.copytree(ROOT / "docs/evidence/h100-2026-11-25/sm90", dest)
    # what must never leave: a home path and the host name, planted in a log
    log = next((dest / "logs").glob("*function_template-int-unsigned*.log"))
    log.write_text(log.read_text() + f"\n{Path.home()}/secret/thing on {socket.gethostname()}"
                                     f" token {TOKEN}\n")
    return dest


def publish_cli(api: str, run: Path, *extra: str) -> tuple[int, str]:
    r = CliRunner(env={"GITHUB_TOKEN": TOKEN}).invoke(
        cli, ["publish", str(run), "--repo", "NVIDIA/cutlass", "--issue", "3144", "--api", api,
              "--matrix", str(ROOT / "matrix.yaml"), "--json", *extra], catch_exceptions=False)
    return r.exit_code, r.output


def test_publish_creates_then_updates_never_duplicates(github: tuple[FakeGitHub, str],
                                                        run: Path) -> None:
    state, api = github
    code, out = publish_cli(api, run, "--gist")
    assert code == 0, out
    assert json.loads(out)["comment"]["action"] == "created"
    code, out = publish_cli(api, run)
    assert code == 0, out
    assert json.loads(out)["comment"]["action"] == "updated"
    assert len(state.comments) == 1
    methods = [(r["method"], r["path"].split("?")[0]) for r in state.requests]
    assert methods == [("POST", "/gists"),
                       ("GET", "/repos/NVIDIA/cutlass/issues/3144/comments"),
                       ("POST", "/repos/NVIDIA/cutlass/issues/3144/comments"),
                       ("GET", "/repos/NVIDIA/cutlass/issues/3144/comments"),
                       ("PATCH", "/repos/NVIDIA/cutlass/issues/comments/1000")]
    first = state.requests[0]
    assert first["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert first["headers"]["X-GitHub-Api-Version"] == "2022-11-28"
    assert "http://gh.test/gist/g1" in state.requests[2]["body"]["body"]  # linked from it
    sent = json.dumps([r["body"] for r in state.requests])
    assert TOKEN not in sent
    assert str(Path.home()) + "/secret" not in sent
    if len(socket.gethostname()) >= 3:  # shorter names are not redacted: too many false hits
        assert socket.gethostname() not in sent
    assert "<redacted>" in sent and "~/secret/thing" in sent


def test_retries_on_5xx_and_rate_limits(github: tuple[FakeGitHub, str]) -> None:
    state, api = github
    state.script = [(502, {}), (429, {"Retry-After": "7"}),
                    (403, {"X-RateLimit-Remaining": "0", "Retry-After": "3"})]
    waits: list[float] = []
    gh = publish.GitHub(token=TOKEN, api=api, sleep=waits.append)
    done = gh.comment("o/r", 1, "hello", "k")
    assert done["action"] == "created"
    assert waits == [1.0, 7.0, 3.0]
    gh_fail = publish.GitHub(token=TOKEN, api=api, sleep=waits.append)
    state.script = [(404, {})]
    with pytest.raises(publish.PublishError, match="HTTP 404") as err:
        gh_fail.request("GET", "/repos/o/r")
    assert TOKEN not in err.value.message


def test_dry_run_sends_nothing_and_shows_the_request(github: tuple[FakeGitHub, str],
                                                     run: Path) -> None:
    state, api = github
    code, out = publish_cli(api, run, "--dry-run")
    assert code == 0, out
    data = json.loads(out)
    (would,) = data["comment"]["would_send"]
    assert would["method"] == "POST"
    assert would["url"].endswith("/repos/NVIDIA/cutlass/issues/3144/comments")
    assert would["headers"]["Authorization"] == "Bearer <redacted>"
    assert "<!-- kit-report:sm90 -->" in would["json"]["body"]
    assert [r["method"] for r in state.requests] == ["GET"]  # it only looked
    assert TOKEN not in out
