"""The Salesforce outbound-message sample, as Salesforce would call it, and through zeep."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import zeep
from lxml import etree

from tests.serverproc import ADMIN, ROOT, WharfServer, wait_until

pytestmark = pytest.mark.e2e

FIXTURES = ROOT / "tests" / "fixtures" / "salesforce"
ACK = (
    b"<?xml version='1.0' encoding='UTF-8'?>\n"
    b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    b'<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack>'
    b"</notificationsResponse></soap:Body></soap:Envelope>"
)
HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[WharfServer]:
    # A copy: the samples' relative paths (.wharf/crm.db) are beside connections.yaml.
    samples = tmp_path / "samples"
    shutil.copytree(ROOT / "sample_processes", samples, ignore=shutil.ignore_patterns(".wharf"))
    with WharfServer(samples, cwd=tmp_path) as running:
        yield running


def post(server: WharfServer, body: bytes) -> requests.Response:
    return requests.post(
        f"{server.url}/salesforce/accounts", data=body, headers=HEADERS, timeout=10
    )


def table(server: WharfServer) -> list[tuple[object, ...]]:
    database = server.directory / ".wharf" / "crm.db"
    if not database.exists():
        return []
    with sqlite3.connect(database) as db:
        try:
            return db.execute(
                "SELECT notification_id, account_id, name, account_number, annual_revenue, "
                "phone FROM salesforce_account_notifications ORDER BY notification_id"
            ).fetchall()
        except sqlite3.OperationalError:
            return []


def rows(server: WharfServer, expected: int) -> list[tuple[object, ...]]:
    """The table's rows once `expected` are there: acknowledged messages are stored by a
    worker after the ack."""
    return wait_until(lambda: table(server) if len(table(server)) >= expected else [],
                      f"{expected} row(s) in the crm table")  # fmt: skip


def executions(server: WharfServer) -> list[dict[str, object]]:
    """The process's executions; a message counts as one from its ack on (queued)."""
    answer = requests.get(
        f"{server.url}/api/executions",
        params={"process": "salesforce-accounts"},
        headers=ADMIN,
        timeout=10,
    )
    items: list[dict[str, object]] = answer.json()["items"]
    return items


def finished(items: list[dict[str, object]]) -> list[dict[str, object]]:
    """The executions if there are some and none is queued or running; else none."""
    return items if items and all(e["status"] in ("succeeded", "failed") for e in items) else []


def test_messages_are_acked_stored_and_deduplicated(server: WharfServer) -> None:
    several = (FIXTURES / "two_notifications.xml").read_bytes()
    nil_session = (FIXTURES / "nil_session.xml").read_bytes()
    for body in (several, nil_session, several):  # the last one is a redelivery
        response = post(server, body)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
        assert response.content == ACK
    edge = ("Edge Communications", "CD451796", 950000.0, "(512) 757-6000")
    burlington = ("Burlington Textiles Corp of America", None, None, None)
    pyramid = ("Pyramid Construction Inc.", None, None, "(014) 427-4427")
    recorded = wait_until(lambda: finished(executions(server)), "the messages' executions")
    assert len(recorded) == 2  # the redelivery returned the first execution
    assert {e["status"] for e in recorded} == {"succeeded"}
    assert table(server) == [
        ("04l000000000001AAA", "001000000000001AAA", *edge),
        ("04l000000000002AAA", "001000000000002AAA", *burlington),
        ("04l000000000003AAA", "001000000000003AAA", *pyramid),
    ]

    # The nightly export (sample account_export.yaml), fired now: the stored accounts as CSV.
    fired = requests.post(
        f"{server.url}/api/schedules/account-export/run",
        params={"wait": "10000"},
        headers=ADMIN,
        timeout=15,
    )
    assert fired.status_code == 200
    assert (fired.json()["status"], fired.json()["executions"]) == ("succeeded", 1)
    (export,) = (server.directory / ".wharf" / "exports").glob("accounts-*.csv")
    lines = export.read_text().splitlines()
    assert lines[0] == "account_id,name,account_number,annual_revenue,received_at"
    assert [line.rsplit(",", 1)[0] for line in lines[1:]] == [
        '001000000000001AAA,"Edge Communications",CD451796,950000.0',
        '001000000000002AAA,"Burlington Textiles Corp of America",,',
        '001000000000003AAA,"Pyramid Construction Inc.",,',
    ]


def test_wrong_organization_and_invalid_messages_are_faults(server: WharfServer) -> None:
    message = (FIXTURES / "two_notifications.xml").read_bytes()
    other_org = post(server, message.replace(b"00D000000000062EAA", b"00D000000000099ZZZ"))
    assert other_org.status_code == 500
    fault = etree.fromstring(other_org.content)
    assert fault.findtext(".//faultcode") == "soap:Client"
    assert fault.findtext(".//faultstring") == "unexpected OrganizationId"
    no_id = post(server, message.replace(b"<Id>04l000000000001AAA</Id>", b""))
    assert no_id.status_code == 500
    faultstring = etree.fromstring(no_id.content).findtext(".//faultstring")
    assert faultstring.startswith("invalid request: /notifications/Notification[1]")
    assert executions(server) == []  # neither was accepted: nothing can be written later
    assert table(server) == []


def test_zeep_calls_the_contract_first_service(server: WharfServer) -> None:
    client = zeep.Client(f"{server.url}/salesforce/accounts?wsdl")
    sobject_type = client.get_type("{urn:sobject.enterprise.soap.sforce.com}Account")
    account = sobject_type(Id="001000000000009AAA", Name="Zeep Industries", AnnualRevenue=12.5)
    ack = client.service.notifications(
        OrganizationId="00D000000000062EAA",
        ActionId="04k000000000001AAA",
        SessionId=None,
        EnterpriseUrl="https://example.my.salesforce.com/services/Soap/c/60.0",
        PartnerUrl="https://example.my.salesforce.com/services/Soap/u/60.0",
        Notification=[{"Id": "04l000000000009AAA", "sObject": account}],
    )
    assert ack is True
    assert rows(server, 1) == [
        ("04l000000000009AAA", "001000000000009AAA", "Zeep Industries", None, 12.5, None)
    ]
