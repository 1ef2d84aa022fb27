"""A SOAP endpoint: one path, one service, the operations of one or more processes."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import orjson
import xmlschema
from aiohttp import web
from aiohttp.helpers import parse_mimetype
from lxml import etree

from listeners.gate import BYTES_IN, REJECTED, ListenerGate, add_listener_route, gate_for
from listeners.requests import read_body, request_properties
from listeners.responses import EXECUTION_HEADER
from listeners.soap.envelope import (
    SOAP11,
    Envelope,
    FaultCode,
    SoapFault,
    SoapVersion,
    build_envelope,
    build_fault,
    parse_envelope,
    version_of_content_type,
)
from listeners.soap.wsdl import ServiceContract, generate_wsdl
from runtime.codecs import MalformedXML, parse_xml
from runtime.dispatch import Overloaded, Pending, parse_max_wait
from runtime.document import BodyKind, Document
from runtime.engine import ExecutionResult
from runtime.errors import RequestError, WharfError
from runtime.expressions import variables
from runtime.inputs import encode_request
from runtime.offload import WorkTooCostly, deadline_hook, off_loop
from runtime.routes import add_route
from runtime.security.guard import Principal
from runtime.xmljson import strip_indentation

if TYPE_CHECKING:
    from listeners.soap.trigger import SoapTrigger
    from runtime.engine import Process
    from runtime.state import RuntimeState

log = logging.getLogger("wharf.soap")
ENDPOINTS: web.AppKey[dict[str, SoapEndpoint]] = web.AppKey("wharf_soap_endpoints", dict)


def endpoint_for(app: web.Application, path: str, state: RuntimeState) -> SoapEndpoint:
    endpoints = app.get(ENDPOINTS)
    if endpoints is None:
        endpoints = app[ENDPOINTS] = {}
    if path not in endpoints:
        endpoint = endpoints[path] = SoapEndpoint(path, state)
        # Counted under the endpoint's path (its operations may be several processes).
        add_listener_route(app, "POST", path, endpoint.handle, path, state)
        add_route(app, "GET", path, endpoint.wsdl)
    return endpoints[path]


def _xml_response(
    version: SoapVersion, body: bytes, headers: dict[str, str], status: int = 200
) -> web.Response:
    return web.Response(
        status=status,
        body=body,
        headers={"Content-Type": f"{version.content_type}; charset=utf-8", **headers},
    )


def fault_response(fault: SoapFault, **headers: str) -> web.Response:
    status = 503 if "Retry-After" in headers else 500
    if fault.execution_id:
        headers[EXECUTION_HEADER] = fault.execution_id
    return _xml_response(fault.version, build_fault(fault), headers, status)


class SoapEndpoint:
    def __init__(self, path: str, state: RuntimeState):
        self.path = path
        self.state = state
        self.operations: dict[str, tuple[SoapTrigger, Process]] = {}
        self.gates: dict[str, ListenerGate] = {}  # operation -> its process's gate
        self.contract: ServiceContract | None = None

    def add(self, trigger: SoapTrigger, process: Process) -> None:
        self.operations[trigger.operation] = (trigger, process)
        self.gates[trigger.operation] = gate_for(trigger.auth, trigger, process, self.state)
        declared = [t.declared for t, _ in self.operations.values() if t.declared is not None]
        if declared and trigger.service and trigger.namespace:
            # All declared operations at a path make one generated service.
            self.contract = generate_wsdl(trigger.service, trigger.namespace, declared)
        else:
            self.contract = trigger.contract

    async def wsdl(self, request: web.Request) -> web.Response:
        if "wsdl" not in {key.lower() for key in request.query}:
            raise web.HTTPMethodNotAllowed("GET", ["POST"])
        assert self.contract is not None
        address = str(request.url.with_query(None))
        return web.Response(
            body=self.contract.wsdl_for(address), content_type="text/xml", charset="utf-8"
        )

    async def handle(self, request: web.Request) -> web.StreamResponse:
        mimetype = parse_mimetype(request.headers.get("Content-Type", ""))
        content_type = f"{mimetype.type}/{mimetype.subtype}" if mimetype.type else ""
        if mimetype.suffix:
            content_type += f"+{mimetype.suffix}"
        action = request.headers.get("SOAPAction", mimetype.parameters.get("action"))
        action = action.strip().strip('"') if action is not None else None
        try:
            limit = self.state.settings.max_body
            body = await read_body(request, limit)
            request[BYTES_IN] = len(body)
            envelope = await off_loop(lambda: parse_envelope(body, content_type, action), len(body))
            return await self._answer(request, envelope, body)
        except SoapFault as fault:
            return fault_response(fault)
        except WorkTooCostly as exc:
            return fault_response(SoapFault(exc.detail, "sender", _version(content_type)))
        except Overloaded as exc:
            version = _version(content_type)
            return fault_response(SoapFault(exc.detail, "receiver", version), **exc.headers)
        except RequestError as refused:
            if REJECTED not in request:
                raise  # not the gate's: a problem, as for any request (e.g. 415)
            # The gate refused (401/403, 429, 503): a Fault of the caller's version.
            code: FaultCode = "receiver" if refused.status >= 500 else "sender"
            denied = SoapFault(refused.detail, code, _version(content_type))
            return _xml_response(
                denied.version, build_fault(denied), dict(refused.headers), refused.status
            )

    async def _answer(
        self, request: web.Request, envelope: Envelope, body: bytes
    ) -> web.StreamResponse:
        assert self.contract is not None
        version = envelope.version
        tag = str(envelope.body.tag)
        operation = self.contract.operation_for(tag, envelope.action)
        if operation is None or operation.name not in self.operations:
            raise SoapFault(f"no operation takes a {tag} element here", version=version)
        gate = self.gates[operation.name]
        principal = await gate.admit(request, body)
        try:
            return await self._run(request, envelope, operation.name, principal)
        finally:
            gate.release(request)

    async def _run(
        self,
        request: web.Request,
        envelope: Envelope,
        operation: str,
        principal: Principal,
    ) -> web.StreamResponse:
        assert self.contract is not None
        version = envelope.version
        trigger, process = self.operations[operation]
        size = request.get(BYTES_IN, 0)  # large requests are validated and decoded off the loop
        if trigger.validate_request:
            validator = self.contract.validator
            errors = await off_loop(lambda: validator.errors(envelope.body), size)
            if errors:
                raise SoapFault("invalid request: " + "; ".join(errors[:10]), version=version)
        properties = request_properties(request)
        self.gates[operation].guard.strip_credentials(properties)
        properties.update(principal.properties)
        properties.update(
            soap_version=version.name,
            soap_action=envelope.action,
            soap_operation=operation,
        )
        document = await off_loop(
            lambda: self._document(trigger, envelope.body, properties, version), size
        )
        names = variables(document)
        for requirement in trigger.require:
            if not requirement.when.evaluate(names):
                raise SoapFault(requirement.message, version=version)
        if trigger.mode == "async":
            return await self._accept(trigger, process, document, version)
        max_wait = parse_max_wait(request.headers.get("X-Max-Wait"), trigger.max_wait)
        outcome = await self.state.dispatcher.run(process, [document], max_wait=max_wait)
        if isinstance(outcome, Pending):
            # The SOAP caller gets no result; 202 with the status link, as HTTP listeners do.
            link = f"/api/executions/{outcome.execution_id}"
            headers = {EXECUTION_HEADER: outcome.execution_id, "X-Execution-Status-Link": link}
            return web.Response(status=202, headers=headers)
        return self._result(trigger, outcome, version)

    def _document(
        self,
        trigger: SoapTrigger,
        element: etree._Element,
        properties: dict[str, Any],
        version: SoapVersion,
    ) -> Document:
        if not trigger.as_json:
            return Document.xml(element, properties)
        assert self.contract is not None
        try:
            value = self.contract.schema.to_dict(
                element,  # type: ignore[arg-type]
                strip_namespaces=True,
                decimal_type=float,
                validation_hook=deadline_hook,
            )
        except xmlschema.XMLSchemaValidationError as exc:
            raise SoapFault(f"invalid request: {exc.reason}", version=version) from None
        if isinstance(value, dict):
            value.pop("@xmlns", None)
        return Document.json(value, properties)

    async def _accept(
        self, trigger: SoapTrigger, process: Process, document: Document, version: SoapVersion
    ) -> web.StreamResponse:
        if document.kind is BodyKind.JSON:
            stored = encode_request(
                "json", orjson.dumps(document.body), "application/json", document.properties
            )
        else:
            body = etree.tostring(document.body)
            stored = encode_request("xml", body, "application/xml", document.properties)
        key = None
        if trigger.idempotency_key is not None:
            value = trigger.idempotency_key.evaluate(variables(document))
            key = None if value in (None, "") else str(value)
        accepted = await self.state.dispatcher.accept(process, stored, idempotency_key=key)
        headers = {EXECUTION_HEADER: accepted.execution_id}
        if trigger.ack is None:
            return web.Response(status=202, headers=headers)
        return _xml_response(version, build_envelope(version, parse_xml(trigger.ack)), headers)

    def _result(
        self, trigger: SoapTrigger, result: ExecutionResult, version: SoapVersion
    ) -> web.Response:
        execution = result.execution
        headers = {EXECUTION_HEADER: execution.id}
        if execution.error is not None:
            root = execution.error.root
            status = execution.error.status
            code: FaultCode = "sender" if status < 500 else "receiver"
            message = root.detail if isinstance(root, WharfError) else "the process failed"
            raise SoapFault(message, code, version, execution_id=execution.id)
        output = trigger.contract_operation.output_element
        if not result.documents or output is None:
            return web.Response(status=202, headers=headers)
        element = self._response_element(result.documents[0], output, version, execution.id)
        return _xml_response(version, build_envelope(version, element), headers)

    def _response_element(
        self, document: Document, output: str, version: SoapVersion, execution_id: str
    ) -> etree._Element:
        assert self.contract is not None
        try:
            if document.kind is BodyKind.XML:
                return document.body  # type: ignore[no-any-return]
            if document.kind in (BodyKind.TEXT, BodyKind.RAW):
                return parse_xml(document.body)
            if document.kind is BodyKind.JSON:
                namespace = etree.QName(output).namespace or ""
                element: etree._Element = self.contract.schema.encode(  # type: ignore[assignment]
                    document.body,
                    path=etree.QName(output).localname,
                    namespaces={"": namespace},
                    etree_element_class=etree.Element,
                    validation="strict",
                    indent=0,
                )
                return strip_indentation(element)
        except (MalformedXML, xmlschema.XMLSchemaValidationError) as exc:
            log.warning("execution %s: cannot build the SOAP response: %s", execution_id, exc)
            raise SoapFault(
                "the process result does not fit the response element",
                "receiver",
                version,
                execution_id=execution_id,
            ) from None
        raise SoapFault("the process left no response body", "receiver", version, execution_id)


def _version(content_type: str) -> SoapVersion:
    return version_of_content_type(content_type) or SOAP11
