"""The `soap` connector and `soap.call`: call an operation of an external SOAP service.

zeep reads the WSDL (in a worker thread, once, when the connection opens) and calls with
its async transport (httpx), so a call never blocks the event loop.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Literal

import httpx
import zeep
from lxml import etree
from pydantic import Field, ValidationInfo, field_validator
from zeep.exceptions import Error as ZeepError
from zeep.exceptions import Fault
from zeep.helpers import serialize_object
from zeep.transports import AsyncTransport

from processes.connectors.base import ConnectorStep
from processes.connectors.paths import relative_to_definitions
from runtime.core import registry
from runtime.core.components import ConnectionClient, ConnectionConfig
from runtime.core.document import BodyKind, Document
from runtime.core.durations import Duration
from runtime.core.errors import WharfError
from runtime.core.expressions import ValueField, variables
from runtime.core.secrets import redact_text

if TYPE_CHECKING:
    from runtime.core.components import StepContext


class SoapCallError(WharfError):
    problem = "soap-call-failed"
    title = "SOAP call failed"
    status = 502


@registry.connector("soap")
class SoapConnection(ConnectionConfig):
    """An external SOAP service described by a WSDL (URL or file)."""

    connector: Literal["soap"] = Field(description="The connector kind.")
    wsdl: str = Field(description="WSDL URL or file path.")
    service: str | None = Field(None, description="Service name, when the WSDL has several.")
    port: str | None = Field(None, description="Port name, when the service has several.")
    address: str | None = Field(None, description="Call this address instead of the WSDL's.")
    timeout: Duration = 30.0

    @field_validator("wsdl")
    @classmethod
    def _beside_connections_file(cls, value: str, info: ValidationInfo) -> str:
        return relative_to_definitions(value, info) or value

    async def open(self) -> SoapClient:
        def load() -> zeep.AsyncClient:
            transport = AsyncTransport(
                client=httpx.AsyncClient(timeout=self.timeout),
                wsdl_client=httpx.Client(timeout=self.timeout),
            )
            return zeep.AsyncClient(self.wsdl, transport=transport)

        try:
            client = await asyncio.to_thread(load)
        except (ZeepError, httpx.HTTPError, OSError) as exc:
            raise SoapCallError(f"cannot load the WSDL: {type(exc).__name__}: {exc}") from None
        if self.service and self.port:
            service = client.bind(self.service, self.port)
        else:
            service = client.service
        if self.address:
            binding = service._binding
            service = client.create_service(binding.name.text, self.address)
        return SoapClient(client, service)


class SoapClient(ConnectionClient):
    def __init__(self, client: zeep.AsyncClient, service: Any):
        self.client = client
        self.service = service

    async def close(self) -> None:
        await self.client.transport.aclose()

    async def check(self) -> str:
        operations = sorted(self.service._operations)
        return f"WSDL loaded: {', '.join(operations)}"


@registry.step("soap.call")
class SoapCallStep(ConnectorStep):
    """Call an operation once per document with `arguments` (values over the document);
    the typed result becomes a JSON document (or XML with `output: xml`). A Fault fails
    the step with the fault's message."""

    connector = "soap"
    operation: str = Field(description="Operation name, e.g. `getCustomer`.")
    arguments: dict[str, ValueField] = Field(
        default_factory=dict, description="Parameter -> value; default: the JSON document."
    )
    output: Literal["json", "xml"] = "json"

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        client = await self.connection_client(context)
        assert isinstance(client, SoapClient)
        try:
            operation = client.service[self.operation]
        except AttributeError:
            raise SoapCallError(f"the service has no operation {self.operation!r}") from None
        return [await self._call(operation, document) for document in documents]

    async def _call(self, operation: Any, document: Document) -> Document:
        if self.arguments:
            names = variables(document)
            arguments = {name: value.evaluate(names) for name, value in self.arguments.items()}
        elif document.kind is BodyKind.JSON and isinstance(document.body, dict):
            arguments = dict(document.body)
        else:
            arguments = {}
        try:
            result = await operation(**arguments)
        except Fault as fault:
            raise SoapCallError(
                f"fault from {self.operation}: {redact_text(str(fault.message))}"
            ) from None
        except (ZeepError, httpx.HTTPError, TypeError) as exc:
            raise SoapCallError(f"{self.operation} failed: {redact_text(str(exc))}") from None
        if self.output == "xml" and isinstance(result, etree._Element):
            return document.derive(result, BodyKind.XML, "application/xml")
        return document.derive_json(serialize_object(result, dict))
