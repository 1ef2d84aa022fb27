"""SOAP envelopes as the SOAP 1.1 / 1.2 specs require: their shape, the version a
service has bindings for, mustUnderstand header blocks, and every refusal a Fault of the
caller's version (1.1 when it cannot be told) with the HTTP status the spec gives."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from listeners.soap.envelope import SOAP11, SOAP12, SoapFault, SoapVersion, build_fault
from runtime.core import secrets
from tests.helpers import Client, ClientFactory, app_client
from tests.serverproc import ROOT as ROOT_DIR

ENV11 = "http://schemas.xmlsoap.org/soap/envelope/"
ENV12 = "http://www.w3.org/2003/05/soap-envelope"
CT = {"1.1": "text/xml", "1.2": "application/soap+xml"}
NS = {"1.1": ENV11, "1.2": ENV12}
ECHO = '<echo xmlns="urn:echo"><text>hi</text></echo>'
# SOAP 1.1 faults are HTTP 500 (WS-I BP R1126); SOAP 1.2 Sender faults are 400.
SENDER = {"1.1": (500, "soap:Client"), "1.2": (400, "soap:Sender")}


def echo(trigger_extra: str = "") -> str:
    return (
        "name: echo\ntrigger:\n  soap:\n    path: /soap/echo\n    service: Echo\n"
        "    namespace: 'urn:echo'\n    operation: echo\n    input: {text: string}\n"
        f"    output: {{text: string}}\n    auth: none\n{trigger_extra}"
        "steps:\n  - map: {fields: {text: doc.text}}\n"
    )


def envelope(version: str, body: str = ECHO, header: str = "") -> str:
    ns = NS[version]
    return f'<s:Envelope xmlns:s="{ns}">{header}<s:Body>{body}</s:Body></s:Envelope>'


def fault_code(body: bytes) -> str | None:
    root = etree.fromstring(body)
    code = root.findtext(".//faultcode")
    return code if code is not None else root.findtext(f".//{{{ENV12}}}Code/{{{ENV12}}}Value")


async def post(
    client: Client, body: str | bytes, version: str | None, path: str = "/soap/echo"
) -> tuple[int, str, bytes]:
    content_type = CT[version] if version else "application/json"
    response = await client.post(path, data=body, headers={"Content-Type": content_type})
    return response.status, response.content_type, await response.read()


@pytest.fixture
async def client(aiohttp_client: ClientFactory, tmp_path: Path) -> Client:
    return await app_client(aiohttp_client, tmp_path, {"echo.yaml": echo()})


def assert_fault(answer: tuple[int, str, bytes], version: str, status: int, code: str) -> None:
    got_status, content_type, body = answer
    assert (got_status, content_type) == (status, CT[version]), body[:300]
    assert etree.QName(etree.fromstring(body)).namespace == NS[version]
    assert fault_code(body) == code, body[:300]
    assert b"Traceback" not in body


@pytest.mark.parametrize("version", ["1.1", "1.2"])
@pytest.mark.parametrize(
    "shape",
    [
        # two Bodies: the first used to be answered
        '<s:Body><echo xmlns="urn:echo"><text>hi</text></echo></s:Body><s:Body/>',
        '<s:Body><echo xmlns="urn:echo"><text>hi</text></echo></s:Body><s:Header/>',
        '<s:Body><echo xmlns="urn:echo"><text>hi</text></echo></s:Body><x:after xmlns:x="urn:x"/>',
        '<x:before xmlns:x="urn:x"/><s:Body><echo xmlns="urn:echo"><text>hi</text></echo></s:Body>',
        '<s:Header/><s:Header/><s:Body><echo xmlns="urn:echo"><text>hi</text></echo></s:Body>',
        'text<s:Body><echo xmlns="urn:echo"><text>hi</text></echo></s:Body>',
    ],
)
async def test_a_malformed_envelope_is_a_sender_fault(
    client: Client, version: str, shape: str
) -> None:
    body = f'<s:Envelope xmlns:s="{NS[version]}">{shape}</s:Envelope>'
    assert_fault(await post(client, body, version), version, *SENDER[version])


@pytest.mark.parametrize("version", ["1.1", "1.2"])
async def test_malformed_xml_is_a_fault_of_the_callers_version(
    client: Client, version: str
) -> None:
    for body in (b"<s:Envelope", b"", b"not xml", b"<a><b></a>"):
        assert_fault(await post(client, body, version), version, *SENDER[version])
    status, _, good = await post(client, envelope(version), version)
    assert status == 200 and b"<text>hi</text>" in good


async def test_an_unknown_content_type_is_a_soap11_fault(client: Client) -> None:
    assert_fault(await post(client, envelope("1.1"), None), "1.1", 415, "soap:Client")


@pytest.mark.parametrize("version", ["1.1", "1.2"])
async def test_a_wsdl_with_one_binding_refuses_the_other_version(
    aiohttp_client: ClientFactory, tmp_path: Path, version: str
) -> None:
    wsdl = (ROOT_DIR / "sample_processes/salesforce/account_outbound.wsdl").read_text()
    other = "1.2" if version == "1.1" else "1.1"
    if version == "1.2":  # the same WSDL with its one binding made SOAP 1.2
        wsdl = wsdl.replace(
            "http://schemas.xmlsoap.org/wsdl/soap/", "http://schemas.xmlsoap.org/wsdl/soap12/"
        )
    process = (
        "name: sf\ntrigger:\n  soap:\n    auth: none\n    path: /sf\n    wsdl: one.wsdl\n"
        "    operation: notifications\n    validate: false\n"
        "steps:\n  - set: {properties: {x: \"'y'\"}}\n"
    )
    client = await app_client(aiohttp_client, tmp_path, {"sf.yaml": process, "one.wsdl": wsdl})
    body = envelope(other, '<notifications xmlns="http://soap.sforce.com/2005/09/outbound"/>')
    status, content_type, answer = await post(client, body, other, "/sf")
    assert_fault((status, content_type, answer), other, 500, "soap:VersionMismatch")
    upgrade = etree.fromstring(answer).find(f".//{{{ENV12}}}Upgrade/{{{ENV12}}}SupportedEnvelope")
    assert upgrade is not None
    prefix, local = upgrade.get("qname", "").split(":")
    assert (upgrade.nsmap[prefix], local) == (NS[version], "Envelope")


WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"


def block(version: str, must: str | None, target: str | None = None) -> str:
    attributes = f' s:mustUnderstand="{must}"' if must is not None else ""
    if target is not None:
        attributes += f' s:{"actor" if version == "1.1" else "role"}="{target}"'
    return f'<s:Header><w:Security xmlns:w="{WSSE}"{attributes}/></s:Header>'


@pytest.mark.parametrize("version", ["1.1", "1.2"])
async def test_a_header_that_must_be_understood_and_is_not_is_a_must_understand_fault(
    client: Client, version: str
) -> None:
    for must in ("1", "true"):
        answer = await post(client, envelope(version, header=block(version, must)), version)
        assert_fault(answer, version, 500, "soap:MustUnderstand")
        assert f"{{{WSSE}}}Security".encode() in answer[2]  # the message names the block
    if version == "1.2":  # SOAP 1.2 names the block in a NotUnderstood header block
        root = etree.fromstring(answer[2])
        node = root.find(f"{{{ENV12}}}Header/{{{ENV12}}}NotUnderstood")
        assert node is not None
        prefix, local = node.get("qname", "").split(":")
        assert (node.nsmap[prefix], local) == (WSSE, "Security")
    next_role = {"1.1": f"{ENV11[:-9]}actor/next", "1.2": f"{ENV12}/role/next"}[version]
    answer = await post(client, envelope(version, header=block(version, "1", next_role)), version)
    assert_fault(answer, version, 500, "soap:MustUnderstand")


@pytest.mark.parametrize("version", ["1.1", "1.2"])
async def test_headers_that_need_not_be_understood_here_are_ignored(
    client: Client, version: str
) -> None:
    for header in (
        block(version, None),
        block(version, "0"),
        block(version, "1", "urn:some-other-node"),
    ):
        status, _, body = await post(client, envelope(version, header=header), version)
        assert status == 200, body[:300]
    status, _, body = await post(client, envelope(version, header=block(version, "yes")), version)
    assert (status, fault_code(body)) == SENDER[version]


async def test_an_operation_declares_the_header_blocks_it_understands(
    aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    files = {"echo.yaml": echo(f"    understands: ['{{{WSSE}}}Security']\n")}
    client = await app_client(aiohttp_client, tmp_path, files)
    for version in ("1.1", "1.2"):
        answer = await post(client, envelope(version, header=block(version, "1")), version)
        assert answer[0] == 200, answer[2][:300]


async def test_a_listeners_max_body_is_its_limit_not_the_servers(
    aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    files = {
        "echo.yaml": echo("    max_body: 2000\n"),
        "small.yaml": echo("    max_body: 300\n")
        .replace("name: echo", "name: small")
        .replace("/soap/echo", "/soap/small"),
    }
    client = await app_client(aiohttp_client, tmp_path, files, max_body=1000)
    big = envelope("1.1", f'<echo xmlns="urn:echo"><text>{"x" * 1500}</text></echo>')
    status, _, body = await post(client, big, "1.1")
    assert status == 200, body[:300]  # over the server's 1000, within the listener's 2000
    huge = envelope("1.1", f'<echo xmlns="urn:echo"><text>{"x" * 2500}</text></echo>')
    assert_fault(await post(client, huge, "1.1"), "1.1", 413, "soap:Client")
    small = envelope("1.2", f'<echo xmlns="urn:echo"><text>{"x" * 400}</text></echo>')
    assert_fault(await post(client, small, "1.2", "/soap/small"), "1.2", 413, "soap:Sender")
    status, _, body = await post(client, envelope("1.2"), "1.2", "/soap/small")
    assert status == 200, body[:300]


@pytest.mark.parametrize("version", [SOAP11, SOAP12])
def test_a_fault_never_carries_a_resolved_secret(version: SoapVersion) -> None:
    """Issue 11 (secrets in answers): a step's error may quote an upstream that echoed the
    credentials; the Fault, like a problem body, scrubs every secret Wharf resolved."""
    token = "tok-7f3a9c1e55d04b2a"
    secrets.remember(token)
    basic = secrets.remember_basic("svc-user", "pw-4c1d9e7a2b")
    detail = f"upstream said: Authorization: Bearer {token}; Basic {basic}"
    answer = build_fault(SoapFault(detail, "receiver", version))
    assert token.encode() not in answer and basic.encode() not in answer
    assert b"Bearer ***" in answer and b"Basic ***" in answer
