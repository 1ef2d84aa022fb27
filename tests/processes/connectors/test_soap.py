"""`soap.call` through zeep's async transport, against Wharf's own sample SOAP service."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.core.connections import Connections
from runtime.core.document import Document
from runtime.loading.loader import load_directory
from tests.serverproc import ROOT, WharfServer


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WharfServer]:
    with WharfServer(ROOT / "sample_processes", cwd=tmp_path_factory.mktemp("soap-call")) as server:
        yield server


async def test_soap_call_typed_results_and_faults(service: WharfServer, tmp_path: Path) -> None:
    wsdl = f"{service.url}/soap/customers?wsdl"
    (tmp_path / "connections.yaml").write_text(
        f"connections:\n  legacy:\n    connector: soap\n    wsdl: {wsdl}\n"
    )
    (tmp_path / "p.yaml").write_text(
        textwrap.dedent(
            """
            name: p
            trigger: {http: {auth: none, path: /p}}
            steps:
              - soap.call:
                  connection: legacy
                  operation: getCustomer
                  arguments: {customerId: doc.id}
            """
        )
    )
    processes, configs, problems = load_directory(tmp_path)
    assert problems == []
    connections = Connections(configs)
    try:
        result = await processes[0].execute(
            [Document.json({"id": "C-200"})], connections=connections
        )
        assert result.execution.error is None, result.execution.error
        customer = result.documents[0].body
        assert (customer["id"], customer["name"], float(customer["balance"])) == (
            "C-200",
            "Grace Hopper",
            0.0,
        )
        failed = await processes[0].execute(
            [Document.json({"id": "C-404"})], connections=connections
        )
        assert failed.execution.error is not None
        assert "fault from getCustomer: no customer C-404" in failed.execution.error.detail
        client = await connections.client("legacy")
        assert await client.check() == "WSDL loaded: getCustomer"
    finally:
        await connections.close()
