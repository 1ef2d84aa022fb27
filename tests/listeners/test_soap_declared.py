"""Declared SOAP services: lists of records at any depth, empty and omitted lists, and
exact decimals from the request through the process to the response and to SQL."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from runtime.loading.loader import load_directory, validate_directory
from runtime.server.app import create_app
from runtime.server.settings import Settings
from runtime.testing import settled
from tests.helpers import (
    ADMIN_KEY,
    Client,
    ClientFactory,
    admin_client,
    app_client,
    fresh_dir,
    relative,
    validate_files,
    write_files,
)
from tests.processes.connectors.sql.test_sql import database  # noqa: F401 - the fixture

ENV11 = "http://schemas.xmlsoap.org/soap/envelope/"
Q = "urn:quote"

QUOTE = """
name: quote
trigger:
  soap:
    auth: none
    path: /soap/quote
    service: Quotes
    namespace: 'urn:quote'
    operation: quote
    input:
      customer: {id: string, address: {city: string}}
      lines:
        - sku: string
          price: decimal
          tags: "string[]"
          parts:
            - code: string
              weight: decimal
      big: decimal?
    output:
      total: decimal
      count: int
      first_tags: int
      big: decimal?
      city: string
      lines:
        - sku: string
          price: decimal
          tags: "string[]"
          parts:
            - code: string
              weight: decimal
      empty: "string[]"
      nothing: [{x: string}]
steps:
  - map:
      fields:
        total: doc.lines | sum(attribute='price')
        count: doc.lines | length
        first_tags: (doc.lines[0].tags | length) if doc.lines else -1
        big: (doc.big * 1) if doc.big is defined else none
        city: doc.customer.address.city
        lines: doc.lines
        empty: "[]"
        nothing: "[]"
"""


def line(sku: str, price: str, tags: list[str], parts: list[tuple[str, str]]) -> str:
    return (
        f"<lines><sku>{sku}</sku><price>{price}</price>"
        + "".join(f"<tags>{tag}</tags>" for tag in tags)
        + "".join(f"<parts><code>{c}</code><weight>{w}</weight></parts>" for c, w in parts)
        + "</lines>"
    )


def quote(lines: list[str], big: str | None = None) -> str:
    extra = f"<big>{big}</big>" if big is not None else ""
    return (
        f'<s:Envelope xmlns:s="{ENV11}"><s:Body><quote xmlns="{Q}">'
        "<customer><id>C-1</id><address><city>Lyon</city></address></customer>"
        + "".join(lines)
        + extra
        + "</quote></s:Body></s:Envelope>"
    )


async def call(client: Client, body: str, path: str = "/soap/quote") -> etree._Element:
    response = await client.post(path, data=body, headers={"Content-Type": "text/xml"})
    payload = await response.read()
    assert response.status == 200, payload[:500]
    element = etree.fromstring(payload).find(f".//{{{Q}}}{path.rsplit('/', 1)[1]}Response")
    assert element is not None, payload[:500]
    return element


def texts(element: etree._Element, path: str) -> list[str]:
    return [node.text or "" for node in element.iterfind(path, {"q": Q})]


async def test_lists_of_records_at_any_depth_and_empty_lists(
    aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    client = await app_client(aiohttp_client, tmp_path, {"quote.yaml": QUOTE})
    answer = await call(
        client,
        quote(
            [
                line("A", "0.10", [], [("a1", "1.5"), ("a2", "2.25")]),
                line("B", "0.10", ["red", "blue"], [("b1", "0.001")]),
                line("C", "0.10", ["one"], []),
            ]
        ),
    )
    assert texts(answer, "q:total") == ["0.30"]  # 3 x 0.10, exactly
    assert texts(answer, "q:count") == ["3"]
    assert texts(answer, "q:first_tags") == ["0"]  # an omitted repeated element arrives as []
    assert texts(answer, "q:city") == ["Lyon"]
    assert texts(answer, "q:lines/q:sku") == ["A", "B", "C"]
    assert texts(answer, "q:lines[2]/q:tags") == ["red", "blue"]
    assert texts(answer, "q:lines[1]/q:parts/q:code") == ["a1", "a2"]
    assert texts(answer, "q:lines/q:parts/q:weight") == ["1.5", "2.25", "0.001"]
    assert texts(answer, "q:lines[3]/q:parts") == []  # [] in the result: zero elements
    assert texts(answer, "q:empty") == [] and texts(answer, "q:nothing") == []
    assert texts(answer, "q:big") == []  # None for an optional element: left out

    one = await call(client, quote([line("A", "12345678901234567.89", ["x"], [])], "0.0000001"))
    assert texts(one, "q:total") == ["12345678901234567.89"]
    assert texts(one, "q:lines/q:price") == ["12345678901234567.89"]
    assert texts(one, "q:count") == ["1"] and texts(one, "q:first_tags") == ["1"]
    assert texts(one, "q:big") == ["0.0000001"]  # not 1E-7, which is no xs:decimal


async def test_an_empty_list_of_records_in_the_request(
    aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    client = await app_client(aiohttp_client, tmp_path, {"quote.yaml": QUOTE})
    answer = await call(client, quote([]))
    assert texts(answer, "q:total") == ["0"]
    assert texts(answer, "q:count") == ["0"]
    assert texts(answer, "q:first_tags") == ["-1"]
    assert texts(answer, "q:lines") == []


def book(url: str, table: str, column: str) -> dict[str, str]:
    return {
        "connections.yaml": f"""
            connections:
              db:
                connector: sql
                url: {url}
                init:
                  - CREATE TABLE IF NOT EXISTS {table} (id VARCHAR(40) PRIMARY KEY,
                      amount {column}, total {column})
            """,
        "book.yaml": f"""
            name: book
            trigger:
              soap:
                auth: none
                path: /soap/book
                service: Booking
                namespace: 'urn:quote'
                operation: book
                input: {{id: string, amount: decimal, prices: "decimal[]"}}
                output: {{total: decimal, amount: decimal}}
            steps:
              - sql.insert:
                  connection: db
                  table: {table}
                  values: {{id: doc.id, amount: doc.amount, total: doc.prices | sum}}
              - map: {{fields: {{total: doc.prices | sum, amount: doc.amount}}}}
            """,
    }


async def test_decimals_are_exact_through_to_sql(
    aiohttp_client: ClientFactory,
    tmp_path: Path,
    database: str,  # noqa: F811 - the fixture
) -> None:
    table = f"wharf_book_{uuid.uuid4().hex[:8]}"
    # SQLite has no exact numeric type: exact digits survive in a TEXT column.
    column = "TEXT" if database.startswith("sqlite") else "DECIMAL(30, 2)"
    directory = write_files(fresh_dir(tmp_path), book(database, table, column))
    processes, connections, problems = load_directory(directory)
    assert problems == []
    settings = Settings(admin_key=ADMIN_KEY, store="sqlite://")
    client = await admin_client(
        aiohttp_client, create_app(processes, settings, connections=connections)
    )
    prices = "<prices>0.10</prices>" * 3
    body = (
        f'<s:Envelope xmlns:s="{ENV11}"><s:Body><book xmlns="{Q}"><id>B-1</id>'
        f"<amount>12345678901234567.89</amount>{prices}</book></s:Body></s:Envelope>"
    )
    engine = create_async_engine(database)
    try:
        answer = await call(client, body, "/soap/book")
        assert texts(answer, "q:total") == ["0.30"]
        assert texts(answer, "q:amount") == ["12345678901234567.89"]
        async with engine.connect() as connection:
            row = (await connection.execute(text(f"SELECT amount, total FROM {table}"))).one()
        assert (Decimal(str(row.amount)), Decimal(str(row.total))) == (
            Decimal("12345678901234567.89"),
            Decimal("0.30"),
        )
    finally:
        async with engine.begin() as connection:
            await connection.execute(text(f"DROP TABLE IF EXISTS {table}"))
        await engine.dispose()


BROKEN_WSDL = """<?xml version="1.0"?>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:tns="urn:b" targetNamespace="urn:b">
  <types>
    <xsd:schema targetNamespace="urn:b" elementFormDefault="qualified">
      <xsd:element name="op">
        <xsd:complexType>
          <xsd:sequence>
            <xsd:element name="a" type="xsd:strin"/>
          </xsd:sequence>
        </xsd:complexType>
      </xsd:element>
    </xsd:schema>
  </types>
</definitions>
"""


@pytest.mark.parametrize(
    ("wsdl", "expected"),
    [
        (BROKEN_WSDL, "invalid WSDL b.wsdl:10: unknown type 'xsd:strin'"),
        (
            BROKEN_WSDL.replace("<xsd:sequence>", "<xsd:sequence><xsd:bogus/>"),
            "invalid WSDL b.wsdl:9: Unexpected child with tag 'xsd:bogus'",
        ),
    ],
)
def test_a_broken_wsdl_schema_is_one_line_naming_file_and_line(
    tmp_path: Path, wsdl: str, expected: str
) -> None:
    process = (
        "name: b\ntrigger:\n  soap:\n    auth: none\n    path: /b\n    wsdl: b.wsdl\n"
        "    operation: op\nsteps: []\n"
    )
    _, problems = validate_files(tmp_path, {"b.yaml": process, "b.wsdl": wsdl})
    assert len(problems) == 1, problems
    assert "\n" not in problems[0]
    assert expected in problems[0], problems[0]


def test_a_broken_imported_xsd_is_one_line_naming_its_file_and_line(tmp_path: Path) -> None:
    main = (
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">\n'
        '  <xs:import namespace="urn:i" schemaLocation="types/i.xsd"/>\n'
        '  <xs:element name="a" type="xs:string"/>\n</xs:schema>\n'
    )
    imported = (
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:i">\n'
        '  <xs:element name="b" type="xs:string"/>\n'
        '  <xs:element name="c" type="xs:nope"/>\n</xs:schema>\n'
    )
    process = (
        "name: x\ntrigger: {http: {auth: none, path: /x}}\nsteps:\n  - validate: {xsd: a.xsd}\n"
    )
    directory = write_files(fresh_dir(tmp_path), {"x.yaml": process, "a.xsd": main})
    (directory / "types").mkdir()
    (directory / "types" / "i.xsd").write_text(imported)
    problems = [relative(problem, directory) for problem in validate_directory(directory)[1]]
    assert len(problems) == 1 and "\n" not in problems[0], problems
    assert "cannot load XSD types/i.xsd:3: unknown type 'xs:nope'" in problems[0], problems[0]


async def test_decimals_stay_exact_through_the_inbox_of_an_async_operation(
    aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'async.db'}"
    files = book(url, "booked", "TEXT")
    files["book.yaml"] = files["book.yaml"].replace(
        "output: {total: decimal, amount: decimal}",
        "output: {total: decimal, amount: decimal}\n"
        "                mode: async\n"
        "                ack: <bookResponse xmlns='urn:quote'><total>0</total>"
        "<amount>0</amount></bookResponse>",
    )
    directory = write_files(fresh_dir(tmp_path), files)
    processes, connections, problems = load_directory(directory)
    assert problems == []
    settings = Settings(admin_key=ADMIN_KEY, store=f"sqlite:///{tmp_path / 'store.db'}")
    client = await admin_client(
        aiohttp_client, create_app(processes, settings, connections=connections)
    )
    body = (
        f'<s:Envelope xmlns:s="{ENV11}"><s:Body><book xmlns="{Q}"><id>A-1</id>'
        f"<amount>12345678901234567.89</amount>{'<prices>0.10</prices>' * 3}"
        "</book></s:Body></s:Envelope>"
    )
    response = await client.post("/soap/book", data=body, headers={"Content-Type": "text/xml"})
    assert response.status == 200, await response.text()
    execution = response.headers["X-Execution-Id"]
    await settled(client.app)  # a worker runs the execution after the ack
    record = await (await client.get(f"/api/executions/{execution}")).json()
    assert record["status"] == "succeeded", record
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            row = (await connection.execute(text("SELECT amount, total FROM booked"))).one()
    finally:
        await engine.dispose()
    assert (row.amount, row.total) == ("12345678901234567.89", "0.30")
