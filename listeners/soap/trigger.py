"""The `soap` trigger: one operation of a SOAP service, contract-first or declared."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from listeners.paths import LISTENER_PATH, check_not_reserved
from listeners.soap.endpoint import endpoint_for
from listeners.soap.operation import Requirement
from listeners.soap.wsdl import DeclaredOperation, ServiceContract, generate_wsdl, load_wsdl
from runtime.core import registry
from runtime.core.components import TriggerConfig
from runtime.core.durations import Duration
from runtime.core.expressions import ValueField
from runtime.formats.codecs import MalformedXML, parse_xml
from runtime.security.config import AuthSpec
from runtime.traffic.config import LimitsConfig

if TYPE_CHECKING:
    from listeners.context import MountContext
    from runtime.core.engine import Process

_CLARK = re.compile(r"^(\{[^{}\s]+\})?[A-Za-z_][\w.-]*$")


@registry.trigger("soap")
class SoapTrigger(LimitsConfig, TriggerConfig):
    """Answer one SOAP operation at `path`. Give a `wsdl` (contract first, e.g. the WSDL
    Salesforce generates) or declare the operation with `service`, `namespace`, `input` and
    `output` fields (Wharf generates the WSDL). Several processes can serve operations of
    one service at the same path; `GET <path>?wsdl` serves the WSDL with the address the
    caller used. SOAP 1.1 and 1.2."""

    path: str = Field(description="URL path of the service, e.g. `/soap/customers`.")
    operation: str = Field(description="The operation this process answers.")
    wsdl: str | None = Field(None, description="WSDL file, relative to the process file.")
    service: str | None = Field(None, description="Declared services: the service name.")
    namespace: str | None = Field(None, description="Declared services: target namespace.")
    input: dict[str, Any] | None = Field(
        None,
        description="Declared: request fields, name -> type (`string`, `int`, `decimal`, "
        "`boolean`, `date`, `dateTime`..., `[]` for lists, `?` for optional, a mapping for "
        "a nested record, a one-item list `[{...}]` for a list of records). An omitted "
        "repeated element arrives as `[]`; decimals arrive as exact Decimals.",
    )
    output: dict[str, Any] | None = Field(
        None, description="Declared: response fields (as `input`); none for one-way operations."
    )
    validate_request: bool = Field(
        True, alias="validate", description="Validate request bodies against the schema."
    )
    document: Literal["xml", "json"] | None = Field(
        None,
        description="What the process receives: the body element as `xml`, or `json` "
        "(typed from the schema). Default: xml with a WSDL, json for declared operations.",
    )
    mode: Literal["sync", "async"] = Field(
        "sync",
        description="`async`: store the request durably, then answer `ack` at once; a worker "
        "runs the process.",
    )
    ack: str | None = Field(
        None, description="`async`: the response body element sent once the request is stored."
    )
    max_wait: Duration | None = Field(None, description="`sync`: as for HTTP listeners.")
    idempotency_key: ValueField | None = Field(
        None,
        description="`async`: value over the request identifying a delivery (per caller, "
        "as for HTTP listeners); a repeat returns the first execution.",
    )
    max_body: int | None = Field(None, ge=0, description="Body limit in bytes.")
    auth: AuthSpec | None = Field(
        None,
        description="Who may call, as for HTTP listeners (failures are SOAP Faults with "
        "HTTP 401/403); default: security.yaml's `defaults.auth`.",
    )
    understands: list[str] = Field(
        default_factory=list,
        description="Header blocks this operation accepts when the caller marks them "
        "`mustUnderstand`, as `{namespace}name` (e.g. a WS-Security header a gateway in "
        "front already checked). Wharf reads no header block itself; any other block that "
        "must be understood by this node is a MustUnderstand fault.",
    )
    require: list[Requirement] = Field(
        default_factory=list,
        description="Checks on the request before anything is stored or run; a failed "
        "check answers a Sender fault with its message (e.g. the expected organization).",
    )

    _contract: ServiceContract = PrivateAttr()
    _contract_id: str = PrivateAttr()

    @field_validator("understands")
    @classmethod
    def _clark_names(cls, names: list[str]) -> list[str]:
        for name in names:
            if not _CLARK.match(name):
                raise ValueError(f"{name!r} is not a header block name like '{{namespace}}name'")
        return names

    @field_validator("path")
    @classmethod
    def _soap_path(cls, value: str) -> str:
        # A field check, reported beside the contract's problems (a model validator would
        # wait for every field to be valid).
        if not LISTENER_PATH.match(value) or "{" in value:
            raise ValueError("a SOAP path starts with '/' and has no {parameters}")
        check_not_reserved(value)
        return value

    @model_validator(mode="after")
    def _load_contract(self, info: ValidationInfo) -> SoapTrigger:
        declared = (self.service, self.namespace, self.input)
        if self.wsdl is not None:
            if any(value is not None for value in (*declared, self.output)):
                raise ValueError(
                    "give a `wsdl`, or declare `service`/`namespace`/`input`, not both"
                )
            base = Path((info.context or {}).get("base_dir") or ".")
            path = (base / self.wsdl).resolve()
            self._contract = load_wsdl(path)
            self._contract_id = f"wsdl:{path}"
        else:
            if any(value is None for value in declared):
                raise ValueError("give a `wsdl`, or `service`, `namespace` and `input`")
            assert self.service and self.namespace and self.input is not None
            operation = DeclaredOperation(self.operation, self.input, self.output)
            self._contract = generate_wsdl(self.service, self.namespace, [operation])
            self._contract_id = f"declared:{self.service}:{self.namespace}"
        if self.operation not in self._contract.operations:
            known = ", ".join(sorted(self._contract.operations))
            raise ValueError(f"operation {self.operation!r} is not in the WSDL (it has: {known})")
        if self.ack is not None:
            try:
                parse_xml(self.ack)
            except MalformedXML as exc:
                raise ValueError(f"ack: {exc.detail}") from None
        if self.mode == "async" and self.ack is None and self.contract_operation.output_element:
            raise ValueError("an async SOAP operation with a response needs `ack`")
        return self

    @property
    def contract(self) -> ServiceContract:
        return self._contract

    @property
    def contract_operation(self) -> Any:
        return self._contract.operations[self.operation]

    @property
    def declared(self) -> DeclaredOperation | None:
        if self.wsdl is not None or self.input is None:
            return None
        return DeclaredOperation(self.operation, self.input, self.output)

    @property
    def understood(self) -> frozenset[str]:
        return frozenset(self.understands)

    @property
    def as_json(self) -> bool:
        return (self.document or ("xml" if self.wsdl else "json")) == "json"

    @property
    def limits(self) -> LimitsConfig:
        return self

    def endpoint_key(self) -> tuple[str, str, str]:
        return self.path, self._contract_id, self.operation

    def mount(self, process: Process, context: MountContext) -> None:
        endpoint_for(context.app, self.path, context).add(self, process)
