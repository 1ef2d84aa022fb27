"""The remote-file actions `ftp` and `sftp` share: put, get, list, delete and rename.

Each connector registers a small subclass of each (`ftp.put` is `FtpPutStep(PutStep)`)
naming its connector; the work is the same, over whichever `RemoteSession` the
connection's client opens. A step runs its whole batch in one session in a worker thread.
"""

from __future__ import annotations

import asyncio
import posixpath
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import Field

from processes.connectors.base import ConnectorStep
from processes.connectors.bodies import body_bytes
from processes.connectors.remote_files.session import (
    RemoteClient,
    RemoteFileError,
    RemoteSession,
    matches,
)
from runtime.core.document import BodyKind, Document
from runtime.core.errors import WharfError
from runtime.core.expressions import ValueField, variables

if TYPE_CHECKING:
    from runtime.core.components import StepContext


class RemoteStep(ConnectorStep):
    """Base of the remote-file actions: runs `work` in one session of the connection."""

    async def in_session(
        self, context: StepContext, work: Callable[[RemoteSession, RemoteClient], Any]
    ) -> Any:
        client = await self.connection_client(context)
        assert isinstance(client, RemoteClient)

        def run() -> Any:
            with client.session() as session:
                return work(session, client)

        try:
            return await asyncio.to_thread(run)
        except WharfError:
            raise
        except Exception as exc:
            raise RemoteFileError(f"{type(exc).__name__}: {exc}") from None


def _value(value: Any, document: Document) -> str:
    return str(value.evaluate(variables(document)))


class PutStep(RemoteStep):
    """Upload each document's body, atomically (a temporary name, then a rename). The
    `remote_path` property says where, relative to base_dir."""

    target: ValueField = Field(alias="path", description="Remote path, relative to base_dir.")

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        def work(session: RemoteSession, client: RemoteClient) -> None:
            for document in documents:
                path = client.config.remote_path(_value(self.target, document))
                session.put_atomic(path, body_bytes(document))
                document.properties["remote_path"] = client.config.relative_path(path)

        await self.in_session(context, work)
        return documents


class GetStep(RemoteStep):
    """Download a file per document into the body (raw bytes)."""

    source: ValueField = Field(alias="path", description="Remote path, relative to base_dir.")

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        def work(session: RemoteSession, client: RemoteClient) -> list[Document]:
            result = []
            for document in documents:
                path = client.config.remote_path(_value(self.source, document))
                got = document.derive(session.get(path), BodyKind.RAW, "application/octet-stream")
                got.properties["remote_path"] = client.config.relative_path(path)
                result.append(got)
            return result

        got: list[Document] = await self.in_session(context, work)
        return got


class ListStep(RemoteStep):
    """One JSON document `{name, path, size, mtime}` per file in `directory` matching
    `pattern`; `path` is relative to base_dir, ready for `get`, `rename` or `delete`."""

    directory: str = Field(".", description="Remote directory, relative to base_dir.")
    pattern: str = Field("*", description="Glob pattern, e.g. `*.csv`.")

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        def work(session: RemoteSession, client: RemoteClient) -> list[dict[str, Any]]:
            directory = client.config.remote_path(self.directory)
            relative = client.config.relative_path(directory)
            return [
                {
                    "name": e.name,
                    "path": posixpath.normpath(posixpath.join(relative, e.name)),
                    "size": e.size,
                    "mtime": e.mtime,
                }
                for e in sorted(session.list(directory), key=lambda entry: entry.name)
                if matches(e.name, self.pattern)
            ]

        entries = await self.in_session(context, work)
        first = documents[0] if documents else Document.empty()
        return [first.derive_json(entry) for entry in entries]


class DeleteStep(RemoteStep):
    """Delete a remote file per document."""

    source: ValueField = Field(alias="path", description="Remote path, relative to base_dir.")

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        def work(session: RemoteSession, client: RemoteClient) -> None:
            for document in documents:
                session.delete(client.config.remote_path(_value(self.source, document)))

        await self.in_session(context, work)
        return documents


class RenameStep(RemoteStep):
    """Rename (move) a remote file per document, e.g. into `done/`."""

    source: ValueField = Field(alias="from", description="Remote path now.")
    target: ValueField = Field(alias="to", description="Remote path after.")

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        def work(session: RemoteSession, client: RemoteClient) -> None:
            for document in documents:
                source = client.config.remote_path(_value(self.source, document))
                target = client.config.remote_path(_value(self.target, document))
                session.rename(source, target)
                document.properties["remote_path"] = client.config.relative_path(target)

        await self.in_session(context, work)
        return documents
