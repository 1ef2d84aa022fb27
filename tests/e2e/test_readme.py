"""The README's curl lines work verbatim against `wharf run sample_processes`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from tests.serverproc import ADMIN_KEY, ROOT, WharfServer

pytestmark = pytest.mark.e2e

README_URL = "http://127.0.0.1:8080"


def readme_examples() -> list[tuple[str, str]]:
    """(command, expected output) for every `$ curl` line in a console block."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    examples = []
    for block in re.findall(r"```console\n(.*?)```", text, flags=re.DOTALL):
        lines = block.splitlines()
        for index, line in enumerate(lines):
            if not line.startswith("$ curl"):
                continue
            output = []
            for following in lines[index + 1 :]:
                if following.startswith("$ "):
                    break
                output.append(following)
            examples.append((line[2:], "\n".join(output)))
    return examples


def matches(expected: str, actual: str) -> bool:
    """Exact, except that `…` in the README stands for text that differs per run (ids)."""
    pattern = "".join(
        '[^"]*' if part == "…" else re.escape(part) for part in re.split("(…)", expected)
    )
    return re.fullmatch(pattern, actual.strip()) is not None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WharfServer]:
    workdir = tmp_path_factory.mktemp("readme")
    # A copy: the samples' relative paths (.wharf/...) are beside connections.yaml.
    samples = workdir / "samples"
    shutil.copytree(ROOT / "sample_processes", samples, ignore=shutil.ignore_patterns(".wharf"))
    with WharfServer(samples, cwd=workdir) as running:
        yield running


def test_readme_has_examples() -> None:
    assert len(readme_examples()) >= 7


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize(("command", "expected"), readme_examples(), ids=lambda v: v[:60])
def test_readme_curl_line(server: WharfServer, command: str, expected: str) -> None:
    assert README_URL in command
    command = command.replace(README_URL, server.url)
    env = {**os.environ, "WHARF_ADMIN_KEY": ADMIN_KEY}  # the key the server was given
    result = subprocess.run(
        ["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=30, env=env
    )
    assert result.returncode == 0, result.stderr
    if expected:
        assert matches(expected, result.stdout), f"expected:\n{expected}\ngot:\n{result.stdout}"
