"""runtime.loading.loader: a directory of process files -> processes, or every problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.cli.main import main
from runtime.core import registry
from runtime.core.engine import Process
from runtime.loading.loader import (
    LoadProblem,
    ProcessLoadError,
    load_processes,
    process_files,
    validate_directory,
)
from tests.helpers import fresh_dir, validate_files, write_files

ROOT = Path(__file__).resolve().parents[3]

UNKNOWN_NAME = (
    "available: doc, props and the functions xpath, xpath_list, xpath_nodes, now, uuid, "
    "step_token, execution_id, attempt "
    "(a literal string needs quotes: \"'text'\")"
)

VALID = """
    name: valid
    trigger:
      http: {auth: none, path: /valid}
    steps:
      - set: {properties: {a: 1}}
"""

# Three files, three different mistakes, each on a known line.
BROKEN = {
    "orders.yaml": """
        name: orders
        trigger:
          http: {auth: none,
            path: /orders}
        steps:
          - set:
              properties:
                seen: "true"
          - mapp:
              fields: {id: doc.id}
    """,
    "refunds.yaml": """
        # Refunds
        name: refunds
        trigger:
          http: {auth: none, path: /refunds}
        steps:
          - map:
              fields:
                id: doc.id
                amount: amount * 100
    """,
    "shipments.yaml": """
        name: shipments
        trigger:
          http: {auth: none,
            method: PUT,
            input: xml}
        steps: []
    """,
    "valid.yaml": VALID,
}

EXPECTED_BROKEN = [
    "orders.yaml:9 steps[1]: unknown step kind 'mapp'; did you mean `map`?",
    "refunds.yaml:9 steps[0].map.fields.amount: unknown name(s) amount in 'amount * 100'; "
    + UNKNOWN_NAME,
    "shipments.yaml:3 trigger.http.path: Field required",
]


def test_valid_directory_loads_processes(tmp_path: Path) -> None:
    processes, problems = validate_files(
        tmp_path, {"valid.yaml": VALID, "second.yml": VALID.replace("valid", "second")}
    )
    assert problems == []
    assert sorted(p.name for p in processes) == ["second", "valid"]
    for process in processes:
        assert isinstance(process, Process)
        assert process.trigger_kind == "http"
        assert process.source is not None and process.source.suffix in (".yaml", ".yml")
        assert [step.path for step in process.pipeline.steps] == ["steps[0].set"]


def test_sample_processes_are_valid() -> None:
    processes, problems = validate_directory(ROOT / "sample_processes")
    assert problems == []
    names = {p.name for p in processes}
    assert {"order-webhook", "orders-to-csv", "payment-webhook", "xml-order-to-json"} <= names
    assert len(processes) == len(process_files(ROOT / "sample_processes"))


def test_only_yaml_files_of_the_directory_itself_are_read(tmp_path: Path) -> None:
    directory = write_files(fresh_dir(tmp_path), {"valid.yaml": VALID})
    (directory / "notes.txt").write_text("not: [a process")
    (directory / "data.json").write_text("{}")
    (directory / "sub").mkdir()
    (directory / "sub" / "broken.yaml").write_text("name: [")
    processes, problems = validate_directory(directory)
    assert problems == []
    assert [p.name for p in processes] == ["valid"]


def test_three_mistakes_in_three_files_are_all_reported(tmp_path: Path) -> None:
    processes, problems = validate_files(tmp_path, BROKEN)
    assert problems == EXPECTED_BROKEN
    # The valid file still loads; the broken ones do not.
    assert [p.name for p in processes] == ["valid"]


def test_validate_command_prints_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = write_files(fresh_dir(tmp_path), BROKEN)
    assert main(["validate", str(directory)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"{directory}/{line}" for line in EXPECTED_BROKEN]
    assert err == "3 problem(s) found\n"


def test_validate_command_on_a_valid_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = write_files(fresh_dir(tmp_path), {"valid.yaml": VALID})
    assert main(["validate", str(directory)]) == 0
    out, err = capsys.readouterr()
    assert (out, err) == ("1 process(es) valid\n", "")


def test_load_processes_raises_with_every_problem(tmp_path: Path) -> None:
    directory = write_files(fresh_dir(tmp_path), BROKEN)
    with pytest.raises(ProcessLoadError) as caught:
        load_processes(directory)
    assert len(caught.value.problems) == 3
    assert str(caught.value) == "3 problem(s) in the process definitions"
    assert caught.value.problems[2] == LoadProblem(
        str(directory / "shipments.yaml"), 3, "trigger.http.path", "Field required"
    )


def test_several_problems_in_one_file(tmp_path: Path) -> None:
    _, problems = validate_files(
        tmp_path,
        {
            "many.yaml": """
                name: many
                trigger:
                  http: {auth: none, path: /many}
                steps:
                  - set:
                      properties:
                        a: nope1
                        b: "'fine'"
                  - route:
                      routes:
                        - when: doc.x >
                          steps:
                            - fail: {status: 200}
                  - split: {items: doc.x, xpath: /a}
                  - set:
                  - {set: {properties: {}}, map: {fields: {}}}
                  - set: {properties: {c: [1, 2]}}
            """
        },
    )
    assert problems == [
        f"many.yaml:7 steps[0].set.properties.a: unknown name(s) nope1 in 'nope1'; {UNKNOWN_NAME}",
        "many.yaml:11 steps[1].route.routes[0].when: invalid expression 'doc.x >': "
        "unexpected 'end of template'",
        "many.yaml:13 steps[1].route.routes[0].steps[0].fail.status: "
        "Input should be greater than or equal to 400",
        "many.yaml:14 steps[2].split: give exactly one of `items` or `xpath`",
        "many.yaml:15 steps[3]: a step needs its configuration (use {} for none)",
        "many.yaml:16 steps[4]: a step is a mapping with exactly one key, the step kind "
        "(got: set, map)",
        "many.yaml:17 steps[5].set.properties.c: "
        "a value is an expression string, a template string or a scalar",
    ]


def test_every_bad_field_of_one_map_is_reported(tmp_path: Path) -> None:
    """`wharf validate` promises every problem in one run, also within one `map`."""
    _, problems = validate_files(
        tmp_path,
        {
            "m.yaml": """
                name: m
                trigger: {http: {auth: none, path: /m}}
                steps:
                  - map:
                      fields:
                        first: nope1
                        nested:
                          second: nope2
            """
        },
    )
    assert problems == [
        f"m.yaml:6 steps[0].map.fields.first: unknown name(s) nope1 in 'nope1'; {UNKNOWN_NAME}",
        f"m.yaml:8 steps[0].map.fields.nested.second: unknown name(s) nope2 in 'nope2'; "
        f"{UNKNOWN_NAME}",
    ]


def test_nested_map_problem_points_at_the_exact_key(tmp_path: Path) -> None:
    _, problems = validate_files(
        tmp_path,
        {
            "po.yaml": """
                name: po
                trigger: {http: {auth: none, path: /po}}
                steps:
                  - map:
                      fields:
                        id: doc.id
                        lines:
                          $each: doc.lines
                          $fields:
                            sku: item.sku
                            qty: itme.qty
            """
        },
    )
    assert problems == [
        "po.yaml:11 steps[0].map.fields.lines.$fields.qty: unknown name(s) itme in 'itme.qty'; "
        + UNKNOWN_NAME
    ]


def test_invalid_yaml_reports_its_line(tmp_path: Path) -> None:
    _, problems = validate_files(
        tmp_path,
        {
            "bad.yaml": "name: bad\ntrigger:\n  http:\n    path: [/bad\nsteps: []\n",
            "valid.yaml": VALID,
        },
    )
    assert problems == ["bad.yaml:5: invalid YAML: expected ',' or ']', but got ':'"]


def test_duplicate_yaml_key_is_a_problem(tmp_path: Path) -> None:
    _, problems = validate_files(
        tmp_path,
        {
            "dup.yaml": """
                name: dup
                trigger:
                  http: {auth: none, path: /dup}
                steps: []
                name: dup2
            """
        },
    )
    assert problems == ["dup.yaml:5 name: duplicate key 'name'"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- a\n- b\n", "x.yaml:1: a process file is a YAML mapping"),
        ("", "x.yaml:1: a process file is a YAML mapping"),
        (
            "name: x\ntrigger: {http: {auth: none, path: /x}}\nstep: []\n",
            "x.yaml:3 step: unknown field `step`; did you mean `steps`?",
        ),
        (
            "name: has space\ntrigger: {http: {auth: none, path: /x}}\n",
            "x.yaml:1 name: a process name uses letters, digits, '_', '.', '-' only",
        ),
        (
            "name: x\ntrigger: {http: {auth: none, path: /api/x}}\n",
            "x.yaml:2 trigger.http.path: paths under /api, /healthz, /readyz, /metrics are "
            "reserved for Wharf itself",
        ),
        (
            "name: x\ntrigger:\n  http:\n    path: no-slash\n",
            "x.yaml:4 trigger.http.path: a path starts with '/' and holds URL-safe segments "
            "or {name} parameters",
        ),
        (
            "name: x\ntrigger:\n  cron: {every: 1m}\n",
            "x.yaml:2 trigger: unknown trigger kind 'cron'; known kinds: "
            + ", ".join(sorted(registry.TRIGGERS)),
        ),
        (
            "name: x\ntrigger:\n  http: {auth: none, path: /x, input: yaml}\n",
            "x.yaml:3 trigger.http.input: Input should be 'none', 'raw', 'json', 'xml', "
            "'form' or 'json_multiple'",
        ),
    ],
)
def test_single_problems(tmp_path: Path, text: str, expected: str) -> None:
    _, problems = validate_files(tmp_path, {"x.yaml": text})
    assert problems == [expected]


def test_duplicate_process_names_across_files(tmp_path: Path) -> None:
    _, problems = validate_files(
        tmp_path,
        {
            "a.yaml": "name: same\ntrigger: {http: {auth: none, path: /a}}\n",
            "b.yaml": "# second\n\nname: same\ntrigger: {http: {auth: none, path: /b}}\n",
        },
    )
    assert problems == ["b.yaml:3 name: process 'same' is also defined in a.yaml"]


def test_duplicate_routes_across_files(tmp_path: Path) -> None:
    _, problems = validate_files(
        tmp_path,
        {
            "a.yaml": "name: a\ntrigger:\n  http:\n    path: /orders/{id}\n",
            # Same method; trailing slash and parameter name do not make another route.
            "b.yaml": "name: b\ntrigger:\n  http:\n    method: POST\n    path: /orders/{key}/\n",
            # Another method is another route.
            "c.yaml": "name: c\ntrigger:\n  http:\n    method: PUT\n    path: /orders/{id}\n",
            "security.yaml": "defaults:\n  auth: none\n",  # the listeners' access
        },
    )
    assert problems == ["b.yaml:5 trigger.http.path: POST /orders/{} is also the route of a.yaml"]


def test_every_listener_declares_its_access(tmp_path: Path) -> None:
    files = {
        "open.yaml": "name: open\ntrigger:\n  http: {path: /open, auth: none}\n",
        "keyed.yaml": "name: keyed\ntrigger:\n  http: {path: /keyed, auth: {api_key: {}}}\n",
        "bare.yaml": "name: bare\ntrigger:\n  http: {path: /bare}\n",
        "soap.yaml": (
            "name: soapy\ntrigger:\n  soap: {path: /s, operation: op, service: S, "
            "namespace: 'urn:s', input: {a: string}}\n"
        ),
        "tick.yaml": "name: tick\ntrigger:\n  schedule: {cron: '@daily'}\n",  # no listener
    }
    _, problems = validate_files(tmp_path, files)
    message = (
        "a listener declares `auth:` (api_key, basic, jwt, signature, mtls) or `auth: none` "
        "for a public endpoint; security.yaml can set a default"
    )
    assert problems == [
        f"bare.yaml:3 trigger.http: {message}",
        f"soap.yaml:3 trigger.soap: {message}",
    ]
    # A default in security.yaml covers the listeners that declare nothing.
    files["security.yaml"] = "defaults:\n  auth:\n    api_key: {header: X-Key}\n"
    processes, problems = validate_files(tmp_path, files)
    assert problems == []
    assert len(processes) == 5
    _, problems = validate_files(tmp_path, {**files, "security.yaml": "defaults: {auth: {}}\n"})
    assert problems == [
        "security.yaml:1 defaults.auth: give at least one of api_key, basic, jwt, signature, "
        "mtls (or `auth: none`)"
    ]


def test_empty_and_missing_directories(tmp_path: Path) -> None:
    empty = fresh_dir(tmp_path)
    assert validate_directory(empty) == (
        [],
        [LoadProblem(str(empty), 1, "", "no process files (*.yaml) found")],
    )
    missing = tmp_path / "missing"
    assert validate_directory(missing) == (
        [],
        [LoadProblem(str(missing), 1, "", "not a directory")],
    )


def test_unreadable_file_is_a_problem(tmp_path: Path) -> None:
    directory = fresh_dir(tmp_path)
    (directory / "latin1.yaml").write_bytes(b"name: caf\xe9\n")
    _, problems = validate_directory(directory)
    assert len(problems) == 1
    assert problems[0].line == 1
    assert problems[0].message.startswith("cannot read the file: 'utf-8' codec can't decode")
