"""Start the real Wharf server as a subprocess, for end-to-end tests.

Output goes to a log file rather than a pipe, so a chatty server can never block on a
full pipe; the test reads the `WHARF_LISTENING host port` line from the file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADMIN_KEY = "wharf-test-admin-key-not-a-secret"  # the servers' admin credential
ADMIN = {"X-API-Key": ADMIN_KEY}


class WharfServer:
    def __init__(
        self,
        directory: Path,
        *args: str,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ):
        self.directory = directory
        self.args = args
        self.env = env or {}
        self.cwd = cwd or directory
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.log_path = Path(tempfile.mkstemp(prefix="wharf-", suffix=".log")[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def start(self, timeout: float = 20.0) -> WharfServer:
        command = [sys.executable, "-m", "runtime.cli", "run", str(self.directory)]
        command += ["--host", "127.0.0.1", "--port", "0", *self.args]
        env = {"WHARF_ADMIN_KEY": ADMIN_KEY, **os.environ, **self.env, "PYTHONPATH": str(ROOT)}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(command, cwd=self.cwd, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log.splitlines():
                if line.startswith("WHARF_LISTENING"):
                    self.port = int(line.split()[2])
                    return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"wharf did not start:\n{self.log}")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then wait for the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: no shutdown at all, as in a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def __enter__(self) -> WharfServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.stop()
            except subprocess.TimeoutExpired:
                self.kill()
