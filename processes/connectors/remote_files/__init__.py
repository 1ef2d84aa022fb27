"""What the `ftp` and `sftp` connectors share: remote files over a blocking session.

`session.py`: the session contract, the connection and client bases (`base_dir`
confinement, the login check); `actions.py`: the bodies of the put, get, list, delete and
rename steps, which each connector registers under its own name; `pickup.py`: the part of
the `ftp.poll` / `sftp.poll` trigger that is about files, not schedules. Registers nothing
itself.
"""

from processes.connectors.remote_files.actions import (
    DeleteStep,
    GetStep,
    ListStep,
    PutStep,
    RemoteStep,
    RenameStep,
)
from processes.connectors.remote_files.pickup import ReopeningSession, media_type, move_into
from processes.connectors.remote_files.session import (
    RemoteClient,
    RemoteConnection,
    RemoteEntry,
    RemoteFileError,
    RemoteSession,
    make_dirs,
    matches,
    plain_name,
)

__all__ = [
    "DeleteStep",
    "GetStep",
    "ListStep",
    "PutStep",
    "RemoteClient",
    "RemoteConnection",
    "RemoteEntry",
    "RemoteFileError",
    "RemoteSession",
    "RemoteStep",
    "RenameStep",
    "ReopeningSession",
    "make_dirs",
    "matches",
    "media_type",
    "move_into",
    "plain_name",
]
