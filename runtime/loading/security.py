"""Reading `security.yaml` beside the process files, and the rule that every listener
declares its access."""

from __future__ import annotations

from pathlib import Path

from runtime.loading.yaml_models import LoadProblem, read_yaml_file, validate_file
from runtime.security.config import SECURITY_FILES, SecurityConfig


def load_security(directory: Path) -> tuple[SecurityConfig, list[LoadProblem]]:
    """The directory's security settings (defaults when there is no `security.yaml`)."""
    for name in SECURITY_FILES:
        path = directory / name
        if path.is_file():
            break
    else:
        return SecurityConfig(), []
    file, problems = read_yaml_file(path, str(path))
    if file is None:
        return SecurityConfig(), problems
    if file.data is None:
        return SecurityConfig(), problems
    config, model_problems = validate_file(file, SecurityConfig, {"base_dir": directory})
    return config or SecurityConfig(), problems + model_problems
