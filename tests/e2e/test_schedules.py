"""Two real Wharf servers on one SQLite store: every fire slot runs exactly once in total.

Each run also inserts its slot into a separate database through an sql connection, so
"ran once" is counted by what the process did, not only by Wharf's own fire records.
The CLI is exercised against the same servers: list, run-now, and a pause set directly
in the store that both servers honour.

These are the real-clock schedule tests (the in-process ones run on a FakeClock): one-
second schedules in separate server processes, so they take a few seconds of real time.
"""

from __future__ import annotations

import sqlite3
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.serverproc import ADMIN_KEY, WharfServer, run_cli, wait_until

pytestmark = pytest.mark.e2e

# overlap: allow, so a run slowed by a busy machine (two servers starting, CLI calls) can
# never turn the next slot into a skipped fire: this test is about claims, not overlap.
PROCESS = """\
name: tick
trigger:
  schedule:
    every: 1s
    overlap: allow
steps:
  - sql.execute:
      connection: sink
      statement: INSERT INTO runs (slot) VALUES (:slot)
      parameters:
        slot: "{{ props.schedule_slot }}"
"""

CONNECTIONS = """\
connections:
  sink:
    connector: sql
    url: sqlite+aiosqlite:///{path}
    init:
      - CREATE TABLE IF NOT EXISTS runs (slot TEXT NOT NULL)
"""


def wharf(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, admin_key=ADMIN_KEY, inherit_env=True)


def query(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path, timeout=10) as db:
        return list(db.execute(sql))


def fired(store: Path, at_least: int) -> int:
    """Once the servers recorded `at_least` fires (they fire every second), how many."""

    def count() -> int:
        found = query(store, "SELECT count(*) FROM schedule_fires")[0][0] if store.exists() else 0
        assert isinstance(found, int)
        return found if found >= at_least else 0

    return wait_until(count, f"{at_least} schedule fires")


def test_two_servers_on_one_store_run_each_slot_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHARF_SCHEDULE_MIN_INTERVAL", "1s")
    directory = tmp_path / "processes"
    directory.mkdir()
    (directory / "tick.yaml").write_text(PROCESS)
    sink = tmp_path / "sink.db"
    (directory / "connections.yaml").write_text(CONNECTIONS.format(path=sink))
    store = tmp_path / "store.db"
    options = ("--store", f"sqlite:///{store}")
    with WharfServer(directory, *options) as first, WharfServer(directory, *options) as second:
        fired(store, 6)
        listing = wharf("schedules", "list", "--url", first.url)
        assert listing.returncode == 0, listing.stderr
        assert "tick" in listing.stdout and "every 1s" in listing.stdout
        manual = wharf("run-now", "tick", "--url", second.url)
        assert manual.returncode == 0, manual.stderr
        assert "succeeded (1 execution(s)" in manual.stdout
        assert first.stop() == 0 and second.stop() == 0

    fires = query(store, "SELECT slot, kind, status, claimed_by FROM schedule_fires")
    scheduled = [row for row in fires if row[1] == "schedule"]
    assert len(scheduled) >= 5
    assert {row[2] for row in scheduled} == {"succeeded"}
    slots = sorted(row[0] for row in scheduled)
    assert slots == [slots[0] + n for n in range(len(slots))]  # no slot missing
    runs = Counter(row[0] for row in query(sink, "SELECT slot FROM runs"))
    assert len(runs) == len(fires)  # scheduled slots plus the run-now
    assert set(runs.values()) == {1}, f"slots that ran more than once: {runs}"
    claimants = {row[3] for row in fires}
    assert 1 <= len(claimants) <= 2  # whichever runtime claimed first ran each slot


def test_a_pause_written_to_the_store_stops_every_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHARF_SCHEDULE_MIN_INTERVAL", "1s")
    directory = tmp_path / "processes"
    directory.mkdir()
    (directory / "tick.yaml").write_text(PROCESS)
    (directory / "connections.yaml").write_text(CONNECTIONS.format(path=tmp_path / "sink.db"))
    store = tmp_path / "store.db"
    options = ("--store", f"sqlite:///{store}")
    with WharfServer(directory, *options), WharfServer(directory, *options):
        fired(store, 2)  # it was firing before the pause
        paused = wharf("schedules", "pause", "tick", "--store", f"sqlite:///{store}")
        assert paused.returncode == 0, paused.stderr
        # Real clock, by nature: the servers see the flag within PAUSE_REFRESH (2 s), and
        # "no fire for 2.5 s" can only be seen by letting 2.5 s pass.
        time.sleep(3)  # real clock: the servers re-read pause flags every 2 s
        count = query(store, "SELECT count(*) FROM schedule_fires")[0][0]
        assert count >= 2  # it was firing before the pause
        time.sleep(2.5)  # real clock: two and a half one-second slots without a fire
        assert query(store, "SELECT count(*) FROM schedule_fires")[0][0] == count
