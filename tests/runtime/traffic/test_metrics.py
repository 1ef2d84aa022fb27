"""`GET /metrics` and `GET /api/usage`, mounted on a small app the way Wharf mounts them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import jsonschema
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from openapi_spec_validator import validate
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from runtime.core.timestamps import iso_utc
from runtime.server.api.routes import openapi_document
from runtime.server.api.usage import METRICS, USAGE, get_metrics, get_usage
from runtime.traffic.metrics import DURATION_BUCKETS, Metrics
from runtime.traffic.usage import UsageRecorder
from runtime.web.routes import add_route

Client = TestClient[Any, Any]
T0 = 1_700_000_040.0

# listener, caller, status, bytes in, bytes out, seconds, rejected
REQUESTS: list[tuple[str, str, int, int, int, float, str | None]] = [
    ("orders", "acme", 200, 120, 800, 0.004, None),
    ("orders", "acme", 201, 80, 40, 0.005, None),  # on a bucket edge: le is inclusive
    ("orders", "acme", 200, 100, 900, 0.3, None),
    ("orders", "globex", 401, 10, 90, 0.0004, "auth"),
    ("orders", "globex", 429, 10, 90, 0.0003, "rate"),
    ("orders", "globex", 502, 500, 70, 12.0, None),
    ("invoices", "acme", 503, 0, 70, 0.0002, "busy"),
    ("invoices", "initech", 304, 0, 0, 0.02, None),
    ("invoices", "initech", 429, 0, 50, 0.0001, "quota"),
    ("invoices", "initech", 200, 64, 64, 45.0, None),  # beyond the last bucket: +Inf only
]
EXECUTIONS = [
    ("orders", "http", "succeeded"),
    ("orders", "http", "succeeded"),
    ("orders", "http", "failed"),
    ("nightly", "schedule", "succeeded"),
]
FIRES = [("nightly", "succeeded"), ("nightly", "succeeded"), ("nightly", "skipped")]


class Gauges:
    def __init__(self) -> None:
        self.inbox = 7.0
        self.outstanding = 3.0


@pytest.fixture
def gauges() -> Gauges:
    return Gauges()


@pytest.fixture
def app(gauges: Gauges) -> web.Application:
    metrics = Metrics(inbox_depth=lambda: gauges.inbox, outstanding=lambda: gauges.outstanding)
    usage = UsageRecorder(clock=lambda: T0)
    for listener, caller, status, bytes_in, bytes_out, seconds, rejected in REQUESTS:
        metrics.observe_request(listener, status, bytes_in, bytes_out, seconds, rejected)
        usage.record(listener, caller, status, bytes_in, bytes_out, seconds, rejected)
    for process, trigger, outcome in EXECUTIONS:
        metrics.observe_execution(process, trigger, outcome)
    for process, outcome in FIRES:
        metrics.observe_fire(process, outcome)
    app = web.Application()
    app[METRICS] = metrics
    app[USAGE] = usage
    add_route(app, "GET", "/metrics", get_metrics)
    add_route(app, "GET", "/api/usage", get_usage)
    return app


@pytest.fixture
async def client(app: web.Application, aiohttp_client: Callable[..., Awaitable[Client]]) -> Client:
    return await aiohttp_client(app)


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(client: Client) -> Samples:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    samples: Samples = {}
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def of(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def named(samples: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: value for (sample, labels), value in samples.items() if sample == name}


async def test_request_counters_match_what_was_observed(client: Client) -> None:
    samples = await scrape(client)
    requests = named(samples, "wharf_http_requests_total")
    expected = {
        ("orders", "2xx"): 3,
        ("orders", "3xx"): 0,
        ("orders", "4xx"): 2,
        ("orders", "5xx"): 1,
        ("invoices", "2xx"): 1,
        ("invoices", "3xx"): 1,
        ("invoices", "4xx"): 1,
        ("invoices", "5xx"): 1,
    }
    assert requests == {
        frozenset({"listener": listener, "status_class": status_class}.items()): count
        for (listener, status_class), count in expected.items()
    }
    for listener in ("orders", "invoices"):
        rows = [r for r in REQUESTS if r[0] == listener]
        received = of(samples, "wharf_http_request_bytes_total", listener=listener, direction="in")
        sent = of(samples, "wharf_http_request_bytes_total", listener=listener, direction="out")
        assert received == sum(r[3] for r in rows)
        assert sent == sum(r[4] for r in rows)
        for reason in ("auth", "rate", "quota", "busy"):
            refused = of(samples, "wharf_http_rejected_total", listener=listener, reason=reason)
            assert refused == sum(1 for r in rows if r[6] == reason)
    assert not any("caller" in dict(labels) for _, labels in samples)


async def test_duration_histogram_counts_every_request_in_its_bucket(client: Client) -> None:
    samples = await scrape(client)
    for listener in ("orders", "invoices"):
        seconds = [r[5] for r in REQUESTS if r[0] == listener]
        name = "wharf_http_request_duration_seconds"
        for bound in DURATION_BUCKETS:
            le = str(float(bound))
            count = of(samples, f"{name}_bucket", listener=listener, le=le)
            assert count == sum(1 for s in seconds if s <= bound), (listener, le)
        assert of(samples, f"{name}_bucket", listener=listener, le="+Inf") == len(seconds)
        assert of(samples, f"{name}_count", listener=listener) == len(seconds)
        assert of(samples, f"{name}_sum", listener=listener) == pytest.approx(sum(seconds))
    assert of(samples, f"{name}_bucket", listener="invoices", le="30.0") == 3


async def test_executions_fires_and_gauges(client: Client, gauges: Gauges) -> None:
    samples = await scrape(client)
    assert named(samples, "wharf_executions_total") == {
        frozenset({"process": "orders", "trigger": "http", "status": "succeeded"}.items()): 2,
        frozenset({"process": "orders", "trigger": "http", "status": "failed"}.items()): 1,
        frozenset({"process": "nightly", "trigger": "schedule", "status": "succeeded"}.items()): 1,
    }
    assert named(samples, "wharf_schedule_fires_total") == {
        frozenset({"process": "nightly", "status": "succeeded"}.items()): 2,
        frozenset({"process": "nightly", "status": "skipped"}.items()): 1,
    }
    assert of(samples, "wharf_inbox_depth") == 7
    assert of(samples, "wharf_executions_outstanding") == 3

    gauges.inbox = 0  # read at scrape time, not when observed
    assert of(await scrape(client), "wharf_inbox_depth") == 0


async def test_a_failing_gauge_is_left_out_of_the_scrape(
    client: Client, gauges: Gauges, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gauges, "outstanding", "not a number")
    samples = await scrape(client)
    assert not named(samples, "wharf_executions_outstanding")
    assert of(samples, "wharf_inbox_depth") == 7


def test_each_metrics_has_its_own_registry() -> None:
    first, second = Metrics(process_metrics=False), Metrics(process_metrics=False)
    first.observe_request("orders", 200, 1, 1, 0.01)
    body, _ = second.exposition()
    assert b"wharf_http_requests_total{" not in body
    assert b'listener="orders"' in first.exposition()[0]
    assert REGISTRY.get_sample_value("wharf_inbox_depth") is None
    with pytest.raises(ValueError, match="rejected is one of"):
        second.observe_request("orders", 403, 0, 0, 0.01, rejected="banned")
    assert b"wharf_http_requests_total{" not in second.exposition()[0]  # counted nothing


async def test_usage_by_caller(client: Client) -> None:
    response = await client.get("/api/usage", params={"by": "caller", "since": str(T0 - 60)})
    assert response.status == 200
    body = await response.json()
    assert body["by"] == "caller"
    assert body["since"] == iso_utc(T0 - 60)
    rows = {(row["listener"], row["caller"]): row for row in body["items"]}
    assert [(r["listener"], r["caller"]) for r in body["items"]] == [
        ("invoices", "initech"),  # ties: by listener, then caller
        ("orders", "acme"),
        ("orders", "globex"),
        ("invoices", "acme"),
    ]
    globex = rows[("orders", "globex")]
    assert globex["requests"] == 3
    assert globex["status"] == {"2xx": 0, "3xx": 0, "4xx": 2, "5xx": 1}
    assert (globex["bytes_in"], globex["bytes_out"]) == (520, 250)
    assert globex["rejected"] == {"auth": 1, "rate": 1, "quota": 0, "busy": 0}
    assert globex["latency_ms"]["p99"] == pytest.approx(12_000, rel=0.045)
    for row in body["items"]:
        conforms(row, "UsageRow")


async def test_usage_by_listener_is_the_default(client: Client) -> None:
    body = await (await client.get("/api/usage")).json()
    assert body["by"] == "listener"
    assert body["since"] == iso_utc(T0 - 3600)
    assert [(row["listener"], row["requests"]) for row in body["items"]] == [
        ("orders", 6),
        ("invoices", 4),
    ]
    assert all("caller" not in row for row in body["items"])


@pytest.mark.parametrize(
    ("since", "rows"),
    [
        ("2023-11-14T22:13:00Z", 2),
        ("2023-11-14T22:13:00", 2),
        ("2023-11-14T23:13:00+01:00", 2),
        ("2023-11-14T22:15:00Z", 0),
    ],
)
async def test_usage_since_takes_iso_times(client: Client, since: str, rows: int) -> None:
    # T0 is 2023-11-14T22:14:00Z; a naive time is UTC.
    response = await client.get("/api/usage", params={"since": since})
    assert response.status == 200
    assert len((await response.json())["items"]) == rows


@pytest.mark.parametrize(
    "params",
    [{"since": "yesterday"}, {"since": "nan"}, {"since": "inf"}, {"by": "process"}, {"by": ""}],
)
async def test_bad_queries_answer_problems(client: Client, params: dict[str, str]) -> None:
    response = await client.get("/api/usage", params=params)
    assert response.status == 400
    assert response.content_type == "application/problem+json"
    problem = await response.json()
    assert problem["type"] == "urn:wharf:problem:invalid-query"
    assert problem["detail"].startswith(next(iter(params)))


def conforms(body: Any, schema_name: str) -> None:
    schema = {
        "$ref": f"#/components/schemas/{schema_name}",
        "components": openapi_document()["components"],
    }
    jsonschema.validate(body, schema)


def test_the_usage_operation_is_in_the_valid_document() -> None:
    document = openapi_document()
    validate(document)
    answer = document["paths"]["/api/usage"]["get"]["responses"]["200"]
    assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Usage"}
    usage = document["components"]["schemas"]["Usage"]
    assert usage["properties"]["items"]["items"] == {"$ref": "#/components/schemas/UsageRow"}
