"""Request traces and step histograms through a real gateway: spans in memory and over OTLP/HTTP to a local
receiver, `netops_step_seconds` on /metrics, and no prompt text in any span attribute.

The model backend is `QuickBackend`, a double at our `routing.ModelBackend` interface (the traces, not the
model's answer, are under test)."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway.demo import build_index
from gateway.settings import RetrievalSettings, TracingSettings
from routing import Deployment, ModelRequest, StreamEnd, TextDelta
from routing.backend import ModelEvent
from tests.conftest import TenantGateway, one_tenant_gateway

QUESTION = "is bgp up on sentinelrouter42?"
STEPS = {"guard.input", "retrieval", "guard.context", "routing", "model", "stream", "guard.output", "audit"}


class QuickBackend:
    async def stream(self, deployment: Deployment, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        yield TextDelta("Check the BGP summary.\n")
        yield StreamEnd("stop", 12, 6)


class _Receiver(BaseHTTPRequestHandler):
    """An OTLP/HTTP traces endpoint: keeps every decoded export request."""

    received: ClassVar[list[ExportTraceServiceRequest]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        if self.path == "/v1/traces":
            self.received.append(ExportTraceServiceRequest.FromString(body))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def receiver() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, receiver: ThreadingHTTPServer) -> Iterator[TenantGateway]:
    root = Path(tmp_path_factory.mktemp("tracing"))
    (root / "runbooks").mkdir()
    (root / "runbooks" / "bgp.md").write_text("# BGP neighbor down\n\nRun `bgp_summary` on the router.\n")
    retrieval = RetrievalSettings(sources=[root / "runbooks"], eval_set=None)
    tracing = TracingSettings(otlp_endpoint=f"http://127.0.0.1:{receiver.server_address[1]}/v1/traces")
    with one_tenant_gateway(
        root / "data", "http://127.0.0.1:9/v1", QuickBackend(), retrieval=retrieval, tracing=tracing
    ) as gw:
        build_index(gw.svc, lambda _: None)
        yield gw


@pytest.fixture(scope="module")
def spans(gw: TenantGateway) -> InMemorySpanExporter:
    return gw.svc.tracing.capture()


def _chat(gw: TenantGateway) -> httpx.Response:
    body = {"model": "netops-assistant", "messages": [{"role": "user", "content": QUESTION}]}
    response = httpx.post(f"{gw.url}/v1/chat/completions", json=body, headers={"authorization": f"Bearer {gw.key}"})
    assert response.status_code == 200, response.text
    return response


def test_one_trace_per_request_with_a_span_per_step(gw: TenantGateway, spans: InMemorySpanExporter) -> None:
    spans.clear()
    rid = _chat(gw).headers["x-request-id"]
    finished = spans.get_finished_spans()
    (root,) = [
        s for s in finished if s.name == "netops.request" and (s.attributes or {}).get("netops.request_id") == rid
    ]
    mine = [s for s in finished if s.context.trace_id == root.context.trace_id]
    assert {s.name for s in mine} >= STEPS
    assert all(s.parent is not None and s.parent.span_id == root.context.span_id for s in mine if s is not root)
    attrs = dict(root.attributes or {})
    assert attrs["netops.tenant"] == "t" and attrs["http.route"] == "/v1/chat/completions"
    assert attrs["http.response.status_code"] == 200 and attrs["netops.completion_tokens"] == 6
    (model,) = [s for s in mine if s.name == "model"]
    assert (model.attributes or {})["netops.deployment"] == "local-smollm2"
    values = [str(v) for s in mine for v in (s.attributes or {}).values()]
    assert not [v for v in values if "sentinelrouter42" in v or "BGP summary" in v]


def test_step_histogram_on_metrics(gw: TenantGateway, spans: InMemorySpanExporter) -> None:
    _chat(gw)
    operator = gw.svc.tenants.create_key("platform", label="ops", role="operator").plaintext
    text = httpx.get(f"{gw.url}/metrics", headers={"authorization": f"Bearer {operator}"}).text
    for step in (*STEPS, "gateway"):
        count = next(
            line for line in text.splitlines() if line.startswith(f'netops_step_seconds_count{{step="{step}"}}')
        )
        assert float(count.rsplit(" ", 1)[1]) >= 1, step
    assert "netops_request_seconds_bucket" in text


def test_spans_reach_an_otlp_receiver(gw: TenantGateway, receiver: ThreadingHTTPServer) -> None:
    rid = _chat(gw).headers["x-request-id"]
    assert gw.svc.tracing.force_flush()
    names: dict[str, set[str]] = {}
    for export in _Receiver.received:
        for resource in export.resource_spans:
            for scope in resource.scope_spans:
                for span in scope.spans:
                    names.setdefault(span.trace_id.hex(), set()).add(span.name)
                    if any(a.key == "netops.request_id" and a.value.string_value == rid for a in span.attributes):
                        trace_id = span.trace_id.hex()
    assert STEPS | {"netops.request"} <= names[trace_id]


def test_a_callers_traceparent_is_continued_and_a_malformed_one_ignored(
    gw: TenantGateway, spans: InMemorySpanExporter
) -> None:
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    body = {"model": "netops-assistant", "messages": [{"role": "user", "content": QUESTION}]}
    for traceparent in (f"00-{trace_id}-{parent_id}-01", "00-not-a-trace-\xff"):
        spans.clear()
        headers = {b"authorization": f"Bearer {gw.key}".encode(), b"traceparent": traceparent.encode("latin-1")}
        response = httpx.post(f"{gw.url}/v1/chat/completions", json=body, headers=headers)
        assert response.status_code == 200, response.text
        (root,) = [s for s in spans.get_finished_spans() if s.name == "netops.request"]
        continued = root.parent is not None and root.parent.span_id == int(parent_id, 16)
        assert continued == traceparent.startswith(f"00-{trace_id}")
        assert (format(root.context.trace_id, "032x") == trace_id) == continued
