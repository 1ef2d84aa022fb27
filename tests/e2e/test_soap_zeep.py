"""SOAP through a real client: zeep loads `?wsdl` from the running server and calls."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
import requests
import zeep
from lxml import etree
from zeep.exceptions import Fault

from tests.serverproc import ROOT, WharfServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WharfServer]:
    with WharfServer(ROOT / "sample_processes", cwd=tmp_path_factory.mktemp("soap")) as running:
        yield running


def client(
    server: WharfServer, path: str, service: str | None = None, port: str | None = None
) -> zeep.Client:
    return zeep.Client(f"{server.url}{path}?wsdl", service_name=service, port_name=port)


def test_wsdl_address_is_rewritten_to_the_callers_url(server: WharfServer) -> None:
    wsdl = requests.get(f"{server.url}/soap/customers?wsdl", timeout=10)
    assert wsdl.status_code == 200
    assert wsdl.headers["Content-Type"].startswith("text/xml")
    root = etree.fromstring(wsdl.content)
    locations = {node.get("location") for node in root.iter("{*}address")}
    assert locations == {f"{server.url}/soap/customers"}
    assert requests.get(f"{server.url}/soap/customers", timeout=10).status_code == 405


@pytest.mark.parametrize("port", ["CustomerServiceSoap11Port", "CustomerServiceSoap12Port"])
def test_declared_service_answers_typed_results(server: WharfServer, port: str) -> None:
    service = client(server, "/soap/customers", "CustomerService", port).service
    customer = service.getCustomer(customerId="C-100")
    assert customer.id == "C-100"
    assert customer.name == "Ada Lovelace"
    assert customer.balance == Decimal("1250.5")
    assert customer.segment == "enterprise"
    negative = service.getCustomer(customerId="C-300")
    assert negative.balance == Decimal("-42.1")


def test_unknown_customer_is_a_client_fault(server: WharfServer) -> None:
    service = client(server, "/soap/customers").service
    with pytest.raises(Fault) as caught:
        service.getCustomer(customerId="C-999")
    assert caught.value.message == "no customer C-999"
    assert caught.value.code.endswith("Client")


def test_invalid_body_is_a_fault_naming_the_element(server: WharfServer) -> None:
    soap = client(server, "/soap/customers")
    message = soap.create_message(soap.service, "getCustomer", customerId="C-100")
    request = message.find(".//{urn:example:customers}customerId")
    request.tag = "{urn:example:customers}customerNumber"  # not in the schema
    binding = soap.service._binding
    response = soap.transport.post_xml(
        f"{server.url}/soap/customers",
        message,
        {
            "SOAPAction": '"urn:example:customers/getCustomer"',
            "Content-Type": "text/xml; charset=utf-8",
        },
    )
    assert response.status_code == 500
    with pytest.raises(Fault) as caught:
        binding.process_reply(soap, binding.get("getCustomer"), response)
    assert "customerNumber" in caught.value.message
    assert "invalid request" in caught.value.message


@pytest.mark.parametrize("port", ["InvoiceServiceSoap11Port", "InvoiceServiceSoap12Port"])
def test_lists_of_records_and_exact_decimals_through_zeep(server: WharfServer, port: str) -> None:
    service = client(server, "/soap/invoices", "InvoiceService", port).service
    tenth = Decimal("0.10")
    result = service.totalInvoice(
        invoiceId="I-1",
        lines=[
            {"sku": "A", "amount": tenth},
            {"sku": "B", "amount": tenth, "discounts": [{"code": "D1", "amount": Decimal("0.01")}]},
            {
                "sku": "C",
                "amount": tenth,
                "discounts": [
                    {"code": "D2", "amount": Decimal("0.02")},
                    {"code": "D3", "amount": Decimal("0.03")},
                ],
            },
        ],
    )
    assert (result.lineCount, result.gross, result.discount) == (
        3,
        Decimal("0.30"),
        Decimal("0.06"),
    )
    assert result.total == Decimal("0.24")
    assert result.skus == ["A", "B", "C"]
    assert [line.sku for line in result.discounted] == ["B", "C"]
    assert [d.code for d in result.discounted[1].discounts] == ["D2", "D3"]

    big = service.totalInvoice(
        invoiceId="I-2", lines=[{"sku": "X", "amount": Decimal("12345678901234567.89")}]
    )
    assert big.total == Decimal("12345678901234567.89")
    assert big.discounted == []  # an empty list in the result: zero elements

    empty = service.totalInvoice(invoiceId="I-3", lines=[])
    assert (empty.lineCount, empty.total, empty.skus) == (0, Decimal(0), [])
