"""The `ftp` connector: an FTP or explicit-FTPS server, and its `ftp.*` steps.

ftplib (the standard library's; its FTP_TLS does explicit FTPS properly, which aioftp
does not) in a worker thread, one session per step run; passive mode, binary transfers.
What ftp shares with sftp (atomic uploads, `base_dir` confinement, the step bodies, the
poller's pick-up) is in `processes.connectors.remote_files`.
"""

from __future__ import annotations

import builtins
import ftplib
import io
import posixpath
import ssl
from datetime import UTC, datetime
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from processes.connectors.paths import relative_to_definitions
from processes.connectors.remote_files import (
    DeleteStep,
    GetStep,
    ListStep,
    PutStep,
    RemoteClient,
    RemoteConnection,
    RemoteEntry,
    RemoteFileError,
    RemoteSession,
    RenameStep,
    make_dirs,
    plain_name,
)
from runtime.core import registry, secrets


@registry.connector("ftp")
class FtpConnection(RemoteConnection):
    """An FTP or explicit-FTPS server (passive mode, binary transfers)."""

    connector: Literal["ftp"] = Field(description="The connector kind.")
    port: int = Field(21, description="The server's port.")
    tls: Literal["none", "explicit"] = Field("none", description="`explicit`: FTPS (AUTH TLS).")
    ca_file: str | None = Field(None, description="CA bundle for a private/self-signed server.")
    passive: bool = Field(True, description="Passive mode (the client opens data connections).")

    @field_validator("ca_file")
    @classmethod
    def _beside_connections_file(cls, value: str | None, info: ValidationInfo) -> str | None:
        return relative_to_definitions(value, info)

    async def open(self) -> FtpClient:
        return FtpClient(self)


class FtpClient(RemoteClient):
    config: FtpConnection

    def session(self) -> RemoteSession:
        return FtpSession(self.config)


class FtpSession(RemoteSession):
    def __init__(self, config: FtpConnection):
        password = secrets.resolve(config.password) if config.password else ""
        try:
            if config.tls == "explicit":
                context = ssl.create_default_context(cafile=config.ca_file)
                ftp: ftplib.FTP = ftplib.FTP_TLS(context=context, timeout=config.timeout)  # noqa: S321
            else:
                ftp = ftplib.FTP(timeout=config.timeout)  # noqa: S321 - partners speak FTP
            ftp.connect(config.host, config.port)
            ftp.login(config.username, password)
            if isinstance(ftp, ftplib.FTP_TLS):
                ftp.prot_p()  # protect the data channel too
            ftp.set_pasv(config.passive)
        except (OSError, ftplib.Error) as exc:
            raise RemoteFileError(
                f"FTP login to {config.host}:{config.port} failed: {exc}"
            ) from None
        self.ftp = ftp

    def __exit__(self, *exc: object) -> None:
        try:
            self.ftp.quit()
        except (OSError, ftplib.Error):
            self.ftp.close()

    def put(self, path: str, data: bytes) -> None:
        self.ftp.storbinary(f"STOR {path}", io.BytesIO(data))

    def get(self, path: str) -> bytes:
        buffer = io.BytesIO()
        self.ftp.retrbinary(f"RETR {path}", buffer.write)
        return buffer.getvalue()

    def list(self, directory: str) -> list[RemoteEntry]:
        entries = []
        for name, facts in self.ftp.mlsd(directory, facts=list(_MLSD_FACTS)):
            if facts.get("type") != "file" or not plain_name(name):
                continue
            modify = facts.get("modify", "")
            mtime = _ftp_time(modify) if modify else 0.0
            entries.append(RemoteEntry(name, int(facts.get("size", 0)), mtime))
        return entries

    def delete(self, path: str) -> None:
        self.ftp.delete(path)

    def rename(self, source: str, target: str) -> None:
        self.ftp.rename(source, target)

    def _facts(self, path: str) -> dict[str, str] | None:
        """MLST facts of one path (one command, where listing the parent could be large)."""
        try:
            reply = self.ftp.sendcmd(f"MLST {path}")
        except ftplib.error_perm:
            return None  # 550: no such file or directory
        for line in reply.splitlines()[1:]:
            if line.startswith(" "):  # " type=file;size=5;modify=...; /path"
                facts = line.strip().partition(" ")[0]
                return {
                    key.lower(): value
                    for key, _, value in (fact.partition("=") for fact in facts.split(";"))
                    if key
                }
        return None

    def stat(self, path: str) -> RemoteEntry | None:
        facts = self._facts(path)
        if facts is None or facts.get("type") != "file":
            return None
        modify = facts.get("modify", "")
        mtime = _ftp_time(modify) if modify else 0.0
        return RemoteEntry(posixpath.basename(path), int(facts.get("size", 0)), mtime)

    def directories(self, directory: str) -> builtins.list[str]:
        return [
            name
            for name, facts in self.ftp.mlsd(directory, facts=list(_MLSD_FACTS))
            if facts.get("type") == "dir" and plain_name(name)
        ]

    def _is_dir(self, path: str) -> bool | None:
        facts = self._facts(path)
        return None if facts is None else facts.get("type") in ("dir", "cdir", "pdir")

    def mkdir(self, path: str) -> None:
        make_dirs(self._is_dir, self.ftp.mkd, path, (OSError, ftplib.Error))


# Always ask MLSD for the same facts: `OPTS MLST` also sets what a later MLST answers.
_MLSD_FACTS = ("type", "size", "modify")


def _ftp_time(value: str) -> float:
    return datetime.strptime(value[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC).timestamp()


# --- the actions: the shared ones, on an `ftp` connection ---------------------------------


@registry.step("ftp.put")
class FtpPutStep(PutStep):
    __doc__ = PutStep.__doc__
    connector = "ftp"


@registry.step("ftp.get")
class FtpGetStep(GetStep):
    __doc__ = GetStep.__doc__
    connector = "ftp"


@registry.step("ftp.list")
class FtpListStep(ListStep):
    __doc__ = ListStep.__doc__
    connector = "ftp"


@registry.step("ftp.delete")
class FtpDeleteStep(DeleteStep):
    __doc__ = DeleteStep.__doc__
    connector = "ftp"


@registry.step("ftp.rename")
class FtpRenameStep(RenameStep):
    __doc__ = RenameStep.__doc__
    connector = "ftp"
