"""`wharf validate` reports every problem, each at its line, in words that help fix it.

* every problem: a trigger's own checks all report (not only the first), and a file whose
  steps are broken still gets the cross-file and access checks of its trigger;
* a misspelt field, step kind, trigger kind or connector gets "did you mean";
* a connection refused for holding a literal secret is named as such wherever a process
  refers to it, instead of "no connection".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.cli.main import main
from tests.helpers import fresh_dir, validate_files, write_files

SCHEDULE = """
    name: nightly
    trigger:
      schedule:
        every: 10s
        timezone: Mars/Olympus
        start: 2030-01-02T00:00:00
        end: 2030-01-01T00:00:00
    steps:
      - set:
          propertes: {a: 1}
      - map:
          fields: {id: doc.id}
      - delay: {duration: soon}
"""

OPEN = """
    name: open
    trigger:
      http: {path: /orders}
    steps:
      - mapp: {fields: {}}
"""

CLASH = """
    name: clash
    trigger:
      http: {path: /orders, auth: none}
"""


def test_every_problem_of_a_directory_is_reported(tmp_path: Path) -> None:
    _, problems = validate_files(
        tmp_path, {"nightly.yaml": SCHEDULE, "open.yaml": OPEN, "clash.yaml": CLASH}
    )
    every = "`every` is at least 60s (minute-level scheduling); WHARF_SCHEDULE_MIN_INTERVAL"
    assert sorted(problems) == sorted(
        [
            "open.yaml:3 trigger.http.path: POST /orders is also the route of clash.yaml",
            "nightly.yaml:4 trigger.schedule.every: " + every + " lowers it for tests",
            "nightly.yaml:5 trigger.schedule.timezone: unknown time zone 'Mars/Olympus' "
            "(use an IANA name)",
            "nightly.yaml:7 trigger.schedule.end: `end` must be after `start`",
            "nightly.yaml:10 steps[0].set.propertes: unknown field `propertes`; "
            "did you mean `properties`?",
            "nightly.yaml:9 steps[0].set.properties: Field required",
            "nightly.yaml:13 steps[2].delay.duration: a duration is a number of seconds or a "
            "string like '500ms', '2s', '1m'",
            "open.yaml:3 trigger.http: a listener declares `auth:` (api_key, basic, jwt, "
            "signature, mtls) or `auth: none` for a public endpoint; security.yaml can set a "
            "default",
            "open.yaml:5 steps[0]: unknown step kind 'mapp'; did you mean `map`?",
        ]
    )


def test_the_validate_command_prints_them_all(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = write_files(fresh_dir(tmp_path), {"nightly.yaml": SCHEDULE, "open.yaml": OPEN})
    assert main(["validate", str(directory)]) == 1
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 8
    assert err == "8 problem(s) found\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "name: x\ntrigger:\n  http:\n    path: /x\n    auth: none\n    methd: GET\n",
            "x.yaml:6 trigger.http.methd: unknown field `methd`; did you mean `method`?",
        ),
        (
            "name: x\ntigger: {http: {auth: none, path: /x}}\n",
            "x.yaml:2 tigger: unknown field `tigger`; did you mean `trigger`?",
        ),
        (
            "name: x\ntrigger: {htp: {auth: none, path: /x}}\n",
            "x.yaml:2 trigger: unknown trigger kind 'htp'; did you mean `http`?",
        ),
        (
            "name: x\ntrigger: {http: {auth: {api_kye: {}}, path: /x}}\n",
            "x.yaml:2 trigger.http.auth.api_kye: unknown field `api_kye`; did you mean `api_key`?",
        ),
        (
            "name: x\ntrigger: {http: {auth: none, path: /x}}\nsteps:\n"
            "  - route:\n      routes:\n        - when: 'true'\n          stesp: []\n",
            "x.yaml:7 steps[0].route.routes[0].stesp: unknown field `stesp`; did you mean `steps`?",
        ),
        (
            "name: x\ntrigger: {http: {auth: none, path: /x}}\nsteps:\n"
            "  - sql.upsrt: {connection: db}\n",
            "x.yaml:4 steps[0]: unknown step kind 'sql.upsrt'; did you mean `sql.upsert`?",
        ),
        (
            "name: x\ntrigger: {http: {auth: none, path: /x}}\nsteps:\n"
            "  - set: {properties: {}, zzzzzz: 1}\n",
            "x.yaml:4 steps[0].set.zzzzzz: unknown field `zzzzzz` (fields: properties)",
        ),
    ],
)
def test_misspelt_names_get_the_closest_known_name(
    tmp_path: Path, text: str, expected: str
) -> None:
    _, problems = validate_files(tmp_path, {"x.yaml": text})
    assert expected in problems


def test_misspelt_names_in_connections_yaml(tmp_path: Path) -> None:
    _, problems = validate_files(
        tmp_path,
        {
            "connections.yaml": """
                connections:
                  partner:
                    connector: sftp
                    hots: sftp.example.com
                    username: wharf
                  crm:
                    connector: sqll
                    url: sqlite+aiosqlite://
                  api:
                    connector: http
                    base_url: https://api.example.com
                    credentials:
                      - kind: basic
                        username: wharf
                        pasword: ${env:API_PASSWORD}
            """,
            "p.yaml": "name: p\ntrigger: {http: {auth: none, path: /p}}\n",
        },
    )
    assert "connections.yaml:2 connections.partner.host: Field required" in problems
    assert (
        "connections.yaml:4 connections.partner.hots: unknown field `hots`; did you mean `host`?"
    ) in problems
    assert "connections.yaml:7 connections.crm.connector: unknown connector 'sqll'; " in (
        "\n".join(problems)
    )
    assert any("did you mean `sql`?" in p and p.startswith("connections.yaml:7") for p in problems)
    # A member of a tagged union (`kind: basic`) is found, at the key's own line and path.
    assert (
        "connections.yaml:15 connections.api.credentials[0].pasword: unknown field `pasword`; "
        "did you mean `password`?"
    ) in problems


LITERAL_SECRET = {
    "connections.yaml": """
        connections:
          partner:
            connector: sftp
            host: sftp.example.com
            username: wharf
            password: hunter2-literal
          crm:
            connector: sql
            url: postgresql+asyncpg://wharf:s3cret-literal@db.example.com/crm
    """,
    "upload.yaml": """
        name: upload
        trigger:
          http: {auth: none, path: /upload}
        steps:
          - sftp.put: {connection: partner, path: "'out.txt'"}
          - sql.query: {connection: crm, statement: SELECT 1}
          - sftp.put: {connection: nowhere, path: "'out.txt'"}
    """,
}


def test_a_connection_refused_for_a_literal_secret_is_named_as_such(tmp_path: Path) -> None:
    _, problems = validate_files(tmp_path, LITERAL_SECRET)
    hint = "use an env/file reference: ${env:NAME} or ${file:/path}"
    assert problems == [
        "connections.yaml:6 connections.partner.password: password is a literal secret; "
        "write it as ${env:NAME} or ${file:/path}",
        "connections.yaml:9 connections.crm.url: the URL holds a literal password; write it "
        "as ${env:NAME} or ${file:/path} (or mark the connection `insecure: true`)",
        "upload.yaml:5 steps[0].sftp.put.connection: connection 'partner' holds a literal "
        f"secret in field `password`; {hint}",
        "upload.yaml:6 steps[1].sql.query.connection: connection 'crm' holds a literal "
        f"secret in field `url`; {hint}",
        "upload.yaml:7 steps[2].sftp.put.connection: no connection 'nowhere' in "
        "connections.yaml (none defined)",
    ]
    assert not any("hunter2" in p or "s3cret" in p for p in problems)
