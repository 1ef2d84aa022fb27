"""Secrets by reference: `${env:NAME}` and `${file:/run/secrets/name}`.

Connection settings never hold a secret literally (a literal is a validation error unless
the connection says `insecure: true`). Every resolved secret value is remembered here, so
`redact_text` can scrub it from log lines, error messages and execution records, whatever
path it took to get there.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

REFERENCE = re.compile(r"\$\{(env|file):([^}]+)\}")
MASK = "***"
_known: set[str] = set()


class SecretError(ValueError):
    pass


class LiteralSecretError(ValueError):
    """A secret written literally where a reference belongs; `field` is its path below
    the model that refused it, so the problem points at the line holding it."""

    def __init__(self, field: tuple[str | int, ...], message: str):
        super().__init__(message)
        self.field = field


def is_reference(value: str) -> bool:
    return REFERENCE.fullmatch(value.strip()) is not None


def contains_reference(value: str) -> bool:
    return REFERENCE.search(value) is not None


def _resolve_one(kind: str, name: str) -> str:
    if kind == "env":
        value = os.environ.get(name)
        if value is None:
            raise SecretError(f"environment variable {name} is not set")
    else:
        try:
            value = Path(name).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise SecretError(f"cannot read secret file {name}: {exc.strerror}") from None
    if value:
        remember(value)
    return value


def resolve(value: str) -> str:
    """Replace every `${env:...}` / `${file:...}` in a string with the secret it names."""
    return REFERENCE.sub(lambda match: _resolve_one(match.group(1), match.group(2)), value)


def remember(value: str) -> None:
    """Register a secret value (e.g. an OAuth token obtained at run time) for redaction."""
    if len(value) >= 4:  # shorter strings would mask ordinary text
        _known.add(value)


def redact_text(text: str) -> str:
    for secret in sorted(_known, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {key: redact_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_value(item) for item in value]
    return value


class RedactingFilter(logging.Filter):
    """Scrubs known secrets from every log record's final message."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _known:
            message = record.getMessage()
            redacted = redact_text(message)
            if redacted != message:
                record.msg, record.args = redacted, None
            if record.exc_info and not record.exc_text:
                # Formatters reuse exc_text when set: give them the redacted traceback.
                record.exc_text = redact_text(_FORMATTER.formatException(record.exc_info))
        return True


_FORMATTER = logging.Formatter()
