"""`wharf --version`, `wharf validate FILE`, and durations with units for `run-now --wait`."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest

from runtime.cli.main import build_parser, main
from tests.helpers import fresh_dir, write_files

ROOT = Path(__file__).resolve().parents[3]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"wharf {version('wharf')}\n"


def test_validate_one_file_with_its_directory_connections(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = ROOT / "sample_processes" / "order_fanout" / "order_fanout.yaml"
    assert main(["validate", str(sample)]) == 0  # its connections.yaml is beside it
    assert capsys.readouterr().out == "1 process(es) valid\n"

    directory = write_files(
        fresh_dir(tmp_path),
        {
            "ok.yaml": "name: ok\ntrigger: {http: {auth: none, path: /ok}}\n",
            "bad.yaml": "name: bad\n",
        },
    )
    assert main(["validate", str(directory / "ok.yaml")]) == 0  # the bad neighbour aside
    assert capsys.readouterr().out == "1 process(es) valid\n"
    assert main(["validate", str(directory / "bad.yaml")]) == 1
    out, err = capsys.readouterr()
    assert out == f"{directory}/bad.yaml:1 trigger: Field required\n"
    assert err == "1 problem(s) found\n"
    assert main(["validate", str(directory)]) == 1  # the directory: both files
    capsys.readouterr()

    connections = write_files(
        fresh_dir(tmp_path),
        {"connections.yaml": "connections:\n  api: {connector: http, base_url: 'http://x'}\n"},
    )
    assert main(["validate", str(connections / "connections.yaml")]) == 0
    assert capsys.readouterr().out == "0 process(es) valid\n"


@pytest.mark.parametrize(("text", "seconds"), [("60", 60.0), ("500ms", 0.5), ("2m", 120.0)])
def test_run_now_wait_takes_seconds_or_a_unit(text: str, seconds: float) -> None:
    args = build_parser().parse_args(["run-now", "tick", "--wait", text])
    assert args.wait == seconds


def test_run_now_wait_refuses_nonsense(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["run-now", "tick", "--wait", "soon"])
    assert exited.value.code == 2
    assert "--wait" in capsys.readouterr().err
