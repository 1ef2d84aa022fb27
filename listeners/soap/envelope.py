"""SOAP 1.1 and 1.2 envelopes and faults.

The version is the envelope's namespace. A Content-Type that claims the other version,
or an envelope in an unknown namespace, is a VersionMismatch fault. Every refusal is a
Fault of the version the caller used (its Content-Type; 1.1 when that says nothing), so
SOAP clients can read it, even for bodies that are not XML at all.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Literal

from lxml import etree

from runtime.core.errors import WharfError
from runtime.core.secrets import redact_text
from runtime.formats.codecs import MalformedXML, parse_xml


@dataclass(frozen=True)
class SoapVersion:
    name: str
    namespace: str
    content_type: str
    sender: str  # fault code for the caller's mistakes
    receiver: str  # fault code for ours
    role_attribute: str  # who a header block is for: `actor` (1.1), `role` (1.2)
    next_roles: frozenset[str]  # the roles every node (so Wharf) plays


SOAP11 = SoapVersion(
    "1.1",
    "http://schemas.xmlsoap.org/soap/envelope/",
    "text/xml",
    "Client",
    "Server",
    "actor",
    frozenset({"http://schemas.xmlsoap.org/soap/actor/next"}),
)
SOAP12 = SoapVersion(
    "1.2",
    "http://www.w3.org/2003/05/soap-envelope",
    "application/soap+xml",
    "Sender",
    "Receiver",
    "role",
    frozenset(
        {
            "http://www.w3.org/2003/05/soap-envelope/role/next",
            "http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver",
        }
    ),
)
BY_NAMESPACE = {SOAP11.namespace: SOAP11, SOAP12.namespace: SOAP12}
FAULT_DETAIL_NS = "urn:wharf:soap"

FaultCode = Literal["sender", "receiver", "version", "must_understand"]
_TRUE, _FALSE = frozenset({"1", "true"}), frozenset({"0", "false"})


class SoapFault(WharfError):
    """Answered as a SOAP Fault. HTTP status: SOAP 1.1 faults are 500 (WS-I Basic
    Profile R1126); SOAP 1.2 Sender faults are 400, the others 500 (SOAP 1.2 part 2,
    7.5.2). Refusals at the HTTP level (401/403, 413, 415, 429, 503) keep their status."""

    problem = "soap-fault"
    title = "SOAP fault"

    def __init__(
        self,
        message: str,
        code: FaultCode = "sender",
        version: SoapVersion = SOAP11,
        execution_id: str | None = None,
        *,
        status: int | None = None,
        not_understood: tuple[str, ...] = (),
        supported: tuple[SoapVersion, ...] = (),
    ):
        if status is None:
            status = 400 if version is SOAP12 and code == "sender" else 500
        super().__init__(message, status=status)
        self.code = code
        self.version = version
        self.execution_id = execution_id
        self.not_understood = not_understood  # header blocks, Clark notation
        self.supported = supported  # envelope versions, for VersionMismatch


@dataclass
class Envelope:
    version: SoapVersion
    header: etree._Element | None
    body: etree._Element  # the one element inside soap:Body
    action: str | None  # SOAPAction (1.1 header) or the `action` media-type parameter (1.2)


def version_of_content_type(content_type: str) -> SoapVersion | None:
    return {"text/xml": SOAP11, "application/soap+xml": SOAP12}.get(content_type)


def parse_envelope(data: bytes, content_type: str, action: str | None) -> Envelope:
    """Parse a request; every refusal is a SoapFault of the claimed version."""
    claimed = version_of_content_type(content_type)
    if claimed is None:
        raise SoapFault(
            f"a SOAP request is text/xml (1.1) or application/soap+xml (1.2), not "
            f"{content_type or 'none'}",
            status=415,
        )
    try:
        root = parse_xml(data)
    except MalformedXML as exc:
        raise SoapFault(exc.detail, version=claimed) from None
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
    header, body = _header_and_body(root, version)
    children = [child for child in body if isinstance(child.tag, str)]
    if len(children) != 1:
        raise SoapFault(
            f"the Body must hold exactly one element, it holds {len(children)}", version=version
        )
    # A copy is the root of its own document, so absolute XPaths (`/ns:op/...`) start at it.
    return Envelope(version, header, copy.deepcopy(children[0]), action)


def _header_and_body(
    root: etree._Element, version: SoapVersion
) -> tuple[etree._Element | None, etree._Element]:
    """An Envelope holds an optional Header, then one Body, and nothing else: SOAP 1.2
    says so, and WS-I Basic Profile (R1011) for SOAP 1.1, whose spec let other elements
    follow the Body. A second Body is refused rather than ignored."""
    if (root.text or "").strip() or any((child.tail or "").strip() for child in root):
        raise SoapFault(
            "the Envelope holds text; it holds only a Header and a Body", version=version
        )
    names = [
        etree.QName(child).localname
        if etree.QName(child).namespace == version.namespace
        else str(child.tag)
        for child in root
        if isinstance(child.tag, str)
    ]
    if names in (["Body"], ["Header", "Body"]):
        elements = [child for child in root if isinstance(child.tag, str)]
        return (elements[0] if len(elements) == 2 else None), elements[-1]
    if "Body" not in names:
        raise SoapFault("the envelope has no Body", version=version)
    found = ", ".join(names)
    raise SoapFault(
        f"the Envelope must hold an optional Header and then one Body, not: {found}",
        version=version,
    )


def header_blocks_not_understood(envelope: Envelope, understood: frozenset[str]) -> list[str]:
    """The header blocks (Clark notation) this node must understand and does not: those
    with mustUnderstand true, targeted at every node or at the ultimate receiver (no
    actor/role, or the `next` / `ultimateReceiver` role), and not in `understood`."""
    if envelope.header is None:
        return []
    version, missing = envelope.version, []
    ns = version.namespace
    for block in envelope.header:
        if not isinstance(block.tag, str):
            continue
        value = block.get(f"{{{ns}}}mustUnderstand")
        if value is None:
            continue
        flag = value.strip()
        if flag not in _TRUE | _FALSE:
            raise SoapFault(
                f"mustUnderstand on {block.tag} is {value!r}, not 1/0 or true/false",
                version=version,
            )
        role = block.get(f"{{{ns}}}{version.role_attribute}")
        ours = role is None or role.strip() in version.next_roles
        if flag in _TRUE and ours and block.tag not in understood:
            missing.append(str(block.tag))
    return missing


def build_envelope(version: SoapVersion, element: etree._Element | None) -> bytes:
    envelope = etree.Element(f"{{{version.namespace}}}Envelope", nsmap={"soap": version.namespace})
    body = etree.SubElement(envelope, f"{{{version.namespace}}}Body")
    if element is not None:
        body.append(element)
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def build_fault(fault: SoapFault) -> bytes:
    version, ns = fault.version, fault.version.namespace
    message = redact_text(fault.detail)  # no resolved secret reaches a caller
    code = {
        "sender": version.sender,
        "receiver": version.receiver,
        "version": "VersionMismatch",
        "must_understand": "MustUnderstand",
    }[fault.code]
    envelope = etree.Element(f"{{{ns}}}Envelope", nsmap={"soap": ns})
    _fault_header(envelope, fault)
    body = etree.SubElement(envelope, f"{{{ns}}}Body")
    element = etree.SubElement(body, f"{{{ns}}}Fault")
    if version is SOAP11:
        etree.SubElement(element, "faultcode").text = f"soap:{code}"
        etree.SubElement(element, "faultstring").text = message
        detail = etree.SubElement(element, "detail")
    else:
        value = etree.SubElement(etree.SubElement(element, f"{{{ns}}}Code"), f"{{{ns}}}Value")
        value.text = f"soap:{code}"
        reason = etree.SubElement(element, f"{{{ns}}}Reason")
        text = etree.SubElement(reason, f"{{{ns}}}Text")
        text.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
        text.text = message
        detail = etree.SubElement(element, f"{{{ns}}}Detail")
    problem = etree.SubElement(
        detail, f"{{{FAULT_DETAIL_NS}}}problem", nsmap={"w": FAULT_DETAIL_NS}
    )
    etree.SubElement(problem, f"{{{FAULT_DETAIL_NS}}}message").text = message
    if fault.execution_id:
        etree.SubElement(problem, f"{{{FAULT_DETAIL_NS}}}executionId").text = fault.execution_id
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def _fault_header(envelope: etree._Element, fault: SoapFault) -> None:
    """SOAP 1.2 names what went wrong in header blocks: `NotUnderstood` for each block
    not understood, `Upgrade` with the envelope versions that are (SOAP 1.2 part 1,
    5.4.8 and 5.4.7; its appendix A has 1.1 nodes send `Upgrade` too)."""
    upgrade = fault.supported if fault.code == "version" else ()
    not_understood = fault.not_understood if fault.version is SOAP12 else ()
    if not upgrade and not not_understood:
        return
    ns12 = SOAP12.namespace
    header = etree.SubElement(envelope, f"{{{fault.version.namespace}}}Header")
    for tag in not_understood:
        name = etree.QName(tag)
        nsmap = {"b": name.namespace} if name.namespace else None
        block = etree.SubElement(header, f"{{{ns12}}}NotUnderstood", nsmap=nsmap)
        block.set("qname", f"b:{name.localname}" if name.namespace else name.localname)
    if upgrade:
        block = etree.SubElement(header, f"{{{ns12}}}Upgrade", nsmap={"env12": ns12})
        for index, supported in enumerate(upgrade):
            prefix = f"v{index}"
            item = etree.SubElement(
                block, f"{{{ns12}}}SupportedEnvelope", nsmap={prefix: supported.namespace}
            )
            item.set("qname", f"{prefix}:Envelope")


__all__ = ["SOAP11", "SOAP12", "Envelope", "MalformedXML", "SoapFault", "SoapVersion"]
