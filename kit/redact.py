"""What must never leave the machine: tokens, secret-looking environment values, the home
folder, the host name and the user name. Applied to everything kit sends anywhere."""

from __future__ import annotations

import getpass
import os
import re
import socket
from collections.abc import Sequence
from pathlib import Path

_TOKEN = re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})\b")
_SECRET_VARS = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY)$")


def redact(text: str, *, extra_secrets: Sequence[str] = ()) -> str:
    secrets = [v for k, v in os.environ.items() if _SECRET_VARS.search(k) and len(v) >= 8]
    secrets += [s for s in extra_secrets if s]
    for value in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(value, "<redacted>")
    text = _TOKEN.sub("<redacted>", text)
    home = str(Path.home())
    if len(home) > 1:
        text = re.sub(re.escape(home) + r"(?=/|\b)", "~", text)
    user = _user()
    if user:
        text = re.sub(rf"/(home|Users)/{re.escape(user)}(?=/|\b)", "~", text)
    host = socket.gethostname()
    if len(host) >= 3:
        text = re.sub(rf"\b{re.escape(host)}\b", "<host>", text)
    return text


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""
