"""What the SOAP endpoint needs of one operation's trigger.

The endpoint (one per path, serving every operation declared there) reads its operations
through this protocol, so it does not depend on the trigger module, which mounts it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import Field

from runtime.core.expressions import ExpressionField
from runtime.core.models import StrictModel

if TYPE_CHECKING:
    from listeners.soap.wsdl import DeclaredOperation, ServiceContract
    from runtime.core.expressions import ValueField
    from runtime.security.config import AuthSpec
    from runtime.traffic.config import LimitsConfig


class Requirement(StrictModel):
    """A check a SOAP request must pass."""

    when: ExpressionField = Field(description="Must be true, e.g. `props.org == '00D...'`.")
    message: str = Field(description="Fault message when it is not.")


class SoapOperation(Protocol):
    """One operation as the endpoint serves it (the `soap` trigger's config)."""

    @property
    def operation(self) -> str: ...

    @property
    def service(self) -> str | None: ...

    @property
    def namespace(self) -> str | None: ...

    @property
    def contract(self) -> ServiceContract: ...

    @property
    def contract_operation(self) -> Any: ...

    @property
    def declared(self) -> DeclaredOperation | None: ...

    @property
    def as_json(self) -> bool: ...

    @property
    def understood(self) -> frozenset[str]: ...

    @property
    def validate_request(self) -> bool: ...

    @property
    def require(self) -> Sequence[Requirement]: ...

    @property
    def mode(self) -> Literal["sync", "async"]: ...

    @property
    def ack(self) -> str | None: ...

    @property
    def max_wait(self) -> float | None: ...

    @property
    def max_body(self) -> int | None: ...

    @property
    def idempotency_key(self) -> ValueField | None: ...

    @property
    def auth(self) -> AuthSpec | None: ...

    @property
    def limits(self) -> LimitsConfig: ...
