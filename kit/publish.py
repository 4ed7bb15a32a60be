"""`kit publish`: the report as a comment on the upstream issue (updated, never duplicated,
thanks to a hidden marker) and the bundle's text files as a gist — GitHub's REST API through
requests, with retries on 5xx and rate limits, and everything redacted before it is sent."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from kit import __version__
from kit.errors import KitError
from kit.redact import redact

API = "https://api.github.com"
MAX_ATTEMPTS = 5
MAX_WAIT = 60.0


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

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28", "User-Agent": f"kit/{__version__}"}

    def clean(self, text: str) -> str:
        return redact(text, extra_secrets=[self.token])

    def request(self, method: str, path: str, body: dict[str, Any] | None = None,
                params: dict[str, Any] | None = None) -> Any:
        url = f"{self.api}{path}"
        if self.dry_run and method != "GET":
            shown = {**self.headers, "Authorization": "Bearer <redacted>"}
            self.sent.append({"method": method, "url": url, "headers": shown, "json": body})
            return {"html_url": "(dry run)", "id": 0}
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                r = self.session.request(method, url, json=body, params=params,
                                         headers=self.headers, timeout=60)
            except requests.RequestException as exc:
                if attempt == MAX_ATTEMPTS:
                    raise PublishError(f"{method} {url}: {type(exc).__name__}",
                                       hint="check the network and --api") from None
                self.sleep(min(2.0 ** (attempt - 1), MAX_WAIT))
                continue
            wait = _retry_after(r, attempt)
            if wait is not None and attempt < MAX_ATTEMPTS:
                self.sleep(wait)
                continue
            if r.status_code >= 400:
                message = _message(r)
                raise PublishError(f"{method} {path}: HTTP {r.status_code}: {message}",
                                   hint="check the token's scopes (repo / gist) and the "
                                        "repository name")
            return r.json() if r.content else {}
        raise PublishError(f"{method} {path}: gave up after {MAX_ATTEMPTS} attempts")

    def comment(self, repo: str, issue: int, body: str, key: str) -> dict[str, Any]:
        """Post the report, or update kit's earlier comment carrying the same marker."""
        text = self.clean(body).rstrip() + "\n\n" + marker(key) + "\n"
        existing = self._find_comment(repo, issue, marker(key))
        if existing is not None:
            data = self.request("PATCH", f"/repos/{repo}/issues/comments/{existing}",
                                {"body": text})
            action = "updated"
        else:
            data = self.request("POST", f"/repos/{repo}/issues/{issue}/comments", {"body": text})
            action = "created"
        return {"action": "dry-run" if self.dry_run else action,
                "url": data.get("html_url", ""), "would_send": self.sent}

    def gist(self, files: dict[str, str], description: str) -> dict[str, Any]:
        body = {"description": self.clean(description), "public": False,
                "files": {name: {"content": self.clean(text)} for name, text in files.items()}}
        data = self.request("POST", "/gists", body)
        return {"url": data.get("html_url", ""), "would_send": self.sent}

    def _find_comment(self, repo: str, issue: int, mark: str) -> int | None:
        page = 1
        while page <= 50:  # 5,000 comments is more than any issue kit comments on
            found = self.request("GET", f"/repos/{repo}/issues/{issue}/comments",
                                 params={"per_page": 100, "page": page})
            if not isinstance(found, list) or not found:
                return None
            for c in found:
                if mark in str(c.get("body", "")):
                    return int(c["id"])
            page += 1
        return None


def _retry_after(r: requests.Response, attempt: int) -> float | None:
    """Seconds to wait before retrying, or None when the answer is final."""
    limited = r.status_code == 429 or (r.status_code == 403 and (
        r.headers.get("X-RateLimit-Remaining") == "0" or "Retry-After" in r.headers))
    if not limited and r.status_code < 500:
        return None
    if "Retry-After" in r.headers:
        try:
            return min(float(r.headers["Retry-After"]), MAX_WAIT)
        except ValueError:
            pass
    reset = r.headers.get("X-RateLimit-Reset")
    if reset and reset.isdigit():
        return min(max(int(reset) - time.time(), 0.0), MAX_WAIT)
    return min(2.0 ** (attempt - 1), MAX_WAIT)


def _message(r: requests.Response) -> str:
    try:
        return str(r.json().get("message", ""))[:200]
    except ValueError:
        return r.text[:200]


def token_from_env(env: dict[str, str], *, required: bool) -> str:
    token = env.get("GITHUB_TOKEN") or env.get("GH_TOKEN") or ""
    if not token and required:
        raise PublishError("no GitHub token", hint="export GITHUB_TOKEN (or GH_TOKEN) with the "
                                                   "repo scope, and gist for --gist")
    return token


def publish_run(gh: GitHub, run_path: Any, report_md: str, files: dict[str, str], *,
                repo: str, issue: int, key: str, gist: bool) -> dict[str, Any]:
    """The run's report as a comment on repo#issue; with gist, its text files first."""
    if "/" not in repo or repo.count("/") != 1:
        raise PublishError(f"--repo '{repo}': expected OWNER/NAME")
    out: dict[str, Any] = {}
    body = report_md
    if gist:
        out["gist"] = gh.gist(files, f"kit results {run_path.name}")
        body += f"\n\nLogs, standalone sources and data: {out['gist']['url']}\n"
    out["comment"] = gh.comment(repo, issue, body, key)
    return out
