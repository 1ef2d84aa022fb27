"""WSDL contracts: loaded from a user's file (contract first) or generated from
operations declared in YAML. Both become a `ServiceContract` read by xmlschema, so
dispatch, validation and typed conversion work the same way for either.

Why not spyne for the generated WSDLs: spyne is a complete SOAP server whose WSDL writer
is tied to its own service classes and transports (outside its WSGI server it declares
a placeholder transport), and it emits only a SOAP 1.1 binding. The WSDL a
document/literal-wrapped service needs is small and fixed in shape, so Wharf writes it
directly and gives it both a SOAP 1.1 and a SOAP 1.2 binding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xmlschema
from lxml import etree
from xmlschema.extras.wsdl import Wsdl11Document
from xmlschema.validators import XsdElement

from runtime.formats.codecs import MalformedXML, parse_xml
from runtime.formats.schema_errors import schema_problem
from runtime.formats.schemas import XsdValidator, fast_schema

WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
SOAP11_BINDING_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
SOAP12_BINDING_NS = "http://schemas.xmlsoap.org/wsdl/soap12/"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
HTTP_TRANSPORT = "http://schemas.xmlsoap.org/soap/http"

# YAML field types -> XSD built-in types.
XSD_TYPES = {
    name: f"xsd:{name}"
    for name in (
        "string", "int", "integer", "long", "short", "decimal", "double", "float", "boolean",
        "date", "dateTime", "time", "base64Binary", "anyURI",
    )
}  # fmt: skip
_FIELD_TYPE = re.compile(r"^(?P<type>[A-Za-z]+)(?P<list>\[\])?(?P<optional>\?)?$")


@dataclass
class OperationContract:
    name: str
    soap_action: str
    input_element: str  # Clark notation: {namespace}local
    output_element: str | None


@dataclass
class ServiceContract:
    source: bytes  # the WSDL as written; served with its address rewritten
    schema: xmlschema.XMLSchemaBase
    target_namespace: str
    operations: dict[str, OperationContract] = field(default_factory=dict)
    validator: XsdValidator = field(init=False)
    versions: frozenset[str] = field(init=False)  # the SOAP versions it has bindings for

    def __post_init__(self) -> None:
        root = parse_xml(self.source)
        inline = list(root.iter(f"{{{XSD_NS}}}schema"))
        self.validator = XsdValidator(self.schema, fast_schema(inline))
        bindings = {
            name
            for name, ns in (("1.1", SOAP11_BINDING_NS), ("1.2", SOAP12_BINDING_NS))
            if root.find(f"{{{WSDL_NS}}}binding/{{{ns}}}binding") is not None
        }
        self.versions = frozenset(bindings)

    def operation_for(self, element_tag: str, action: str | None) -> OperationContract | None:
        """Dispatch on the body element, and on SOAPAction when elements are ambiguous."""
        matches = [op for op in self.operations.values() if op.input_element == element_tag]
        if len(matches) > 1 and action:
            matches = [op for op in matches if op.soap_action == action] or matches
        return matches[0] if matches else None

    def wsdl_for(self, address: str) -> bytes:
        """The WSDL with every service address pointing where the caller reached us."""
        root = etree.fromstring(self.source)
        for ns in (SOAP11_BINDING_NS, SOAP12_BINDING_NS):
            for node in root.iter(f"{{{ns}}}address"):
                node.set("location", address)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _as_soap11(source: bytes) -> bytes:
    """xmlschema reads SOAP 1.1 bindings only; SOAP 1.2 binding elements have the same
    shape, so a copy with them renamed lets it read every operation."""
    root = parse_xml(source)
    for element in root.iter(f"{{{SOAP12_BINDING_NS}}}*"):
        element.tag = f"{{{SOAP11_BINDING_NS}}}{etree.QName(element).localname}"
    return etree.tostring(root)


def _contract(source: bytes, base_url: str | None) -> ServiceContract:
    document = Wsdl11Document(  # type: ignore[no-untyped-call]
        _as_soap11(source), base_url=base_url, allow="local", defuse="always"
    )
    operations: dict[str, OperationContract] = {}
    for binding in document.maps.bindings.values():
        for (name, _, _), operation in binding.operations.items():
            if name in operations:
                continue
            # In document/literal, each message part is a global element (an XsdElement).
            inputs = list(operation.input.message.parts.values()) if operation.input else []
            if len(inputs) != 1 or not isinstance(inputs[0], XsdElement):
                raise ValueError(
                    f"operation {name!r}: only document/literal operations with one body "
                    "element are supported"
                )
            outputs = list(operation.output.message.parts.values()) if operation.output else []
            output = outputs[0].name if outputs and isinstance(outputs[0], XsdElement) else None
            operations[name] = OperationContract(
                name, operation.soap_action or "", inputs[0].name, output
            )
    if not operations:
        raise ValueError("the WSDL declares no SOAP operations")
    return ServiceContract(source, document.schema, document.target_namespace or "", operations)


def load_wsdl(path: Path) -> ServiceContract:
    try:
        source = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read WSDL {path.name}: {exc.strerror}") from None
    try:
        return _contract(source, str(path.parent))
    except MalformedXML as exc:
        raise ValueError(f"invalid WSDL {path.name}: {exc.detail}") from None
    except (xmlschema.XMLSchemaException, etree.ParseError) as exc:
        raise ValueError(f"invalid WSDL {schema_problem(exc, path)}") from None


@dataclass
class DeclaredOperation:
    name: str
    input: dict[str, Any]
    output: dict[str, Any] | None


def _field(parent: etree._Element, name: str, spec: Any, where: str) -> None:
    """One declared field: a type name (`decimal`, `string[]`, `date?`), a mapping (a
    nested record) or a one-item list (`[{...}]` or `[type]`: repeated, zero or more)."""
    element = etree.SubElement(parent, f"{{{XSD_NS}}}element", name=name)
    if isinstance(spec, list):
        if len(spec) != 1 or isinstance(spec[0], list):
            raise ValueError(
                f"{where}.{name}: a list field holds one item, its element type "
                "(`[{field: type}]` for records, or `[type]`)"
            )
        element.set("minOccurs", "0")
        element.set("maxOccurs", "unbounded")
        spec = spec[0]
    if isinstance(spec, dict):
        if not spec:
            raise ValueError(f"{where}.{name}: a record needs at least one field")
        complex_type = etree.SubElement(element, f"{{{XSD_NS}}}complexType")
        _sequence(complex_type, spec, f"{where}.{name}")
        return
    match = _FIELD_TYPE.match(str(spec))
    if not match or match.group("type") not in XSD_TYPES:
        known = ", ".join(sorted(XSD_TYPES))
        raise ValueError(
            f"{where}.{name}: unknown type {spec!r} (use {known}, with [] and ?, a mapping "
            "for a record, or a one-item list for a list of records)"
        )
    element.set("type", XSD_TYPES[match.group("type")])
    if match.group("list"):
        element.set("minOccurs", "0")
        element.set("maxOccurs", "unbounded")
    elif match.group("optional"):
        element.set("minOccurs", "0")


def _sequence(parent: etree._Element, fields: dict[str, Any], where: str) -> None:
    sequence = etree.SubElement(parent, f"{{{XSD_NS}}}sequence")
    for name, spec in fields.items():
        _field(sequence, name, spec, where)


def _element(schema: etree._Element, name: str, fields: dict[str, Any], where: str) -> None:
    element = etree.SubElement(schema, f"{{{XSD_NS}}}element", name=name)
    _sequence(etree.SubElement(element, f"{{{XSD_NS}}}complexType"), fields, where)


def generate_wsdl(
    service: str, namespace: str, operations: list[DeclaredOperation]
) -> ServiceContract:
    """A document/literal-wrapped WSDL with SOAP 1.1 and 1.2 bindings."""
    nsmap = {
        "wsdl": WSDL_NS, "soap": SOAP11_BINDING_NS, "soap12": SOAP12_BINDING_NS,
        "xsd": XSD_NS, "tns": namespace,
    }  # fmt: skip
    root = etree.Element(f"{{{WSDL_NS}}}definitions", nsmap=nsmap, name=service)
    root.set("targetNamespace", namespace)
    types = etree.SubElement(root, f"{{{WSDL_NS}}}types")
    schema = etree.SubElement(
        types, f"{{{XSD_NS}}}schema", targetNamespace=namespace, elementFormDefault="qualified"
    )
    for op in operations:
        _element(schema, op.name, op.input, f"{op.name}.input")
        if op.output is not None:
            _element(schema, f"{op.name}Response", op.output, f"{op.name}.output")
    for op in operations:
        message = etree.SubElement(root, f"{{{WSDL_NS}}}message", name=f"{op.name}Request")
        etree.SubElement(message, f"{{{WSDL_NS}}}part", name="parameters", element=f"tns:{op.name}")
        if op.output is not None:
            message = etree.SubElement(root, f"{{{WSDL_NS}}}message", name=f"{op.name}Response")
            part = etree.SubElement(message, f"{{{WSDL_NS}}}part", name="parameters")
            part.set("element", f"tns:{op.name}Response")
    port_type = etree.SubElement(root, f"{{{WSDL_NS}}}portType", name=f"{service}PortType")
    for op in operations:
        operation = etree.SubElement(port_type, f"{{{WSDL_NS}}}operation", name=op.name)
        etree.SubElement(operation, f"{{{WSDL_NS}}}input", message=f"tns:{op.name}Request")
        if op.output is not None:
            etree.SubElement(operation, f"{{{WSDL_NS}}}output", message=f"tns:{op.name}Response")
    service_element = etree.Element(f"{{{WSDL_NS}}}service", name=service)
    for suffix, binding_ns in (("Soap11", SOAP11_BINDING_NS), ("Soap12", SOAP12_BINDING_NS)):
        binding = etree.SubElement(
            root, f"{{{WSDL_NS}}}binding", name=f"{service}{suffix}", type=f"tns:{service}PortType"
        )
        etree.SubElement(
            binding, f"{{{binding_ns}}}binding", style="document", transport=HTTP_TRANSPORT
        )
        for op in operations:
            operation = etree.SubElement(binding, f"{{{WSDL_NS}}}operation", name=op.name)
            etree.SubElement(
                operation, f"{{{binding_ns}}}operation", soapAction=f"{namespace}/{op.name}"
            )
            directions = ("input", "output") if op.output is not None else ("input",)
            for direction in directions:
                message = etree.SubElement(operation, f"{{{WSDL_NS}}}{direction}")
                etree.SubElement(message, f"{{{binding_ns}}}body", use="literal")
        port = etree.SubElement(
            service_element, f"{{{WSDL_NS}}}port", name=f"{service}{suffix}Port"
        )
        port.set("binding", f"tns:{service}{suffix}")
        etree.SubElement(port, f"{{{binding_ns}}}address", location="http://localhost/")
    root.append(service_element)
    source = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return _contract(source, None)
