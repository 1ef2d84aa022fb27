"""The `wharf` command: run, validate, schema, docs."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError


def _configure_logging(level: str) -> None:
    from runtime.core.secrets import RedactingFilter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(RedactingFilter())  # no resolved secret ever reaches the log
    logging.basicConfig(level=level, handlers=[handler])
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per job added


def _cmd_validate(args: argparse.Namespace) -> int:
    from runtime.loading.loader import validate_path

    processes, problems = validate_path(Path(args.directory))
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) found", file=sys.stderr)
        return 1
    print(f"{len(processes)} process(es) valid")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from runtime.loading.loader import load_directory
    from runtime.server.serve import run
    from runtime.server.settings import Settings

    overrides = {
        key: value
        for key, value in {
            "host": args.host,
            "port": args.port,
            "max_body": args.max_body,
            "shutdown_timeout": args.shutdown_timeout,
            "log_level": args.log_level,
            "store": args.store,
        }.items()
        if value is not None
    }
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        for error in exc.errors():
            print(f"setting {'.'.join(map(str, error['loc']))}: {error['msg']}", file=sys.stderr)
        return 2
    _configure_logging(settings.log_level)
    processes, connections, problems = load_directory(Path(args.directory))
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"not starting: {len(problems)} problem(s) found", file=sys.stderr)
        return 1
    from runtime.core.errors import ConfigError
    from runtime.loading.security import load_security

    security, _ = load_security(Path(args.directory))  # valid: load_directory checked it
    try:
        run(processes, settings, connections, security)
    except ConfigError as exc:
        print(f"not starting: {exc.detail}", file=sys.stderr)
        return 1
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from runtime.cli.reference import SCHEMAS

    text = json.dumps(SCHEMAS[args.file](), indent=2) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _cmd_docs(args: argparse.Namespace) -> int:
    from runtime.cli.reference import component_reference, with_step_table

    if args.readme:
        readme = Path(args.readme)
        readme.write_text(with_step_table(readme.read_text(encoding="utf-8")), encoding="utf-8")
    text = component_reference()
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _cmd_connections_test(args: argparse.Namespace) -> int:
    import asyncio

    from runtime.core.connections import Connections
    from runtime.loading.connections import load_connections
    from runtime.server.connection_checks import check_connection, format_table

    configs, problems = load_connections(Path(args.directory))
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    names = [args.name] if args.name else sorted(configs)
    unknown = [name for name in names if name not in configs]
    if unknown:
        print(f"no connection named {unknown[0]!r} in {args.directory}", file=sys.stderr)
        return 1
    if not names:
        print("no connections defined")
        return 0

    async def check_all() -> list[Any]:
        connections = Connections(configs, checking=True)
        try:
            return [await check_connection(connections, name) for name in names]
        finally:
            await connections.close()

    results = asyncio.run(check_all())
    print(format_table(results))
    return 0 if all(result.ok for result in results) else 1


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("wharf")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wharf", description="Wharf integration runtime")
    parser.add_argument("--version", action="version", version=f"wharf {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="serve the processes of a directory")
    run.add_argument("directory", help="directory of process YAML files")
    run.add_argument("--host", help="address to listen on (WHARF_HOST, default 127.0.0.1)")
    run.add_argument("--port", type=int, help="port (WHARF_PORT, default 8080; 0 = any free)")
    run.add_argument("--max-body", type=int, help="default body limit in bytes (WHARF_MAX_BODY)")
    run.add_argument("--shutdown-timeout", help="drain time on SIGTERM (WHARF_SHUTDOWN_TIMEOUT)")
    run.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    run.add_argument("--store", help="store URL (WHARF_STORE, default sqlite:///.wharf/wharf.db)")
    run.set_defaults(func=_cmd_run)

    validate = commands.add_parser("validate", help="check process files, report every problem")
    validate.add_argument(
        "directory", metavar="PATH", help="a directory of process files, or one process file"
    )
    validate.set_defaults(func=_cmd_validate)

    schema = commands.add_parser("schema", help="print the JSON Schema of a kind of YAML file")
    schema.add_argument(
        "file",
        nargs="?",
        default="process",
        choices=["process", "connections", "security"],
        help="process files (default), connections.yaml or security.yaml",
    )
    schema.add_argument("--output", help="write to this file instead of stdout")
    schema.set_defaults(func=_cmd_schema)

    docs = commands.add_parser("docs", help="print the component reference (Markdown)")
    docs.add_argument("--output", help="write to this file instead of stdout")
    docs.add_argument("--readme", help="also rewrite the step table of this README")
    docs.set_defaults(func=_cmd_docs)

    connections = commands.add_parser("connections", help="work with connections.yaml")
    connection_actions = connections.add_subparsers(dest="action", required=True)
    test = connection_actions.add_parser("test", help="check connections for real")
    test.add_argument("directory", help="directory holding connections.yaml")
    test.add_argument("name", nargs="?", help="one connection (default: all)")
    test.set_defaults(func=_cmd_connections_test)

    from runtime.cli import executions as cli_executions
    from runtime.cli import keys as cli_keys
    from runtime.cli import schedules as cli_schedules

    cli_executions.add_commands(commands)
    cli_schedules.add_commands(commands)
    cli_keys.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    from runtime.core.registry import ComponentLoadError

    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ComponentLoadError as exc:  # a plug-in that does not import: say which one
        print(f"wharf: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
