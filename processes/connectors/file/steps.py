"""The `file.*` actions: write, read, list and move files under a `file` connection."""

from __future__ import annotations

import asyncio
import mimetypes
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, WithJsonSchema, model_validator

from processes.connectors.base import ConnectorStep
from processes.connectors.bodies import body_bytes
from processes.connectors.file.connection import FileAccessError, FileClient
from runtime.core import registry
from runtime.core.document import BodyKind, Document
from runtime.core.expressions import ValueField, variables

if TYPE_CHECKING:
    from runtime.core.components import StepContext


_WRITE_BEHAVIOURS = ("overwrite", "create", "append")


class FileStep(ConnectorStep):
    connector = "file"

    async def client(self, context: StepContext) -> FileClient:
        client = await self.connection_client(context)
        assert isinstance(client, FileClient)
        return client


def _path(value: Any, document: Document) -> str:
    return str(value.evaluate(variables(document)))


@registry.step("file.write")
class FileWriteStep(FileStep):
    """Write each document's body to a file (atomically: a temporary name, then a
    rename). The written path goes into the `file_path` property."""

    # `path` in YAML; Step.path is the step's place in its process.
    target: ValueField = Field(
        alias="path", description='Relative path, e.g. `"orders/{{ doc.id }}.json"`.'
    )
    write: Literal["overwrite", "create", "append"] = Field(
        "overwrite", description="`create` fails when the file exists; `append` adds to it."
    )
    mode: Annotated[
        str,
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "string", "pattern": r"^0?[0-7]{3}$"},
                    {"type": "integer", "minimum": 0, "maximum": 0o777},
                    {"enum": list(_WRITE_BEHAVIOURS), "deprecated": True},
                ]
            }
        ),
    ] = Field(
        "0644",
        pattern=r"^0?[0-7]{3}$",
        description='File permission bits in octal (`"0640"`; an unquoted YAML `0640` is '
        "read as octal too); the process umask still applies. An appended file keeps its "
        "permissions.",
    )

    @model_validator(mode="before")
    @classmethod
    def _write_behaviour_spelt_as_mode(cls, data: Any) -> Any:
        """`mode: create|append|overwrite` is the older spelling of `write:`; an integer
        `mode` is YAML's reading of an unquoted octal literal (`0640` is 416)."""
        if isinstance(data, dict):
            mode = data.get("mode")
            if mode in _WRITE_BEHAVIOURS and "write" not in data:
                data = {**data, "write": mode}
                del data["mode"]
            elif isinstance(mode, int) and not isinstance(mode, bool):
                data = {**data, "mode": format(mode, "04o")}
        return data

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        client = await self.client(context)
        for document in documents:
            relative = _path(self.target, document)
            data = body_bytes(document)
            permissions = int(self.mode, 8)
            written = await asyncio.to_thread(client.write, relative, data, self.write, permissions)
            document.properties["file_path"] = str(written.relative_to(client.base))
        return documents


@registry.step("file.read")
class FileReadStep(FileStep):
    """Read a file per document into the body (raw bytes; `stream: true` passes large files
    on by path for a streaming `split`). Properties: `file_name`, `file_size`, `file_mtime`."""

    source: ValueField = Field(alias="path", description="Relative path of the file.")
    stream: bool = Field(False, description="Do not load the file; pass it on by path.")

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        client = await self.client(context)
        result = []
        for document in documents:
            path = client.resolve(_path(self.source, document))
            try:
                stat = await asyncio.to_thread(path.stat)
                data = None if self.stream else await asyncio.to_thread(path.read_bytes)
            except FileNotFoundError:
                raise FileAccessError(
                    f"{path.relative_to(client.base)} does not exist", status=404
                ) from None
            media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            if data is None:
                read = document.derive(str(path), BodyKind.FILE, media_type)
            else:
                read = document.derive(data, BodyKind.RAW, media_type)
            read.properties.update(
                file_name=str(path.relative_to(client.base)),
                file_size=stat.st_size,
                file_mtime=stat.st_mtime,
            )
            result.append(read)
        return result


@registry.step("file.list")
class FileListStep(FileStep):
    """List files: one JSON document `{name, size, mtime}` per file matching `pattern`."""

    directory: str = Field(".", description="Relative directory to list.")
    pattern: str = Field("*", description="Glob pattern, e.g. `*.csv`.")
    recursive: bool = Field(False, description="Include subdirectories.")

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        client = await self.client(context)
        root = client.resolve(self.directory) if self.directory != "." else client.base

        def listing() -> list[dict[str, Any]]:
            matches = root.rglob(self.pattern) if self.recursive else root.glob(self.pattern)
            files = []
            for path in sorted(matches):
                real = path.resolve()
                if path.is_file() and real.is_relative_to(client.base):
                    stat = path.stat()
                    name = str(path.relative_to(client.base))
                    files.append({"name": name, "size": stat.st_size, "mtime": stat.st_mtime})
            return files

        files = await asyncio.to_thread(listing)
        first = documents[0] if documents else Document.empty()
        return [first.derive_json(entry) for entry in files]


@registry.step("file.move")
class FileMoveStep(FileStep):
    """Move (rename) a file within the connection's directory, e.g. to `done/`."""

    source: ValueField = Field(alias="from", description="Relative path of the file.")
    target: ValueField = Field(alias="to", description="Relative path to move it to.")

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        client = await self.client(context)
        for document in documents:
            source = client.resolve(_path(self.source, document))
            target = client.resolve(_path(self.target, document))

            def move(source: Path = source, target: Path = target) -> None:
                target.parent.mkdir(parents=True, exist_ok=True)
                source.replace(target)

            try:
                await asyncio.to_thread(move)
            except FileNotFoundError:
                raise FileAccessError(
                    f"{source.relative_to(client.base)} does not exist", status=404
                ) from None
            document.properties["file_path"] = str(target.relative_to(client.base))
        return documents
