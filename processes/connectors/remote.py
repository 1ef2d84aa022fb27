"""Remote file systems: the `ftp` (FTP and explicit FTPS) and `sftp` connectors.

Both are blocking libraries run in a worker thread, one session per step run: ftplib
(the standard library's; its FTP_TLS does explicit FTPS properly, which aioftp does not)
and paramiko. Uploads are atomic: a temporary name, then a rename, so a partner never
picks up half a file. SFTP verifies the server's host key by default (known_hosts or a
pinned SHA256 fingerprint); switching that off takes `host_key: insecure-accept-any`.
"""

from __future__ import annotations

import base64
import builtins
import fnmatch
import ftplib
import hashlib
import io
import posixpath
import ssl
import stat as stat_module
from abc import abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal

import paramiko
from pydantic import Field, ValidationInfo, field_validator, model_validator

from processes.connectors.paths import join_confined, relative_to_definitions
from runtime.core import registry, secrets
from runtime.core.components import ConnectionClient, ConnectionConfig
from runtime.core.durations import Duration
from runtime.core.errors import WharfError


class RemoteFileError(WharfError):
    problem = "remote-file-error"
    title = "Remote file operation failed"
    status = 502


@dataclass
class RemoteEntry:
    name: str
    size: int
    mtime: float


class RemoteSession(AbstractContextManager["RemoteSession"]):
    """Blocking operations on one open session (called from a worker thread)."""

    @abstractmethod
    def put(self, path: str, data: bytes) -> None: ...

    @abstractmethod
    def get(self, path: str) -> bytes: ...

    @abstractmethod
    def list(self, directory: str) -> list[RemoteEntry]: ...

    @abstractmethod
    def delete(self, path: str) -> None: ...

    @abstractmethod
    def rename(self, source: str, target: str) -> None: ...

    @abstractmethod
    def stat(self, path: str) -> RemoteEntry | None:
        """The file at `path`, or None if there is none (or it is not a file)."""

    @abstractmethod
    def directories(self, directory: str) -> builtins.list[str]:
        """Names of the subdirectories of `directory`."""

    @abstractmethod
    def mkdir(self, path: str) -> None:
        """Create `path` and its missing parents; an existing directory is fine."""

    def put_atomic(self, path: str, data: bytes) -> None:
        directory, name = posixpath.split(path)
        temporary = posixpath.join(directory, f".{name}.wharf-part")
        self.put(temporary, data)
        self.rename(temporary, path)


def plain_name(name: str) -> bool:
    """A listed name is one plain entry (a hostile server cannot list `../x` into a path)."""
    return bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name


def _make_dirs(
    is_dir: Callable[[str], bool | None], make: Callable[[str], object], path: str
) -> None:
    """mkdir -p; a directory another runtime created meanwhile is fine too."""
    found = is_dir(path)
    if found is False:
        raise RemoteFileError(f"{path} exists and is not a directory")
    if found:
        return
    parent = posixpath.dirname(path)
    if parent and parent != path:
        _make_dirs(is_dir, make, parent)
    try:
        make(path)
    except (OSError, ftplib.Error):
        if not is_dir(path):
            raise


class RemoteConnection(ConnectionConfig):
    host: str
    port: int
    username: str
    password: str | None = Field(None, description="A reference: ${env:NAME}.")
    base_dir: str = Field(
        "/",
        description="Remote directory that step paths are relative to; no path a step or "
        "poller names can leave it (absolute paths and `..` climbing above it are refused).",
    )
    timeout: Duration = 30.0

    @model_validator(mode="after")
    def _password_by_reference(self) -> RemoteConnection:
        if self.password and not self.insecure and not secrets.is_reference(self.password):
            raise secrets.LiteralSecretError(
                ("password",),
                "password is a literal secret; write it as ${env:NAME} or ${file:/path}",
            )
        return self

    @property
    def base(self) -> str:
        return posixpath.normpath(self.base_dir)

    def remote_path(self, relative: str) -> str:
        """The server path of a step's `relative` path, confined to `base_dir`."""
        return join_confined(self.base, relative)

    def relative_path(self, remote: str) -> str:
        """A server path under `base_dir` as processes see it: relative to `base_dir`."""
        return posixpath.relpath(remote, self.base)


class RemoteClient(ConnectionClient):
    def __init__(self, config: RemoteConnection):
        self.config = config

    @abstractmethod
    def session(self) -> RemoteSession: ...

    async def check(self) -> str:
        import asyncio

        def probe() -> int:
            with self.session() as session:
                return len(session.list(self.config.base))

        count = await asyncio.to_thread(probe)
        return f"logged in, {count} entries in {self.config.base_dir}"


# --- FTP ---------------------------------------------------------------------------------


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
        _make_dirs(self._is_dir, self.ftp.mkd, path)


# Always ask MLSD for the same facts: `OPTS MLST` also sets what a later MLST answers.
_MLSD_FACTS = ("type", "size", "modify")


def _ftp_time(value: str) -> float:
    from datetime import UTC, datetime

    return datetime.strptime(value[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC).timestamp()


@registry.connector("ftp")
class FtpConnection(RemoteConnection):
    """An FTP or explicit-FTPS server (passive mode, binary transfers)."""

    connector: Literal["ftp"]
    port: int = 21
    tls: Literal["none", "explicit"] = Field("none", description="`explicit`: FTPS (AUTH TLS).")
    ca_file: str | None = Field(None, description="CA bundle for a private/self-signed server.")
    passive: bool = True

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


# --- SFTP --------------------------------------------------------------------------------


class _PinnedKey(paramiko.MissingHostKeyPolicy):
    def __init__(self, fingerprint: str):
        self.fingerprint = fingerprint

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        if fingerprint_of(key) != self.fingerprint:
            raise paramiko.SSHException(f"host key {fingerprint_of(key)} is not the pinned one")


def fingerprint_of(key: paramiko.PKey) -> str:
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


class SftpSession(RemoteSession):
    def __init__(self, config: SftpConnection):
        client = paramiko.SSHClient()
        if config.host_key == "insecure-accept-any":
            client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # noqa: S507 - explicit opt-out
        elif config.host_key.startswith("SHA256:"):
            client.set_missing_host_key_policy(_PinnedKey(config.host_key))
        else:
            client.load_host_keys(config.known_hosts or _default_known_hosts())
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
        options: dict[str, Any] = {
            "timeout": config.timeout,
            "allow_agent": False,
            "look_for_keys": False,
        }
        if config.password:
            options["password"] = secrets.resolve(config.password)
        if config.private_key:
            passphrase = secrets.resolve(config.passphrase) if config.passphrase else None
            options["key_filename"] = config.private_key
            options["passphrase"] = passphrase
        try:
            client.connect(config.host, config.port, config.username, **options)
            self.sftp = client.open_sftp()
        except paramiko.SSHException as exc:
            client.close()
            raise RemoteFileError(
                f"SFTP connection to {config.host}:{config.port} refused: {exc}"
            ) from None
        except OSError as exc:
            client.close()
            raise RemoteFileError(
                f"SFTP connection to {config.host}:{config.port} failed: {exc}"
            ) from None
        self.client = client

    def __exit__(self, *exc: object) -> None:
        self.sftp.close()
        self.client.close()

    def put(self, path: str, data: bytes) -> None:
        with self.sftp.open(path, "wb") as handle:
            handle.write(data)

    def get(self, path: str) -> bytes:
        with self.sftp.open(path, "rb") as handle:
            return bytes(handle.read())

    def list(self, directory: str) -> list[RemoteEntry]:
        return [
            RemoteEntry(entry.filename, entry.st_size or 0, float(entry.st_mtime or 0))
            for entry in self.sftp.listdir_attr(directory)
            if entry.st_mode is not None
            and stat_module.S_ISREG(entry.st_mode)
            and plain_name(entry.filename)
        ]

    def delete(self, path: str) -> None:
        self.sftp.remove(path)

    def rename(self, source: str, target: str) -> None:
        self.sftp.posix_rename(source, target)

    def _stat(self, path: str) -> paramiko.SFTPAttributes | None:
        try:
            return self.sftp.stat(path)
        except FileNotFoundError:
            return None

    def stat(self, path: str) -> RemoteEntry | None:
        attributes = self._stat(path)
        if attributes is None or not stat_module.S_ISREG(attributes.st_mode or 0):
            return None
        return RemoteEntry(
            posixpath.basename(path), attributes.st_size or 0, float(attributes.st_mtime or 0)
        )

    def directories(self, directory: str) -> builtins.list[str]:
        return [
            entry.filename
            for entry in self.sftp.listdir_attr(directory)
            if stat_module.S_ISDIR(entry.st_mode or 0) and plain_name(entry.filename)
        ]

    def _is_dir(self, path: str) -> bool | None:
        attributes = self._stat(path)
        return None if attributes is None else stat_module.S_ISDIR(attributes.st_mode or 0)

    def mkdir(self, path: str) -> None:
        _make_dirs(self._is_dir, self.sftp.mkdir, path)


def _default_known_hosts() -> str:
    import os

    return os.path.expanduser("~/.ssh/known_hosts")


@registry.connector("sftp")
class SftpConnection(RemoteConnection):
    """An SFTP server (paramiko). The host key is always checked unless switched off."""

    connector: Literal["sftp"]
    port: int = 22
    private_key: str | None = Field(None, description="Private key file.")
    passphrase: str | None = Field(None, description="Key passphrase, as a reference.")
    host_key: str = Field(
        "known_hosts",
        description="`known_hosts` (the file below), a pinned `SHA256:...` fingerprint, or "
        "`insecure-accept-any`.",
    )
    known_hosts: str | None = Field(
        None, description="known_hosts file (default ~/.ssh/known_hosts)."
    )

    @field_validator("private_key", "known_hosts")
    @classmethod
    def _beside_connections_file(cls, value: str | None, info: ValidationInfo) -> str | None:
        return relative_to_definitions(value, info)

    async def open(self) -> SftpClient:
        return SftpClient(self)


class SftpClient(RemoteClient):
    config: SftpConnection

    def session(self) -> RemoteSession:
        return SftpSession(self.config)


def matches(name: str, pattern: str) -> bool:
    return fnmatch.fnmatch(name, pattern)
