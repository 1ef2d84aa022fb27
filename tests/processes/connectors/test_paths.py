"""The one confinement rule of `file`, `ftp` and `sftp` paths (processes/connectors/paths.py)."""

from __future__ import annotations

import pytest

from processes.connectors.paths import PathRefused, confine, join_confined


@pytest.mark.parametrize(
    ("path", "normal"),
    [("a.txt", "a.txt"), ("in/./a.txt", "in/a.txt"), ("in/../a.txt", "a.txt"), (".", ".")],
)
def test_paths_inside_are_normalised(path: str, normal: str) -> None:
    assert confine(path) == normal


@pytest.mark.parametrize(
    "path",
    [
        "",
        "..",
        "../a",
        "in/../../a",
        "/etc/passwd",
        "//server/share",
        "~/a",
        "~root/a",
        "C:/a",
        "..\\a",
        "in\\..\\..\\a",
        "a\x00b",
        "a\r\nDELE b",
        "a\tb",
    ],
)
def test_paths_leaving_the_base_are_refused(path: str) -> None:
    with pytest.raises(PathRefused) as refused:
        confine(path)
    assert refused.value.status == 400


def test_join_confined_keeps_the_base() -> None:
    assert join_confined("/outbox", "in/a.csv") == "/outbox/in/a.csv"
    assert join_confined("/outbox", ".") == "/outbox"
    with pytest.raises(PathRefused):
        join_confined("/outbox", "../private.txt")
