"""What must never leave the machine: tokens, secret-looking environment values, the home
folder, the host name and the user name. Applied to everything kit sends anywhere."""

from __future__ import annotations

import getpass
import os
import re
import socket
from collections.abc import Sequence
from pathlib import Path

SECRET = "<redacted>"
HOST = "<host>"

_TOKEN = re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})\b")
_SECRET_VARS = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY)$")
MIN_SECRET = 8  # shorter values would redact ordinary words
# a path starts the text, or follows anything but a name character (a blank, a quote, '`',
# '=', ':', '//' ...) or an option such as -I: never inside a longer path (/srv/root/x)
_PATH_START = r"(?:(?<![\w.~-])|(?<=-[A-Za-z]))"
_PATH_END = r"(?![\w-]|\.\w)"  # ... and ends it or goes on with '/': /rootfs is another path


def redact(text: str, *, extra_secrets: Sequence[str] = ()) -> str:
    """`text` with GitHub tokens, values of *_TOKEN / *_SECRET / *_PASSWORD variables and
    `extra_secrets` replaced by <redacted>, the home folder and /home/<user>, /Users/<user>,
    /root by ~, and the host name (as a whole word) by <host>."""
    secrets = [v for k, v in os.environ.items()
               if _SECRET_VARS.search(k.upper()) and len(v) >= MIN_SECRET]
    secrets += [s for s in extra_secrets if s]
    for value in sorted(set(secrets), key=len, reverse=True):  # longest first: no partial leaks
        text = text.replace(value, SECRET)
    text = _TOKEN.sub(SECRET, text)
    homes = {str(Path.home()).rstrip("/")}
    user = _user()
    if user:
        homes |= {f"/home/{user}", f"/Users/{user}"}
    if user == "root":
        homes.add("/root")
    for home in sorted((h for h in homes if len(h) > 1), key=len, reverse=True):
        text = re.sub(_PATH_START + re.escape(home) + _PATH_END, "~", text)
    host = _host()
    if len(host) >= 3:
        text = re.sub(rf"(?<![\w.-]){re.escape(host)}(?![\w-])", HOST, text)
    return text


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def _host() -> str:
    try:
        return socket.gethostname()
    except OSError:
        return ""
