"""runtime.loading.yaml_lines: the line map behind `file:line yaml.path` messages."""

from __future__ import annotations

import pytest
import yaml

from runtime.loading.yaml_lines import YamlProblem, file_loc, format_loc, line_of, load_yaml

TEXT = """\
name: x
trigger:
  http:
    path: /a
steps:
  - set:
      properties:
        a: "1"
  -   map: {fields: {b: c}}
nested:
  - - 1
    - 2
"""


def test_line_map_covers_keys_and_list_items() -> None:
    data, lines, problems = load_yaml(TEXT)
    assert problems == []
    assert data["steps"][1] == {"map": {"fields": {"b": "c"}}}
    assert lines == {
        (): 1,
        ("name",): 1,
        ("trigger",): 2,
        ("trigger", "http"): 3,
        ("trigger", "http", "path"): 4,
        ("steps",): 5,
        ("steps", 0): 6,
        ("steps", 0, "set"): 6,
        ("steps", 0, "set", "properties"): 7,
        ("steps", 0, "set", "properties", "a"): 8,
        ("steps", 1): 9,
        ("steps", 1, "map"): 9,
        ("steps", 1, "map", "fields"): 9,
        ("steps", 1, "map", "fields", "b"): 9,
        ("nested",): 10,
        ("nested", 0): 11,
        ("nested", 0, 0): 11,
        ("nested", 0, 1): 12,
    }


def test_empty_document() -> None:
    assert load_yaml("") == (None, {}, [])
    assert load_yaml("# only a comment\n") == (None, {}, [])


def test_duplicate_keys_are_reported_with_their_line() -> None:
    data, lines, problems = load_yaml("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n")
    # PyYAML keeps the last value; the problem list is what makes it visible.
    assert data == {"a": 3, "b": {"c": 2}}
    assert problems == [
        YamlProblem(4, ("b", "c"), "duplicate key 'c'"),
        YamlProblem(5, ("a",), "duplicate key 'a'"),
    ]
    assert lines[("a",)] == 5


def test_same_key_in_different_mappings_is_not_a_duplicate() -> None:
    _, _, problems = load_yaml("steps:\n  - set: {}\n  - set: {}\nother:\n  set: 1\n")
    assert problems == []


@pytest.mark.parametrize(
    ("text", "problem", "line"),
    [
        ("a: [1\n", "expected ',' or ']', but got '<stream end>'", 2),
        ("a: 1\n---\nb: 2\n", "but found another document", 2),
        ("a: *x\n", "found undefined alias 'x'", 1),
    ],
)
def test_syntax_errors_raise_marked_errors(text: str, problem: str, line: int) -> None:
    with pytest.raises(yaml.MarkedYAMLError) as caught:
        load_yaml(text)
    assert caught.value.problem == problem
    assert caught.value.problem_mark is not None
    assert caught.value.problem_mark.line + 1 == line


def test_safe_loader_refuses_python_tags() -> None:
    with pytest.raises(yaml.constructor.ConstructorError):
        load_yaml("a: !!python/object/apply:os.system ['true']\n")


@pytest.mark.parametrize(
    ("loc", "text"),
    [
        ((), ""),
        (("name",), "name"),
        (("steps", 2, "map", "fields", "total"), "steps[2].map.fields.total"),
        (("steps", 0, "route", "routes", 1, "steps", 0), "steps[0].route.routes[1].steps[0]"),
        ((0, 1, "a"), "[0][1].a"),
        (("a", "b"), "a.b"),
    ],
)
def test_format_loc(loc: tuple[str | int, ...], text: str) -> None:
    assert format_loc(loc) == text


def test_line_of_falls_back_to_the_deepest_known_part() -> None:
    _, lines, _ = load_yaml(TEXT)
    assert line_of(("steps", 0, "set", "properties", "a"), lines) == 8
    # A missing field is reported on the line of its parent mapping.
    assert line_of(("trigger", "http", "method"), lines) == 3
    assert line_of(("steps", 7, "map"), lines) == 5
    assert line_of(("nowhere", "at", "all"), lines) == 1
    assert line_of(("x",), {}) == 1


def test_file_loc_drops_the_parts_pydantic_adds() -> None:
    _, lines, _ = load_yaml("credentials:\n  - kind: basic\n    pasword: x\n")
    tagged = ("credentials", 0, "basic", "pasword")
    assert file_loc(tagged, lines) == ("credentials", 0, "pasword")
    assert line_of(file_loc(tagged, lines), lines) == 3
    # A key that is missing from the file (a required field) stays in the path.
    assert file_loc(("credentials", 0, "basic", "password"), lines) == (*tagged[:3], "password")
