"""`kit publish`: the report as a comment on the upstream issue (updated, never duplicated,
thanks to a hidden marker) and the bundle's text files as a gist — GitHub's REST API through
requests, with retries on 5xx and rate limits, and everything redacted before it is sent."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from kit import __version__
from kit.report.redact import SECRET, redact
from kit.util.errors import KitError

API = "https://api.github.com"
MAX_ATTEMPTS = 5
MAX_WAIT = 60.0  # one wait, and all the waits of one request together
MAX_PAGES = 50  # 5,000 comments is more than any issue kit comments on


class PublishError(KitError):
    """GitHub refused or could not be reached."""

    exit_code = 8


def marker(key: str) -> str:
    return f"<!-- kit-report:{key} -->"


@dataclass
class GitHub:
    token: str
    api: str = API
    dry_run: bool = False
    session: requests.Session = field(default_factory=requests.Session)
    sleep: Callable[[float], None] = time.sleep
    sent: list[dict[str, Any]] = field(default_factory=list)  # what dry-run would send

    def __post_init__(self) -> None:
        self.api = self.api.rstrip("/")

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28", "User-Agent": f"kit/{__version__}"}

    def shown(self, method: str, url: str, body: Any) -> dict[str, Any]:
        """A request as it may be printed: the token masked."""
        return {"method": method, "url": url,
                "headers": {**self.headers, "Authorization": f"Bearer {SECRET}"}, "json": body}

    def clean(self, text: str) -> str:
        return redact(text, extra_secrets=[self.token])

    def request(self, method: str, path: str, body: dict[str, Any] | None = None,
                params: dict[str, Any] | None = None) -> Any:
        """The JSON GitHub answers (in dry-run: sends nothing, records the request)."""
        if self.dry_run:
            self.sent.append(self.shown(method, f"{self.api}{path}", body))
            return [] if method == "GET" else {"html_url": "(dry run)", "id": 0}
        r = self.send(method, path, body, params)
        return r.json() if r.content else {}

    def send(self, method: str, path: str, body: dict[str, Any] | None = None,
             params: dict[str, Any] | None = None) -> requests.Response:
        """One request, retried on network errors, 5xx and rate limits; other 4xx raise."""
        url = f"{self.api}{path}"
        waited = 0.0
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                r: requests.Response | None = self.session.request(
                    method, url, json=body, params=params, headers=self.headers, timeout=60)
            except requests.RequestException as exc:
                r, failure = None, f"{type(exc).__name__}"
            if r is not None:
                wait = _retry_after(r, attempt)
                if wait is None:
                    if r.status_code >= 400:
                        raise PublishError(
                            f"{method} {path}: HTTP {r.status_code}: {self.clean(_message(r))}",
                            hint="check the token's scopes (repo / gist) and the repository "
                                 "name")
                    return r
                failure = f"HTTP {r.status_code}: {self.clean(_message(r))}"
            else:
                wait = _backoff(attempt)
            if attempt == MAX_ATTEMPTS or waited + wait > MAX_WAIT:
                raise PublishError(f"{method} {path}: {failure} (gave up after {attempt} "
                                   f"attempts and {waited:g} s of waiting; next wait "
                                   f"{wait:.0f} s)",
                                   hint="GitHub is down or rate-limits this token; try again "
                                        "later (check the network and --api)")
            self.sleep(wait)
            waited += wait
        raise AssertionError("unreachable")  # pragma: no cover

    def comment(self, repo: str, issue: int, body: str, key: str) -> dict[str, Any]:
        """Post the report, or update kit's earlier comment carrying the same marker.

        In dry-run nothing is sent, not even the lookup: the answer shows the POST, which
        becomes a PATCH of kit's earlier comment if the issue has one with this marker."""
        _check_repo(repo)
        text = self.clean(body).rstrip() + "\n\n" + marker(key) + "\n"
        existing = None if self.dry_run else self._find_comment(repo, issue, marker(key))
        if existing is not None:
            method, path, action = "PATCH", f"/repos/{repo}/issues/comments/{existing}", "updated"
        else:
            method, path, action = "POST", f"/repos/{repo}/issues/{issue}/comments", "created"
        data = self.request(method, path, {"body": text})
        return {"action": "dry-run" if self.dry_run else action,
                "url": str(data.get("html_url", "")),
                "request": self.shown(method, f"{self.api}{path}", {"body": text}),
                "would_send": self.sent}

    def gist(self, files: Mapping[str, str], description: str) -> dict[str, Any]:
        """A secret gist of `files` (name -> text)."""
        if not files:
            raise PublishError("nothing to put in a gist: no files")
        body = {"description": self.clean(description), "public": False,
                "files": {name: {"content": self.clean(text) or "(empty)"}
                          for name, text in files.items()}}
        data = self.request("POST", "/gists", body)
        return {"action": "dry-run" if self.dry_run else "created",
                "url": str(data.get("html_url", "")),
                "request": self.shown("POST", f"{self.api}/gists", body),
                "would_send": self.sent}

    def _find_comment(self, repo: str, issue: int, mark: str) -> int | None:
        for page in range(1, MAX_PAGES + 1):
            r = self.send("GET", f"/repos/{repo}/issues/{issue}/comments",
                          params={"per_page": 100, "page": page})
            found = r.json() if r.content else []
            if not isinstance(found, list) or not found:
                return None
            for c in found:
                if isinstance(c, dict) and mark in str(c.get("body", "")):
                    return int(c["id"])
            if "link" in r.headers and "next" not in r.links:
                return None  # GitHub paginates with Link; no rel="next" is the last page
        return None


def _retry_after(r: requests.Response, attempt: int) -> float | None:
    """Seconds to wait before retrying (as GitHub asks: the caller gives up when that is
    beyond MAX_WAIT), or None when the answer is final."""
    limited = r.status_code == 429 or (r.status_code == 403 and (
        r.headers.get("X-RateLimit-Remaining") == "0" or "Retry-After" in r.headers))
    if not limited and r.status_code < 500:
        return None
    retry_after = r.headers.get("Retry-After", "")
    try:
        return max(float(retry_after), 0.0)
    except ValueError:
        pass
    reset = r.headers.get("X-RateLimit-Reset", "")
    if reset.isdigit():
        return max(int(reset) - time.time(), 0.0) + 1.0  # +1: clock skew
    return _backoff(attempt)


def _backoff(attempt: int) -> float:
    return min(2.0 ** (attempt - 1), MAX_WAIT)


def _message(r: requests.Response) -> str:
    try:
        data = r.json()
    except ValueError:
        return r.text[:200]
    return str(data.get("message", "") if isinstance(data, dict) else data)[:200]


def _check_repo(repo: str) -> None:
    owner, _, name = repo.partition("/")
    if not owner or not name or "/" in name:
        raise PublishError(f"--repo '{repo}': expected OWNER/NAME")


def token_from_env(env: Mapping[str, str], *, required: bool) -> str:
    token = env.get("GITHUB_TOKEN") or env.get("GH_TOKEN") or ""
    if not token and required:
        raise PublishError("no GitHub token", hint="export GITHUB_TOKEN (or GH_TOKEN) with the "
                                                   "repo scope, and gist for --gist")
    return token


def _client(api: str, session: requests.Session | None, dry_run: bool,
            token: str | None, sleep: Callable[[float], None]) -> GitHub:
    token = token or token_from_env(os.environ, required=not dry_run) or "<none>"
    return GitHub(token=token, api=api, dry_run=dry_run,
                  session=session if session is not None else requests.Session(), sleep=sleep)


def publish_comment(repo: str, issue: int, body: str, *, key: str = "kit", api: str = API,
                    session: requests.Session | None = None, dry_run: bool = False,
                    token: str | None = None,
                    sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """`body` (redacted, with the hidden marker of `key`) on repo#issue: kit's earlier comment
    with that marker is updated, else a new one is created. The token comes from GITHUB_TOKEN,
    else GH_TOKEN, unless given. Returns {"action": "created"|"updated"|"dry-run", "url",
    "request": {method, url, headers (token masked), json}}; dry-run sends nothing."""
    gh = _client(api, session, dry_run, token, sleep)
    done = gh.comment(repo, issue, body, key)
    return {k: done[k] for k in ("action", "url", "request")}


def publish_gist(files: Mapping[str, str], description: str, *, api: str = API,
                 session: requests.Session | None = None, dry_run: bool = False,
                 token: str | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """A secret gist of `files` (each redacted). Returns {"action", "url", "request"}."""
    gh = _client(api, session, dry_run, token, sleep)
    done = gh.gist(files, description)
    return {k: done[k] for k in ("action", "url", "request")}


def publish_run(gh: GitHub, run_path: Any, report_md: str, files: dict[str, str], *,
                repo: str, issue: int, key: str, gist: bool) -> dict[str, Any]:
    """The run's report as a comment on repo#issue; with gist, its text files first."""
    _check_repo(repo)
    out: dict[str, Any] = {}
    body = report_md
    if gist:
        out["gist"] = gh.gist(files, f"kit results {run_path.name}")
        body += f"\n\nLogs, standalone sources and data: {out['gist']['url']}\n"
    out["comment"] = gh.comment(repo, issue, body, key)
    return out
