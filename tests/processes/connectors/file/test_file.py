"""The file connector: writes, reads, lists and moves, never outside its directory."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

from runtime.core.connections import Connections
from runtime.core.document import BodyKind, Document
from runtime.loading.loader import load_directory


def build(tmp_path: Path, steps: str) -> tuple[Any, Connections, Path]:
    base = tmp_path / "box"
    (tmp_path / "defs").mkdir()
    (tmp_path / "defs" / "connections.yaml").write_text(
        f"connections:\n  box:\n    connector: file\n    base_dir: {base}\n"
    )
    (tmp_path / "defs" / "p.yaml").write_text(
        "name: p\ntrigger: {http: {auth: none, path: /p}}\nsteps:\n"
        + textwrap.indent(textwrap.dedent(steps), "  ")
    )
    processes, configs, problems = load_directory(tmp_path / "defs")
    assert problems == []
    return processes[0], Connections(configs), base


async def test_write_read_list_move(tmp_path: Path) -> None:
    process, connections, base = build(
        tmp_path,
        """
        - file.write: {connection: box, path: "'in/' ~ doc.id ~ '.json'"}
        - file.move: {connection: box, from: props.file_path, to: "'done/' ~ doc.id ~ '.json'"}
        """,
    )
    result = await process.execute(
        [Document.json({"id": "a1", "n": 1}), Document.json({"id": "b2", "n": 2})],
        connections=connections,
    )
    assert result.execution.error is None, result.execution.error
    assert [d.properties["file_path"] for d in result.documents] == ["done/a1.json", "done/b2.json"]
    assert (base / "done" / "a1.json").read_bytes() == b'{"id":"a1","n":1}'
    assert list((base / "in").iterdir()) == []  # moved, and no temporary files left behind
    await connections.close()


async def test_paths_cannot_leave_the_directory(tmp_path: Path) -> None:
    process, connections, base = build(
        tmp_path, "- file.write: {connection: box, path: doc.path}\n"
    )
    (tmp_path / "secret.txt").write_text("top secret")
    await connections.client("box")  # creates the directory
    os.symlink(tmp_path / "secret.txt", base / "link.txt")
    for path in ("../escape.txt", "/etc/passwd", "sub/../../escape.txt", "link.txt", "", "a\x00b"):
        result = await process.execute([Document.json({"path": path})], connections=connections)
        error = result.execution.error
        assert error is not None, path
        assert error.problem == "file-access", path
    assert not (tmp_path / "escape.txt").exists()
    assert (tmp_path / "secret.txt").read_text() == "top secret"


async def test_read_list_and_create_mode(tmp_path: Path) -> None:
    process, connections, base = build(
        tmp_path,
        """
        - file.write: {connection: box, path: "'x/' ~ doc.name", write: create}
        """,
    )
    first = await process.execute([Document.text("one", "text/plain", {})], connections=connections)
    assert first.execution.error is not None  # `doc.name` on a text body is undefined
    ok = await process.execute([Document.json({"name": "a.csv"})], connections=connections)
    assert ok.execution.error is None
    again = await process.execute([Document.json({"name": "a.csv"})], connections=connections)
    assert again.execution.error is not None and again.execution.error.status == 409
    (base / "x" / "b.csv").write_text("id\n1\n")

    (tmp_path / "r").mkdir()
    reader, connections2, _ = build(
        tmp_path / "r",
        f"""
        - file.list: {{connection: box, directory: "{base}/x", pattern: "*.csv"}}
        """,
    )
    refused = await reader.execute([Document.empty()], connections=connections2)
    assert refused.execution.error is not None  # an absolute directory is refused
    await connections2.close()
    await connections.close()


@pytest.mark.parametrize("stream", [False, True])
async def test_list_then_read(tmp_path: Path, stream: bool) -> None:
    process, connections, base = build(
        tmp_path,
        f"""
        - file.list: {{connection: box, pattern: "*.csv", recursive: true}}
        - file.read: {{connection: box, path: doc.name, stream: {str(stream).lower()}}}
        """,
    )
    client = await connections.client("box")
    assert "writable directory" in await client.check()
    (base / "in").mkdir()
    (base / "in" / "orders.csv").write_text("id,qty\nA,2\n")
    (base / "notes.txt").write_text("ignored")
    result = await process.execute([Document.empty()], connections=connections)
    assert result.execution.error is None, result.execution.error
    (document,) = result.documents
    assert document.properties["file_name"] == "in/orders.csv"
    assert document.properties["file_size"] == 11
    assert document.media_type == "text/csv"
    if stream:
        assert document.kind is BodyKind.FILE and document.body == str(base / "in" / "orders.csv")
    else:
        assert (document.kind, document.body) == (BodyKind.RAW, b"id,qty\nA,2\n")
    await connections.close()
