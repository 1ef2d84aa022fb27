"""A SOAP endpoint: one path, one service, the operations of one or more processes."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import xmlschema
from aiohttp import web
from aiohttp.helpers import parse_mimetype
from lxml import etree

from listeners.gate import (
    BYTES_IN,
    ListenerGate,
    add_listener_route,
    gate_for,
    idempotency_scope,
)
from listeners.requests import read_body, request_properties
from listeners.soap.envelope import (
    SOAP11,
    SOAP12,
    Envelope,
    FaultCode,
    SoapFault,
    SoapVersion,
    build_envelope,
    build_fault,
    header_blocks_not_understood,
    parse_envelope,
    version_of_content_type,
)
from listeners.soap.values import encodable, global_element, with_empty_lists
from listeners.soap.wsdl import ServiceContract, generate_wsdl
from runtime.core.document import BodyKind, Document
from runtime.core.engine import ExecutionResult
from runtime.core.errors import RequestError, WharfError
from runtime.core.expressions import variables
from runtime.core.offload import deadline_hook, off_loop
from runtime.dispatch.dispatcher import Pending, parse_max_wait
from runtime.formats.codecs import MalformedXML, parse_xml
from runtime.formats.inputs import encode_request, encode_typed_request
from runtime.formats.xmljson import strip_indentation
from runtime.security.guard import Principal
from runtime.web.answers import EXECUTION_HEADER
from runtime.web.routes import add_route

if TYPE_CHECKING:
    from listeners.context import MountContext
    from listeners.soap.operation import SoapOperation
    from runtime.core.engine import Process

log = logging.getLogger("wharf.soap")
ENDPOINTS: web.AppKey[dict[str, SoapEndpoint]] = web.AppKey("wharf_soap_endpoints", dict)


def endpoint_for(app: web.Application, path: str, context: MountContext) -> SoapEndpoint:
    endpoints = app.get(ENDPOINTS)
    if endpoints is None:
        endpoints = app[ENDPOINTS] = {}
    if path not in endpoints:
        endpoint = endpoints[path] = SoapEndpoint(path, context)
        # Counted under the endpoint's path (its operations may be several processes).
        add_listener_route(app, "POST", path, endpoint.handle, path, context)
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
    if fault.execution_id:
        headers[EXECUTION_HEADER] = fault.execution_id
    return _xml_response(fault.version, build_fault(fault), headers, fault.status)


class SoapEndpoint:
    def __init__(self, path: str, context: MountContext):
        self.path = path
        self.context = context
        self.operations: dict[str, tuple[SoapOperation, Process]] = {}
        self.gates: dict[str, ListenerGate] = {}  # operation -> its process's gate
        self.limits: dict[str, int] = {}  # operation -> its body limit
        self.contract: ServiceContract | None = None

    def add(self, trigger: SoapOperation, process: Process) -> None:
        self.operations[trigger.operation] = (trigger, process)
        default = self.context.settings.max_body
        self.limits[trigger.operation] = default if trigger.max_body is None else trigger.max_body
        self.gates[trigger.operation] = gate_for(
            trigger.auth, trigger.limits, process, self.context
        )
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
        """Every answer but a result is a Fault of the caller's version (1.1 when its
        Content-Type does not say): SOAP clients read nothing else."""
        mimetype = parse_mimetype(request.headers.get("Content-Type", ""))
        content_type = f"{mimetype.type}/{mimetype.subtype}" if mimetype.type else ""
        if mimetype.suffix:
            content_type += f"+{mimetype.suffix}"
        action = request.headers.get("SOAPAction", mimetype.parameters.get("action"))
        action = action.strip().strip('"') if action is not None else None
        version = _version(content_type)
        try:
            # The operation is known only once the body is read: read up to the largest
            # limit of the path's operations, then hold the body to its operation's.
            body = await read_body(request, max(self.limits.values()))
            request[BYTES_IN] = len(body)
            envelope = await off_loop(lambda: parse_envelope(body, content_type, action), len(body))
            return await self._answer(request, envelope, body)
        except SoapFault as fault:
            return fault_response(fault)
        except RequestError as refused:
            # HTTP-level refusals (401/403, 413, 429, 503...) keep their status.
            code: FaultCode = "receiver" if refused.status >= 500 else "sender"
            denied = SoapFault(refused.detail, code, version, status=refused.status)
            return fault_response(denied, **refused.headers)
        except WharfError as error:
            code = "receiver" if error.status >= 500 else "sender"
            return fault_response(SoapFault(error.detail, code, version))
        except Exception:
            log.exception("SOAP request to %s failed", self.path)
            return fault_response(SoapFault("internal error", "receiver", version))

    async def _answer(
        self, request: web.Request, envelope: Envelope, body: bytes
    ) -> web.StreamResponse:
        assert self.contract is not None
        version = envelope.version
        if version.name not in self.contract.versions:
            supported = tuple(v for v in (SOAP11, SOAP12) if v.name in self.contract.versions)
            raise SoapFault(
                f"this service has no SOAP {version.name} binding; it speaks SOAP "
                + " and ".join(v.name for v in supported),
                "version",
                version,
                supported=supported,
            )
        tag = str(envelope.body.tag)
        operation = self.contract.operation_for(tag, envelope.action)
        if operation is None or operation.name not in self.operations:
            raise SoapFault(f"no operation takes a {tag} element here", version=version)
        limit = self.limits[operation.name]
        if len(body) > limit:
            raise SoapFault(
                f"the request body is larger than the limit of {limit} bytes",
                version=version,
                status=413,
            )
        gate = self.gates[operation.name]
        principal = await gate.admit(request, body)
        try:
            trigger = self.operations[operation.name][0]
            missing = header_blocks_not_understood(envelope, trigger.understood)
            if missing:
                raise SoapFault(
                    "header blocks not understood: " + ", ".join(missing),
                    "must_understand",
                    version,
                    not_understood=tuple(missing),
                )
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
            scope = idempotency_scope(principal)
            return await self._accept(trigger, process, document, version, scope)
        max_wait = parse_max_wait(request.headers.get("X-Max-Wait"), trigger.max_wait)
        outcome = await self.context.dispatcher.run(process, [document], max_wait=max_wait)
        if isinstance(outcome, Pending):
            # The SOAP caller gets no result; 202 with the status link, as HTTP listeners do.
            link = f"/api/executions/{outcome.execution_id}"
            headers = {EXECUTION_HEADER: outcome.execution_id, "X-Execution-Status-Link": link}
            return web.Response(status=202, headers=headers)
        return self._result(trigger, outcome, version)

    def _document(
        self,
        trigger: SoapOperation,
        element: etree._Element,
        properties: dict[str, Any],
        version: SoapVersion,
    ) -> Document:
        if not trigger.as_json:
            return Document.xml(element, properties)
        assert self.contract is not None
        try:
            # xs:decimal stays a Decimal: exact through the process, the response and SQL.
            value = self.contract.schema.to_dict(
                element,  # type: ignore[arg-type]
                strip_namespaces=True,
                validation_hook=deadline_hook,
            )
        except xmlschema.XMLSchemaValidationError as exc:
            raise SoapFault(f"invalid request: {exc.reason}", version=version) from None
        if isinstance(value, dict):
            value.pop("@xmlns", None)
        declared = global_element(self.contract.schema, str(element.tag))
        if declared is not None:
            value = with_empty_lists(value, declared)
        return Document.json(value, properties)

    async def _accept(
        self,
        trigger: SoapOperation,
        process: Process,
        document: Document,
        version: SoapVersion,
        scope: str,
    ) -> web.StreamResponse:
        if document.kind is BodyKind.JSON:
            stored = encode_typed_request(document.body, document.properties)
        else:
            body = etree.tostring(document.body)
            stored = encode_request("xml", body, "application/xml", document.properties)
        key = None
        if trigger.idempotency_key is not None:
            value = trigger.idempotency_key.evaluate(variables(document))
            key = None if value in (None, "") else str(value)
        # The key comes from the message by the trigger's expression: it names the delivery
        # by itself (a redelivery may differ elsewhere), so no request hash is compared.
        accepted = await self.context.dispatcher.accept(
            process, stored, idempotency_key=key, idempotency_scope=scope
        )
        headers = {EXECUTION_HEADER: accepted.execution_id}
        if trigger.ack is None:
            return web.Response(status=202, headers=headers)
        return _xml_response(version, build_envelope(version, parse_xml(trigger.ack)), headers)

    def _result(
        self, trigger: SoapOperation, result: ExecutionResult, version: SoapVersion
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
                    encodable(document.body),
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
