"""The `file` connector: a local (or mounted) directory that processes may read and write.

`connection.py` holds the connection config and its client (every path confined to
`base_dir`, atomic writes); `steps.py` the `file.*` actions.
"""

from processes.connectors.file.connection import UMASK, FileAccessError, FileClient, FileConnection
from processes.connectors.file.steps import FileListStep, FileMoveStep, FileReadStep, FileWriteStep

__all__ = [
    "UMASK",
    "FileAccessError",
    "FileClient",
    "FileConnection",
    "FileListStep",
    "FileMoveStep",
    "FileReadStep",
    "FileWriteStep",
]
