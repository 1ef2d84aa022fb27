"""SOAP 1.1 and 1.2 envelopes and faults.

The version is the envelope's namespace. A Content-Type that claims the other version,
or an envelope in an unknown namespace, is a VersionMismatch fault; anything that is not
XML at all is plain HTTP 400, as there is no SOAP request to answer.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Literal

from lxml import etree

from runtime.codecs import MalformedXML, parse_xml
from runtime.errors import RequestError, WharfError


@dataclass(frozen=True)
class SoapVersion:
    name: str
    namespace: str
    content_type: str
    sender: str  # fault code for the caller's mistakes
    receiver: str  # fault code for ours


SOAP11 = SoapVersion(
    "1.1", "http://schemas.xmlsoap.org/soap/envelope/", "text/xml", "Client", "Server"
)
SOAP12 = SoapVersion(
    "1.2", "http://www.w3.org/2003/05/soap-envelope", "application/soap+xml", "Sender", "Receiver"
)
BY_NAMESPACE = {SOAP11.namespace: SOAP11, SOAP12.namespace: SOAP12}
FAULT_DETAIL_NS = "urn:wharf:soap"

FaultCode = Literal["sender", "receiver", "version"]


class SoapFault(WharfError):
    """Answered as a SOAP Fault (HTTP 500, as the SOAP specs require)."""

    problem = "soap-fault"
    title = "SOAP fault"

    def __init__(
        self,
        message: str,
        code: FaultCode = "sender",
        version: SoapVersion = SOAP11,
        execution_id: str | None = None,
    ):
        super().__init__(message, status=500)
        self.code = code
        self.version = version
        self.execution_id = execution_id


@dataclass
class Envelope:
    version: SoapVersion
    header: etree._Element | None
    body: etree._Element  # the one element inside soap:Body
    action: str | None  # SOAPAction (1.1 header) or the `action` media-type parameter (1.2)


def version_of_content_type(content_type: str) -> SoapVersion | None:
    return {"text/xml": SOAP11, "application/soap+xml": SOAP12}.get(content_type)


def parse_envelope(data: bytes, content_type: str, action: str | None) -> Envelope:
    """Parse a request; raises MalformedXML (HTTP 400) or SoapFault."""
    claimed = version_of_content_type(content_type)
    if claimed is None:
        raise RequestError(
            f"a SOAP request is text/xml (1.1) or application/soap+xml (1.2), not "
            f"{content_type or 'none'}",
            status=415,
            problem="unsupported-media-type",
            title="Unsupported media type",
        )
    root = parse_xml(data)  # MalformedXML -> 400
    namespace = etree.QName(root).namespace or ""
    version = BY_NAMESPACE.get(namespace)
    if etree.QName(root).localname != "Envelope" or version is None:
        raise SoapFault(
            f"the root element must be a SOAP {claimed.name} Envelope, not {root.tag!s}",
            code="version",
            version=claimed,
        )
    if version is not claimed:
        raise SoapFault(
            f"a SOAP {version.name} envelope was sent as {content_type} (SOAP {claimed.name})",
            code="version",
            version=claimed,
        )
    header = root.find(f"{{{namespace}}}Header")
    body = root.find(f"{{{namespace}}}Body")
    if body is None:
        raise SoapFault("the envelope has no Body", version=version)
    children = [child for child in body if isinstance(child.tag, str)]
    if len(children) != 1:
        raise SoapFault(
            f"the Body must hold exactly one element, it holds {len(children)}", version=version
        )
    # A copy is the root of its own document, so absolute XPaths (`/ns:op/...`) start at it.
    return Envelope(version, header, copy.deepcopy(children[0]), action)


def build_envelope(version: SoapVersion, element: etree._Element | None) -> bytes:
    envelope = etree.Element(f"{{{version.namespace}}}Envelope", nsmap={"soap": version.namespace})
    body = etree.SubElement(envelope, f"{{{version.namespace}}}Body")
    if element is not None:
        body.append(element)
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def build_fault(fault: SoapFault) -> bytes:
    version, ns = fault.version, fault.version.namespace
    code = {"sender": version.sender, "receiver": version.receiver, "version": "VersionMismatch"}[
        fault.code
    ]
    envelope = etree.Element(f"{{{ns}}}Envelope", nsmap={"soap": ns})
    body = etree.SubElement(envelope, f"{{{ns}}}Body")
    element = etree.SubElement(body, f"{{{ns}}}Fault")
    if version is SOAP11:
        etree.SubElement(element, "faultcode").text = f"soap:{code}"
        etree.SubElement(element, "faultstring").text = fault.detail
        detail = etree.SubElement(element, "detail")
    else:
        value = etree.SubElement(etree.SubElement(element, f"{{{ns}}}Code"), f"{{{ns}}}Value")
        value.text = f"soap:{code}"
        reason = etree.SubElement(element, f"{{{ns}}}Reason")
        text = etree.SubElement(reason, f"{{{ns}}}Text")
        text.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
        text.text = fault.detail
        detail = etree.SubElement(element, f"{{{ns}}}Detail")
    problem = etree.SubElement(
        detail, f"{{{FAULT_DETAIL_NS}}}problem", nsmap={"w": FAULT_DETAIL_NS}
    )
    etree.SubElement(problem, f"{{{FAULT_DETAIL_NS}}}message").text = fault.detail
    if fault.execution_id:
        etree.SubElement(problem, f"{{{FAULT_DETAIL_NS}}}executionId").text = fault.execution_id
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


__all__ = ["SOAP11", "SOAP12", "Envelope", "MalformedXML", "SoapFault", "SoapVersion"]
