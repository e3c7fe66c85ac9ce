"""Request traces and step timings: one OpenTelemetry span per request (`netops.request`) with a child span per
step, exported over OTLP/HTTP when `tracing.otlp_endpoint` is set; each step's time per request also goes to
the `netops_step_seconds{step}` histogram and, for model/retrieval/tools, to the `timings_ms` split.

A request that arrives with a W3C `traceparent` header continues the caller's trace. Without an endpoint the
tracer is the API's no-op tracer: a step costs a clock read and a dict update.
Span attributes carry ids, names and counts only: never prompt text, answers or secrets.

Example:
    tracing = Tracing.build(settings.tracing)
    timings = Timings(tracing, metrics.steps, request_id, "POST")
    with timings.step("retrieval") as span:
        span.set_attribute("netops.hits", 3)
    timings.finish({"http.response.status_code": 200}, error=False)
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue
from prometheus_client import Histogram

from gateway.settings import TracingSettings

__all__ = ["SPLIT", "Span", "Timings", "Tracing"]

SPLIT = ("model", "retrieval", "tools")  # waits on others; the rest of a request's time is the gateway's own
_W3C = TraceContextTextMapPropagator()


class Tracing:
    """The tracer requests' spans come from: the SDK's when configured, else the API's no-op tracer."""

    def __init__(self, provider: TracerProvider | None = None) -> None:
        self.provider = provider
        self.tracer: trace.Tracer = provider.get_tracer("netops.gateway") if provider else trace.NoOpTracer()

    @classmethod
    def build(cls, settings: TracingSettings) -> Tracing:
        """Batched OTLP/HTTP export to `settings.otlp_endpoint` (the full `/v1/traces` URL); no-op without one."""
        if not settings.otlp_endpoint:
            return cls()
        headers = {k: v.get_secret_value() for k, v in settings.otlp_headers.items()}
        provider = _provider(settings.service_name, settings.sample_ratio)
        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_endpoint, headers=headers))
        )
        return cls(provider)

    def capture(self, service_name: str = "netops-gateway") -> InMemorySpanExporter:
        """Record every span from now on in memory (tests): returns the exporter holding finished spans."""
        exporter = InMemorySpanExporter()
        if self.provider is None:
            self.provider = _provider(service_name, 1.0)
            self.tracer = self.provider.get_tracer("netops.gateway")
        self.provider.add_span_processor(SimpleSpanProcessor(exporter))
        return exporter

    def force_flush(self, timeout_ms: int = 5000) -> bool:
        """Export the spans still batched; True when done in time (or nothing to do)."""
        return self.provider.force_flush(timeout_ms) if self.provider else True

    def shutdown(self) -> None:
        if self.provider is not None:
            self.provider.shutdown()


def _provider(service_name: str, ratio: float) -> TracerProvider:
    return TracerProvider(
        resource=Resource.create({"service.name": service_name}), sampler=ParentBased(TraceIdRatioBased(ratio))
    )


class Timings:
    """Where one request's time went, as spans (children of its `netops.request` span) and per-step totals."""

    def __init__(
        self, tracing: Tracing, histogram: Histogram, request_id: str, method: str, *, traceparent: str = ""
    ) -> None:
        self.ms: dict[str, float] = dict.fromkeys(SPLIT, 0.0)
        self._tracer = tracing.tracer
        self._histogram = histogram
        # a caller's W3C `traceparent` makes this request a child of its span (a malformed one starts a new trace)
        caller = _W3C.extract({"traceparent": traceparent}) if traceparent else None
        self._root = self._tracer.start_span(
            "netops.request",
            caller,
            kind=SpanKind.SERVER,
            attributes={"netops.request_id": request_id, "http.request.method": method},
        )
        self._parent = trace.set_span_in_context(self._root)
        self.finished = False

    @contextlib.contextmanager
    def step(self, name: str, *, traced: bool = True, **attributes: AttributeValue) -> Iterator[Span]:
        """Time one step (`guard.input`, `retrieval`, `model`, `tools`, `audit`, ...): its span, named `name`,
        and its share of the request's total for `name`. A step entered again adds to its total; `traced=False`
        only adds time (a stream's many short waits, inside a span of their own)."""
        span = self._tracer.start_span(name, self._parent, attributes=attributes) if traced else trace.INVALID_SPAN
        started = time.perf_counter()
        try:
            yield span
        except BaseException as exc:
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise
        finally:
            self.add(name, time.perf_counter() - started)
            span.end()

    def add(self, name: str, seconds: float) -> None:
        """Add time to a step's total without a span or a context manager (a stream's per-chunk waits)."""
        self.ms[name] = self.ms.get(name, 0.0) + seconds * 1000

    def annotate(self, **attributes: AttributeValue) -> None:
        """Attributes of the whole request (the root span): ids, names and counts only."""
        self._root.set_attributes(attributes)

    def split(self, total_ms: float) -> dict[str, float]:
        """Model, retrieval and tools time and the gateway's (the total less those), rounded to 0.1 ms."""
        steps = {k: round(self.ms[k], 1) for k in SPLIT}
        waits = sum(self.ms[k] for k in SPLIT)
        return {**steps, "gateway": round(max(0.0, total_ms - waits), 1), "total": round(total_ms, 1)}

    def finish(self, total_ms: float, attributes: Mapping[str, AttributeValue], *, error: bool, gateway: bool) -> None:
        """The request is over: each step's total goes to the histogram (with `gateway`, the gateway's own time
        too) and the root span ends with `attributes`. Only the first call counts."""
        if self.finished:
            return
        self.finished = True
        for name, ms in self.ms.items():
            if ms or name not in SPLIT:
                self._histogram.labels(name).observe(ms / 1000)
        if gateway:
            self._histogram.labels("gateway").observe(self.split(total_ms)["gateway"] / 1000)
        self._root.set_attributes(attributes)
        if error:
            self._root.set_status(Status(StatusCode.ERROR))
        self._root.end()
