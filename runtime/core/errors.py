"""Wharf's exception hierarchy.

Every error a caller can see maps to an HTTP status and an RFC 9457 problem type, so
listeners never have to guess how to answer. Anything that is not a `WharfError` is a
bug or an environment failure: callers get a generic 500 that names the execution, and
the details go to the server log only.
"""

from __future__ import annotations


class WharfError(Exception):
    """Base of every error Wharf raises on purpose."""

    status: int = 500
    problem: str = "internal-error"
    title: str = "Internal error"

    def __init__(self, detail: str, *, status: int | None = None, title: str | None = None):
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title


class ConfigError(WharfError):
    """A process, connection or setting is invalid; raised at load time."""

    problem = "invalid-configuration"
    title = "Invalid configuration"


class RequestError(WharfError):
    """A request Wharf refuses before running anything: something it cannot accept (400 and
    the other 4xx), or no room to run it just now (503 with `Retry-After`: overloaded, the
    listener busy). `headers` go out with the answer."""

    status = 400
    problem = "bad-request"
    title = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        title: str | None = None,
        problem: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(detail, status=status, title=title)
        if problem is not None:
            self.problem = problem
        self.headers = headers or {}


class ClientGone(RequestError):
    """The caller closed the connection before its request was read: nobody hears the
    answer, and it is not an error of Wharf's."""

    problem = "client-gone"
    title = "Client closed the connection"


class ExpressionError(WharfError):
    """An expression or template failed while evaluating (e.g. an undefined field)."""

    problem = "expression-failed"
    title = "Expression failed"


class DocumentError(WharfError):
    """A document has the wrong shape for a step (e.g. XPath on a JSON document)."""

    problem = "document-error"
    title = "Document error"


class ProcessFailure(WharfError):
    """Raised by the `fail` step: a declared, expected failure with its own status."""

    problem = "process-failure"
    title = "Process failed"

    def __init__(
        self,
        detail: str,
        *,
        status: int = 500,
        title: str | None = None,
        problem: str | None = None,
    ):
        super().__init__(detail, status=status, title=title)
        if problem is not None:
            self.problem = problem


class StepError(WharfError):
    """A step failed. Wraps the cause with the step's path in the process."""

    problem = "step-failed"
    title = "Step failed"

    def __init__(self, step_path: str, cause: BaseException):
        self.step_path = step_path
        self.cause = cause
        if isinstance(cause, WharfError):
            detail = f"{step_path}: {cause.detail}"
            status: int | None = cause.status
            title: str | None = cause.title
            self.problem = cause.problem
        else:
            # Unexpected exceptions may carry internals; their text stays in the log.
            detail = f"{step_path}: internal error ({type(cause).__name__})"
            status, title = 500, None
        super().__init__(detail, status=status, title=title)

    @property
    def root(self) -> BaseException:
        """The innermost cause, through nested steps (route, try, split...)."""
        cause = self.cause
        while isinstance(cause, StepError):
            cause = cause.cause
        return cause


class NestedConfigError(ValueError):
    """Config validation errors deeper than the field that raised them.

    Validators that walk free-form structures (e.g. `map.fields`) raise this with each
    problem's path below their field, so `wharf validate` still points at the exact keys
    and reports all of them.
    """

    def __init__(self, errors: list[tuple[tuple[str | int, ...], str]]):
        super().__init__("; ".join(message for _, message in errors))
        self.errors = errors
