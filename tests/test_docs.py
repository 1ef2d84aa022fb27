"""The checked-in reference and the README stay true to the registry."""

from __future__ import annotations

import re
from pathlib import Path

from runtime.cli.reference import (
    README_STEPS_BEGIN,
    README_STEPS_END,
    component_reference,
    with_step_table,
)
from runtime.core import registry

ROOT = Path(__file__).resolve().parent.parent


def test_component_reference_is_current() -> None:
    checked_in = (ROOT / "docs" / "components.md").read_text(encoding="utf-8")
    assert checked_in == component_reference(), "run `make docs` and commit docs/components.md"


def test_reference_documents_every_component() -> None:
    text = component_reference()
    for name in [*registry.STEPS, *registry.TRIGGERS]:
        assert f"### `{name}`" in text
    connectors = text.split("\n## Connectors\n", 1)[1]
    assert registry.CONNECTORS
    for name in registry.CONNECTORS:
        assert f"### `{name}`" in connectors


def test_readme_step_table_is_generated_from_every_step() -> None:
    """`make docs` writes it; a new step needs no README edit, and none is forgotten."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert with_step_table(readme) == readme, "run `make docs`"
    table = readme.split(README_STEPS_BEGIN, 1)[1].split(README_STEPS_END, 1)[0]
    listed = set(re.findall(r"^\| `([\w.]+)`", table, flags=re.MULTILINE))
    assert listed == set(registry.STEPS)


def test_readme_starts_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = readme.split("```", 2)[1]
    assert "make run" in first_block and "make test" in first_block
