"""kit publish against a real HTTP server on loopback that speaks the GitHub endpoints used."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from click.testing import CliRunner

from kit import __version__
from kit.cli.commands import cli
from kit.report import publish
from tests.integration.conftest import ROOT

TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
PER_PAGE = 100


def no_sleep(seconds: float) -> None:
    raise AssertionError(f"unexpected retry (would sleep {seconds} s)")


@dataclass
class FakeGitHub:
    """In-memory issues/comments/gists, plus scripted answers for the next requests."""

    comments: list[dict[str, Any]] = field(default_factory=list)
    gists: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    link_headers: bool = False  # paginate like GitHub: Link with rel="next" while more remain
    base: str = ""

    def add_comment(self, body: str, issue: int = 1) -> dict[str, Any]:
        cid = 1000 + len(self.comments)
        c = {"id": cid, "issue": issue, "body": body, "html_url": f"http://gh.test/c/{cid}"}
        self.comments.append(c)
        return c


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
            raw = self.rfile.read(length).decode() if length else ""
            body: dict[str, Any] = json.loads(raw) if raw else {}
            state.requests.append({"method": method, "path": self.path, "raw": raw,
                                   "headers": dict(self.headers), "body": body})
            if state.script:
                status, headers = state.script.pop(0)
                self._answer(status, {"message": f"scripted {status}"}, headers)
                return
            path = urlsplit(self.path).path
            parts = path.strip("/").split("/")
            if method == "GET" and path.endswith("/comments") and len(parts) == 6:
                self._list(int(parts[4]), parse_qs(urlsplit(self.path).query), path)
            elif method == "POST" and path.endswith("/comments") and len(parts) == 6:
                self._answer(201, state.add_comment(body["body"], int(parts[4])))
            elif method == "PATCH" and "/issues/comments/" in path:
                c = next((c for c in state.comments if c["id"] == int(parts[-1])), None)
                if c is None:
                    self._answer(404, {"message": "Not Found"})
                    return
                c["body"] = body["body"]
                self._answer(200, c)
            elif method == "POST" and path == "/gists":
                gid = f"g{len(state.gists) + 1}"
                state.gists.append({"id": gid, **body})
                self._answer(201, {"id": gid, "html_url": f"http://gh.test/gist/{gid}"})
            else:
                self._answer(404, {"message": "Not Found"})

        def _list(self, issue: int, query: dict[str, list[str]], path: str) -> None:
            page = int(query.get("page", ["1"])[0])
            per_page = int(query.get("per_page", ["30"])[0])
            mine = [c for c in state.comments if c["issue"] == issue]
            chunk = mine[(page - 1) * per_page: page * per_page]
            headers = {}
            if state.link_headers:
                last = max(1, -(-len(mine) // per_page))
                links = [f'<{state.base}{path}?per_page={per_page}&page={last}>; rel="last"']
                if page < last:
                    links.insert(0, f'<{state.base}{path}?per_page={per_page}&page={page + 1}>;'
                                    ' rel="next"')
                headers["Link"] = ", ".join(links)
            self._answer(200, chunk, headers)

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
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state, state.base
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.trust_env = False  # no proxy from the environment between kit and 127.0.0.1
        yield s


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


def assert_nothing_leaked(state: FakeGitHub) -> None:
    """The token travels in the Authorization header only; no body carries the token, the home
    folder or the host name."""
    assert state.requests
    sent = "\n".join(r["raw"] for r in state.requests)
    assert TOKEN not in sent
    assert str(Path.home()) + "/secret" not in sent
    if len(socket.gethostname()) >= 3:  # shorter names are not redacted: too many false hits
        assert socket.gethostname() not in sent
    for r in state.requests:
        assert TOKEN not in r["path"]
        assert [k for k, v in r["headers"].items() if TOKEN in v] == ["Authorization"]
        assert r["headers"]["Authorization"] == f"Bearer {TOKEN}"


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
    assert first["headers"]["Accept"] == "application/vnd.github+json"
    assert first["headers"]["X-GitHub-Api-Version"] == "2022-11-28"
    assert first["headers"]["User-Agent"] == f"kit/{__version__}"
    assert first["body"]["public"] is False
    assert "http://gh.test/gist/g1" in state.requests[2]["body"]["body"]  # linked from it
    assert "<!-- kit-report:sm90 -->" in state.comments[0]["body"]
    assert_nothing_leaked(state)
    sent = "\n".join(r["raw"] for r in state.requests)
    assert "<redacted>" in sent and "~/secret/thing" in sent


def test_marker_found_on_a_later_page_is_patched(github: tuple[FakeGitHub, str],
                                                 session: requests.Session) -> None:
    state, api = github
    state.link_headers = True
    for i in range(PER_PAGE + 30):  # kit's comment is the 121st: on page 2 of 2
        state.add_comment(f"comment {i}" if i != 120 else "old\n<!-- kit-report:smoke -->")
    state.add_comment("another issue <!-- kit-report:smoke -->", issue=2)
    done = publish.publish_comment("o/r", 1, "new table", key="smoke", api=api, session=session,
                                   dry_run=False, token=TOKEN, sleep=no_sleep)
    assert done["action"] == "updated" and done["url"] == "http://gh.test/c/1120"
    assert [(r["method"], r["path"]) for r in state.requests] == [
        ("GET", "/repos/o/r/issues/1/comments?per_page=100&page=1"),
        ("GET", "/repos/o/r/issues/1/comments?per_page=100&page=2"),
        ("PATCH", "/repos/o/r/issues/comments/1120")]
    assert state.comments[120]["body"] == "new table\n\n<!-- kit-report:smoke -->\n"
    assert done["request"]["json"] == {"body": state.comments[120]["body"]}
    assert done["request"]["headers"]["Authorization"] == "Bearer <redacted>"

    # another key: the last page has no rel="next", so kit stops there and posts a new one
    state.requests.clear()
    done = publish.publish_comment("o/r", 1, "x", key="other", api=api, session=session,
                                   dry_run=False, token=TOKEN, sleep=no_sleep)
    assert done["action"] == "created"
    assert [r["method"] for r in state.requests] == ["GET", "GET", "POST"]
    assert_nothing_leaked(state)


def test_without_link_headers_an_empty_page_ends_the_listing(
        github: tuple[FakeGitHub, str], session: requests.Session) -> None:
    state, api = github
    state.add_comment("someone else's")
    done = publish.publish_comment("o/r", 1, "t", key="k", api=api, session=session,
                                   dry_run=False, token=TOKEN, sleep=no_sleep)
    assert done["action"] == "created"
    assert [r["path"] for r in state.requests] == [
        "/repos/o/r/issues/1/comments?per_page=100&page=1",
        "/repos/o/r/issues/1/comments?per_page=100&page=2",
        "/repos/o/r/issues/1/comments"]


def test_retries_on_5xx_and_rate_limits(github: tuple[FakeGitHub, str],
                                        session: requests.Session) -> None:
    state, api = github
    state.script = [(502, {}), (429, {"Retry-After": "7"}),
                    (403, {"X-RateLimit-Remaining": "0", "Retry-After": "3"}), (503, {})]
    waits: list[float] = []
    done = publish.publish_comment("o/r", 1, "hello", api=api, session=session,
                                   dry_run=False, token=TOKEN, sleep=waits.append)
    assert done["action"] == "created"
    assert waits == [1.0, 7.0, 3.0, 8.0]  # backoff doubles with the attempt: 1, 2, 4, 8
    assert [r["method"] for r in state.requests] == ["GET"] * 5 + ["POST"]
    assert len(state.comments) == 1


def test_rate_limit_reset_is_waited_for(github: tuple[FakeGitHub, str],
                                        session: requests.Session) -> None:
    state, api = github
    reset = int(time.time()) + 10
    state.script = [(403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)})]
    waits: list[float] = []
    done = publish.publish_gist({"report.md": "x"}, "d", api=api, session=session,
                                dry_run=False, token=TOKEN, sleep=waits.append)
    assert done["url"] == "http://gh.test/gist/g1"
    assert len(waits) == 1 and 8.0 <= waits[0] <= 12.0
    assert [r["method"] for r in state.requests] == ["POST", "POST"]


def test_gives_up_without_sleeping_past_the_cap(github: tuple[FakeGitHub, str],
                                                session: requests.Session) -> None:
    state, api = github
    waits: list[float] = []
    state.script = [(429, {"Retry-After": "30"}), (429, {"Retry-After": "40"})]
    with pytest.raises(publish.PublishError, match="HTTP 429") as err:
        publish.publish_gist({"a": "b"}, "d", api=api, session=session, dry_run=False,
                             token=TOKEN, sleep=waits.append)
    assert waits == [30.0] and len(state.requests) == 2 and err.value.exit_code == 8

    state.script = [(500, {})] * 5
    waits.clear()
    with pytest.raises(publish.PublishError, match="gave up after 5 attempts"):
        publish.publish_gist({"a": "b"}, "d", api=api, session=session, dry_run=False,
                             token=TOKEN, sleep=waits.append)
    assert waits == [1.0, 2.0, 4.0, 8.0] and not state.gists


def test_other_4xx_names_status_and_message_never_the_token(
        github: tuple[FakeGitHub, str], session: requests.Session) -> None:
    state, api = github
    state.script = [(404, {})]
    with pytest.raises(publish.PublishError, match="HTTP 404: scripted 404") as err:
        publish.publish_comment("o/r", 1, "b", api=api, session=session, dry_run=False,
                                token=TOKEN, sleep=no_sleep)
    assert TOKEN not in str(err.value) and len(state.requests) == 1
    state.script = [(403, {})]  # a plain 403 (no scope) is final, not a rate limit
    with pytest.raises(publish.PublishError, match="HTTP 403"):
        publish.publish_gist({"a": "b"}, "d", api=api, session=session, dry_run=False,
                             token=TOKEN, sleep=no_sleep)


def test_dry_run_sends_nothing_and_returns_the_exact_request(
        github: tuple[FakeGitHub, str], session: requests.Session,
        monkeypatch: pytest.MonkeyPatch) -> None:
    state, api = github
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    body = f"table\nbuilt in {Path.home()}/work with {TOKEN}"
    done = publish.publish_comment("o/r", 7, body, key="sm90", api=api + "/", session=session,
                                   dry_run=True)
    gist = publish.publish_gist({"report.md": body}, "kit results", api=api, session=session,
                                dry_run=True)
    assert state.requests == []
    text = "table\nbuilt in ~/work with <redacted>\n\n<!-- kit-report:sm90 -->\n"
    headers = {"Authorization": "Bearer <redacted>", "Accept": "application/vnd.github+json",
               "X-GitHub-Api-Version": "2022-11-28", "User-Agent": f"kit/{__version__}"}
    assert done == {"action": "dry-run", "url": "(dry run)",
                    "request": {"method": "POST", "url": f"{api}/repos/o/r/issues/7/comments",
                                "headers": headers, "json": {"body": text}}}
    assert gist["request"] == {
        "method": "POST", "url": f"{api}/gists", "headers": headers,
        "json": {"description": "kit results", "public": False,
                 "files": {"report.md": {"content": "table\nbuilt in ~/work with <redacted>"}}}}


def test_cli_dry_run_sends_nothing(github: tuple[FakeGitHub, str], run: Path) -> None:
    state, api = github
    code, out = publish_cli(api, run, "--dry-run", "--gist")
    assert code == 0, out
    data = json.loads(out)
    gist, comment = data["comment"]["would_send"]
    assert gist["url"] == f"{api}/gists" and comment["method"] == "POST"
    assert comment["url"].endswith("/repos/NVIDIA/cutlass/issues/3144/comments")
    assert comment["headers"]["Authorization"] == "Bearer <redacted>"
    assert "<!-- kit-report:sm90 -->" in comment["json"]["body"]
    assert state.requests == []
    assert TOKEN not in out and str(Path.home()) + "/secret" not in out


def test_a_token_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("GH_TOKEN", raising=False)
    with pytest.raises(publish.PublishError, match="no GitHub token") as err:
        publish.publish_comment("o/r", 1, "b", api="http://127.0.0.1:9", dry_run=False)
    assert "GITHUB_TOKEN" in str(err.value) and err.value.exit_code == 8
    assert publish.token_from_env({"GH_TOKEN": "b"}, required=True) == "b"
    assert publish.token_from_env({"GITHUB_TOKEN": "a", "GH_TOKEN": "b"}, required=True) == "a"
    with pytest.raises(publish.PublishError, match="OWNER/NAME"):
        publish.publish_comment("cutlass", 1, "b", api="http://127.0.0.1:9", dry_run=True)
