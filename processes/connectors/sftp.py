"""The `sftp` connector: an SFTP server (paramiko), and its `sftp.*` steps.

paramiko in a worker thread, one session per step run. The server's host key is always
checked (known_hosts or a pinned SHA256 fingerprint) unless the connection says
`host_key: insecure-accept-any`. What sftp shares with ftp (atomic uploads, `base_dir`
confinement, the step bodies, the poller's pick-up) is in
`processes.connectors.remote_files`.
"""

from __future__ import annotations

import base64
import builtins
import hashlib
import os
import posixpath
import stat as stat_module
from typing import Any, Literal

import paramiko
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


@registry.connector("sftp")
class SftpConnection(RemoteConnection):
    """An SFTP server (paramiko). The host key is always checked unless switched off."""

    connector: Literal["sftp"] = Field(description="The connector kind.")
    port: int = Field(22, description="The server's port.")
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
        make_dirs(self._is_dir, self.sftp.mkdir, path)


def _default_known_hosts() -> str:
    return os.path.expanduser("~/.ssh/known_hosts")


# --- the actions: the shared ones, on an `sftp` connection --------------------------------


@registry.step("sftp.put")
class SftpPutStep(PutStep):
    __doc__ = PutStep.__doc__
    connector = "sftp"


@registry.step("sftp.get")
class SftpGetStep(GetStep):
    __doc__ = GetStep.__doc__
    connector = "sftp"


@registry.step("sftp.list")
class SftpListStep(ListStep):
    __doc__ = ListStep.__doc__
    connector = "sftp"


@registry.step("sftp.delete")
class SftpDeleteStep(DeleteStep):
    __doc__ = DeleteStep.__doc__
    connector = "sftp"


@registry.step("sftp.rename")
class SftpRenameStep(RenameStep):
    __doc__ = RenameStep.__doc__
    connector = "sftp"
