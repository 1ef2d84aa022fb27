"""A third-party package adds a step through the `wharf.components` entry point: it is
built and installed (pip, offline) into a directory of its own, and the real `wharf`
command, with that directory on PYTHONPATH, validates a process that uses the step, runs
it, and lists it in `wharf schema` and `wharf docs`. A plug-in that does not import is
named in the error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from runtime.core import registry
from tests.serverproc import ROOT, run_cli

STEP_MODULE = '''
"""A plug-in step, installed the way any third-party package is."""

from pydantic import Field

from runtime.core import registry
from runtime.core.components import Step, StepContext
from runtime.core.document import Document


@registry.step("shout.upper")
class ShoutStep(Step):
    """Upper-case a text body and add `suffix` (a plug-in's step)."""

    suffix: str = Field("!", description="Put after the upper-cased text.")

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        return [
            d.derive(str(d.body).upper() + self.suffix, d.kind, d.media_type) for d in documents
        ]
'''

PROCESS = """
name: shouting
trigger: {http: {path: /shout, auth: none}}
steps:
  - shout.upper: {suffix: "!!"}
"""

RUN = """
import asyncio, sys
from pathlib import Path
from runtime.core.document import Document
from runtime.loading.loader import load_directory

processes, _, problems = load_directory(Path(sys.argv[1]))
assert problems == [], problems
result = asyncio.run(processes[0].execute([Document.text("quiet", "text/plain")]))
print(result.documents[0].body)
"""


def install(tmp: Path, name: str, module: str, entry: str) -> Path:
    """Build and install a one-module distribution `name` into a directory of its own."""
    source = tmp / f"{name}-src"
    (source / module).mkdir(parents=True)
    (source / module / "__init__.py").write_text("")
    (source / module / "steps.py").write_text(STEP_MODULE)
    (source / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [build-system]
            requires = ["setuptools>=70.1"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "{name}"
            version = "1.0"

            [project.entry-points."wharf.components"]
            {entry}

            [tool.setuptools]
            packages = ["{module}"]
            """
        )
    )
    target = tmp / f"{name}-site"
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
    command += ["--no-build-isolation", "--no-index", "--target", str(target), str(source)]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    return target


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("plugin")
    return install(tmp, "wharf-shout", "wharf_shout", 'shout = "wharf_shout.steps"')


@pytest.fixture
def process_dir(tmp_path: Path) -> Path:
    (tmp_path / "shouting.yaml").write_text(PROCESS)
    return tmp_path


def run_script(script: Path, directory: Path, plugin: Path) -> subprocess.CompletedProcess[str]:
    """`python SCRIPT DIRECTORY` as `run_cli` runs wharf: a fresh interpreter, the plug-in
    on the path."""
    return subprocess.run(
        [sys.executable, str(script), str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": os.pathsep.join([str(ROOT), str(plugin)])},
    )


def test_a_plugin_step_is_validated_run_and_documented(plugin: Path, process_dir: Path) -> None:
    registry.load_components()
    assert "shout.upper" not in registry.STEPS  # not installed where the tests run
    (process_dir / "run.py").write_text(RUN)
    with ThreadPoolExecutor(4) as pool:  # four fresh interpreters: side by side
        validating = pool.submit(
            run_cli, "validate", str(process_dir), admin_key=None, path=(plugin,)
        )
        running = pool.submit(run_script, process_dir / "run.py", process_dir, plugin)
        schema = pool.submit(run_cli, "schema", "process", admin_key=None, path=(plugin,))
        docs = pool.submit(run_cli, "docs", admin_key=None, path=(plugin,))

    validated = validating.result()
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "1 process(es) valid" in validated.stdout

    ran = running.result()
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "QUIET!!"

    assert schema.result().returncode == 0, schema.result().stderr
    steps = json.loads(schema.result().stdout)["$defs"]["AnyStep"]["properties"]
    assert "Upper-case a text body" in steps["shout.upper"]["description"]

    assert docs.result().returncode == 0, docs.result().stderr
    section = docs.result().stdout.split("### `shout.upper`", 1)[1].split("###", 1)[0]
    assert "Upper-case a text body" in section
    assert '| `suffix` | string | `"!"` | Put after the upper-cased text. |' in section


def test_a_plugin_that_does_not_import_is_named(
    tmp_path_factory: pytest.TempPathFactory, process_dir: Path
) -> None:
    tmp = tmp_path_factory.mktemp("broken")
    broken = install(tmp, "wharf-broken", "wharf_broken", 'broken = "wharf_broken.missing"')
    result = run_cli("validate", str(process_dir), admin_key=None, path=(broken,))
    assert result.returncode == 2
    assert "entry point 'broken' of wharf-broken (wharf_broken.missing)" in result.stderr
    assert "ModuleNotFoundError" in result.stderr
    assert "Traceback" not in result.stderr
