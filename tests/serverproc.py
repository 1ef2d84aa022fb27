"""Start the real Wharf server as a subprocess, for end-to-end tests.

Output goes to a log file rather than a pipe, so a chatty server can never block on a
full pipe; the test reads the `WHARF_LISTENING host port` line from the file.

A server in another process pushes no signal a test could await: it writes files and
answers HTTP. So e2e tests poll what they can see, through `wait_until` and
`wait_until_async`, the only places here that sleep (in-process tests await signals from
`runtime.testing` instead). Where an e2e test needs work in flight, the process calls a
`runtime.testing.FakeServer` the test owns, which is a real signal.
"""

from __future__ import annotations

import asyncio
import http.client
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
ADMIN_KEY = "wharf-test-admin-key-not-a-secret"  # the servers' admin credential
ADMIN = {"X-API-Key": ADMIN_KEY}
POLL_EVERY = 0.05  # seconds between two looks at a server in another process
T = TypeVar("T")


def wait_until(check: Callable[[], T], what: str, timeout: float = 30.0) -> T:
    """Poll `check` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(POLL_EVERY)  # real clock: another process, nothing to await (see above)
    return found


async def wait_until_async(check: Callable[[], Awaitable[T]], what: str, within: float = 30.0) -> T:
    """`wait_until` for an async `check`, without blocking the test's event loop."""
    deadline = time.monotonic() + within
    while not (found := await check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g} s waiting for {what}")
        await asyncio.sleep(POLL_EVERY)  # real clock: another process (see above)
    return found


def run_cli(
    *args: str,
    admin_key: str | None,
    inherit_env: bool = False,
    path: tuple[Path, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """`wharf ARGS` as a user runs it from the repository root: a fresh interpreter, the
    admin key in WHARF_ADMIN_KEY (or none), and either a bare PATH or the test's own
    environment. `path`: more directories on PYTHONPATH (packages installed there)."""
    env = dict(os.environ) if inherit_env else {"PATH": "/usr/bin:/bin"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *map(str, path)])
    env.pop("WHARF_ADMIN_KEY", None)
    if admin_key is not None:
        env["WHARF_ADMIN_KEY"] = admin_key
    return subprocess.run(
        [sys.executable, "-m", "runtime.cli.main", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


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
        command = [sys.executable, "-m", "runtime.cli.main", "run", str(self.directory)]
        command += ["--host", "127.0.0.1", "--port", "0", *self.args]
        env = {"WHARF_ADMIN_KEY": ADMIN_KEY, **os.environ, **self.env, "PYTHONPATH": str(ROOT)}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(command, cwd=self.cwd, env=env, stdout=log, stderr=log)
        proc = self.proc

        def listening() -> str:
            for line in self.log.splitlines():
                if line.startswith("WHARF_LISTENING"):
                    return line
            return "exited" if proc.poll() is not None else ""

        try:
            line = wait_until(listening, "wharf to listen", timeout)
        except AssertionError:
            line = "timed out"
        if not line.startswith("WHARF_LISTENING"):
            self.kill()
            raise RuntimeError(f"wharf did not start ({line}):\n{self.log}")
        self.port = int(line.split()[2])
        return self

    def wait_for_log(self, text: str, timeout: float = 30.0) -> None:
        """Until the server's log holds `text` (e.g. "shutting down" after a SIGTERM)."""
        wait_until(lambda: text in self.log, f"{text!r} in the server log", timeout)

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


class HealthProbe:
    """Polls `/healthz` back to back from its own thread (so the test's own event loop,
    busy sending hostile bodies, does not slow it) while a test does something hostile,
    recording each answer's latency: the server's event loop must stay responsive."""

    def __init__(self, url: str):
        self.address = urllib.parse.urlsplit(url).netloc
        self.latencies: list[float] = []
        self.failure: BaseException | None = None
        self._stop = threading.Event()
        self._first = threading.Event()
        self._started: float | None = None  # of the request in flight
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        connection = http.client.HTTPConnection(self.address, timeout=120)
        try:
            while not self._stop.is_set():
                self._started = started = time.monotonic()
                connection.request("GET", "/healthz")
                response = connection.getresponse()
                response.read()
                assert response.status == 200, response.status
                self._started = None
                self.latencies.append(time.monotonic() - started)
                self._first.set()
        except BaseException as exc:  # reported by __aexit__
            self.failure = exc
            self._first.set()
        finally:
            connection.close()

    async def __aenter__(self) -> HealthProbe:
        self._thread.start()
        await asyncio.to_thread(self._first.wait, 30)  # connected and warm
        return self

    async def __aexit__(self, *exc: object) -> None:
        started = self._started
        if started is not None:  # still waiting: that counts too
            self.latencies.append(time.monotonic() - started)
        self._stop.set()
        await asyncio.to_thread(self._thread.join, 130)
        if self.failure is not None:
            raise AssertionError(f"/healthz failed: {self.failure!r}")

    def assert_responsive(self, limit: float = 0.05) -> None:
        """/healthz answered within `limit` (50 ms), but for a few spikes under 250 ms: on
        a loaded two-core test machine the OS scheduler alone causes some. A blocked event
        loop shows as answers of seconds, or as many slow ones."""
        ranked = sorted(self.latencies, reverse=True)
        shown = (
            f"{len(ranked)} answers, slowest {', '.join(f'{x * 1000:.0f}' for x in ranked[:5])} ms"
        )
        assert ranked[0] < 0.25, shown
        assert ranked[len(ranked) // 20] < limit, shown  # the 95th percentile
