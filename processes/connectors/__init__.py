"""Outbound connectors, one module or package each: `http/`, `soap.py`, `sql/`, `file/`,
`ftp.py`, `sftp.py`. Each holds its connection config and client, its steps and what its
poller shares with it, and registers through its own `wharf.components` entry point
(pyproject.toml). Shared pieces: `base.py` (what every connector step shares), `paths.py`
(confinement to a connection's directory), `bodies.py` (a document's bytes),
`credentials.py` (HTTP credential schemes), `remote_files/` (what ftp and sftp share).
"""
