"""Named connections from `connections.yaml` (the live clients behind them are in
`runtime/core/connections.py`).

```yaml
connections:
  crm_db:
    connector: sql
    url: postgresql+asyncpg://wharf:${env:CRM_DB_PASSWORD}@db.internal/crm
```

Each connection is one connector kind (the `connector:` key selects its config model).
Steps name a connection; the name is checked at load.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from runtime.core import registry
from runtime.core.components import ConnectionConfig
from runtime.core.secrets import LiteralSecretError
from runtime.core.suggest import unknown_name
from runtime.loading.yaml_lines import format_loc
from runtime.loading.yaml_models import LoadProblem, read_yaml_file, validation_problems

CONNECTIONS_FILES = ("connections.yaml", "connections.yml")


def load_connections(
    directory: Path, refused: dict[str, str] | None = None
) -> tuple[dict[str, ConnectionConfig], list[LoadProblem]]:
    """The connections of `directory/connections.yaml` (none if there is no such file).

    Each entry is validated by the model of its `connector`, so a problem is reported at
    `connections.<name>.<field>`. `refused` receives, per invalid connection, why, for
    the processes that name it."""
    refused = {} if refused is None else refused
    for name in CONNECTIONS_FILES:
        path = directory / name
        if path.is_file():
            break
    else:
        return {}, []
    file, problems = read_yaml_file(path, str(path))
    if file is None:
        return {}, problems
    data = file.data if file.data is not None else {}
    if not isinstance(data, dict) or set(data) - {"connections"}:
        return {}, [*problems, file.problem((), "the file holds one key, `connections`")]
    entries = data.get("connections") or {}
    if not isinstance(entries, dict):
        return {}, [*problems, file.problem(("connections",), "a mapping of name -> connection")]
    registry.load_components()
    connections: dict[str, ConnectionConfig] = {}
    for name, entry in entries.items():
        loc = ("connections", str(name))
        kind = entry.get("connector") if isinstance(entry, dict) else None
        model = registry.CONNECTORS.get(str(kind))
        if model is None:
            known = sorted(registry.CONNECTORS)
            message = f"give a connector: {', '.join(known)}"
            if isinstance(kind, str):
                message = unknown_name("connector", kind, known, "known connectors")
            problems.append(file.problem((*loc, "connector"), message))
            refused[str(name)] = "is not valid (see its problems in connections.yaml)"
            continue
        try:
            connections[str(name)] = model.model_validate(entry, context={"base_dir": directory})
        except ValidationError as exc:
            problems.extend(validation_problems(file, exc, loc, model))
            refused[str(name)] = _refusal(exc)
    return connections, problems


def _refusal(exc: ValidationError) -> str:
    """Why a process cannot use this connection, in the words of the process's problem."""
    for error in exc.errors():
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, LiteralSecretError):
            field = format_loc((*error["loc"], *cause.field))
            return (
                f"holds a literal secret in field `{field}`; use an env/file reference: "
                "${env:NAME} or ${file:/path}"
            )
    return "is not valid (see its problems in connections.yaml)"
