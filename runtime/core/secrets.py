"""Secrets by reference: `${env:NAME}` and `${file:/run/secrets/name}`.

Connection settings never hold a secret literally (a literal is a validation error unless
the connection says `insecure: true`). Every resolved secret value is remembered here, so
`redact_text` can scrub it from log lines, error messages and execution records, whatever
path it took to get there. Values obtained at run time (OAuth tokens) and the forms secrets
are sent in (`Basic <base64 of user:password>`, URL-encoded query values) are remembered
too: an upstream that echoes a request back cannot put any of them into a record.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

REFERENCE = re.compile(r"\$\{(env|file):([^}]+)\}")
MASK = "***"
_known: set[str] = set()
_pattern: re.Pattern[str] | None = None  # every known secret, longest first
_lock = threading.Lock()  # secrets are resolved in worker threads too (SFTP, FTP)


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
    """Register a secret value (e.g. an OAuth token obtained at run time) for redaction,
    with the encoded forms it may travel in (URL query, JSON string)."""
    global _pattern
    if len(value) < 4:  # shorter strings would mask ordinary text
        return
    forms = {value, quote(value, safe=""), quote_plus(value, safe=""), _json_escaped(value)}
    with _lock:
        fresh = forms - _known
        if fresh:
            _known.update(fresh)
            _pattern = None


def remember_basic(username: str, password: str) -> str:
    """The HTTP Basic credential of `username:password` (base64), remembered as a secret."""
    encoded = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    remember(password)
    remember(encoded)
    return encoded


def _json_escaped(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _compiled() -> re.Pattern[str] | None:
    global _pattern
    pattern = _pattern
    if pattern is None and _known:
        with _lock:
            ordered = sorted(_known, key=len, reverse=True)
            pattern = _pattern = re.compile("|".join(re.escape(secret) for secret in ordered))
    return pattern


def redact_text(text: str) -> str:
    pattern = _compiled()
    return text if pattern is None else pattern.sub(MASK, text)


def redact_bytes(data: bytes) -> bytes:
    """Known secrets scrubbed from raw bytes (as UTF-8)."""
    if not _known:
        return data
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        encoded = secret.encode("utf-8")
        if encoded in data:
            data = data.replace(encoded, MASK.encode())
    return data


def redact_value(value: Any) -> Any:
    if not _known:  # the common case: nothing resolved yet, nothing to walk
        return value
    return _redact_value(value)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {key: _redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(item) for item in value]
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
