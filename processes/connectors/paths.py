"""Confinement of step-named paths to a connection's directory (`file`, `ftp`, `sftp`).

One rule for every connector and poller that takes a path from a process: the path is
relative to the connection's `base_dir` and stays under it. Absolute paths, `~`, drive
letters, backslashes and control characters (NUL, CR/LF: FTP command injection) are
refused outright; after normalisation, a path whose `..` segments climb above the base is
refused. `sub/../x` is fine: it normalises to `x`.
"""

from __future__ import annotations

import os
import posixpath
import re
from pathlib import Path

from pydantic import ValidationInfo

from runtime.core.errors import WharfError

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE = re.compile(r"^[A-Za-z]:")


class PathRefused(WharfError):
    status = 400
    problem = "path-refused"
    title = "Path refused"


def confine(relative: str, error: type[WharfError] = PathRefused) -> str:
    """`relative`, normalised (`.` for the base itself), or `error` if it would leave the
    base directory. The caller joins the result to its base."""
    shown = repr(relative)[:200]
    if not relative:
        raise error(f"{shown}: an empty path; paths are relative to the connection's directory")
    if _CONTROL.search(relative):
        raise error(f"{shown}: control characters are not allowed in a path")
    if "\\" in relative:
        raise error(f"{shown}: backslashes are not allowed in a path; use /")
    if relative.startswith(("/", "~")) or _DRIVE.match(relative):
        raise error(f"{shown}: paths are relative to the connection's directory")
    normal = posixpath.normpath(relative)
    if normal == ".." or normal.startswith("../"):
        raise error(f"{shown} leads outside the connection's directory")
    return normal


def join_confined(base: str, relative: str, error: type[WharfError] = PathRefused) -> str:
    """The POSIX path of `relative` under `base` (see `confine`)."""
    normal = confine(relative, error)
    return base if normal == "." else posixpath.join(base, normal)


def relative_to_definitions(value: str | None, info: ValidationInfo) -> str | None:
    """A relative local path in connections.yaml made absolute against the directory that
    holds the file, as process files' own paths are (not the server's working directory)."""
    directory = (info.context or {}).get("base_dir")
    if directory is None or not value or Path(value).is_absolute() or "://" in value:
        return value
    return os.path.abspath(Path(directory) / value)
