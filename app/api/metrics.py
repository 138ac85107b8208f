"""`GET /metrics` (Prometheus text format), at the root and without auth.

It shows service-wide aggregates only, never tenant data: episodes by terminal status, trials per
episode, judge and LLM latency, tokens (all from the Redis stats hash every worker writes, so one
scrape of any API instance covers all workers), the queue (never-delivered and in-flight jobs,
queued+running episodes), plus this API process's own request latency, /judge latency and garbage
collector (collections per generation, objects frozen at start-up). Operators
who want it private restrict it at the network edge, as is usual for scrape endpoints.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Gauge,
    GCCollector,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from app.api.deps import ServicesDep
from app.memory import stats
from app.queue.stream import JobStream
from app.reflexion.models import Verdict
from app.reflexion.vocabulary import TERMINAL_STATUSES

router = APIRouter(tags=["health"])

PROCESS = CollectorRegistry(auto_describe=True)
HTTP_LATENCY = Histogram(
    "rfx_http_request_seconds",
    "API request latency by route and method",
    ["route", "method", "status"],
    registry=PROCESS,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
)
API_JUDGE_LATENCY = Histogram(
    "rfx_api_judge_seconds",
    "POST /v1/judge sandbox latency (this API process)",
    registry=PROCESS,
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

GCCollector(registry=PROCESS)  # python_gc_*: collections and collected objects per generation
FROZEN = Gauge(
    "rfx_gc_frozen_objects",
    "Objects this process froze at start-up (app/gc_freeze.py), exempt from full GC passes",
    registry=PROCESS,
)
FROZEN.set_function(gc.get_freeze_count)


def observe_judge(verdict: Verdict) -> None:
    API_JUDGE_LATENCY.observe(verdict.duration_ms / 1000)


def _histogram(
    name: str, doc: str, values: dict[str, float], prefix: str, bounds: tuple[int, ...], scale: float
) -> HistogramMetricFamily:
    cumulative = 0.0
    buckets: list[tuple[str, float]] = []
    for bound in bounds:
        cumulative += values.get(f"{prefix}:le:{bound}", 0)
        buckets.append((str(bound * scale), cumulative))
    cumulative += values.get(f"{prefix}:le:inf", 0)
    buckets.append(("+Inf", cumulative))
    return HistogramMetricFamily(name, doc, buckets=buckets, sum_value=values.get(f"{prefix}:sum", 0) * scale)


class _Snapshot(Collector):
    def __init__(self, values: dict[str, float], lag: int, pending: int, active: int) -> None:
        self.values, self.lag, self.pending, self.active = values, lag, pending, active

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily]:
        v = self.values
        by_status = CounterMetricFamily(
            "rfx_episodes_finished", "Finished episodes by terminal status", labels=["status"]
        )
        for status in TERMINAL_STATUSES:
            by_status.add_metric([status], v.get(f"episodes:{status}", 0))
        yield by_status
        yield GaugeMetricFamily("rfx_episodes_active", "Queued plus running episodes", value=self.active)
        depth = GaugeMetricFamily("rfx_queue_jobs", "Jobs in the queue by state", labels=["state"])
        depth.add_metric(["waiting"], self.lag)
        depth.add_metric(["in_flight"], self.pending)
        yield depth
        yield _histogram(
            "rfx_episode_trials", "Trials per finished episode", v, "trials", stats.TRIAL_BUCKETS, 1
        )
        yield _histogram(
            "rfx_judge_seconds",
            "Sandbox judge latency per verdict (episodes)",
            v,
            "judge_ms",
            stats.LATENCY_BUCKETS_MS,
            0.001,
        )
        yield _histogram(
            "rfx_llm_seconds", "Actor LLM latency per attempt", v, "llm_ms", stats.LATENCY_BUCKETS_MS, 0.001
        )
        tokens = CounterMetricFamily(
            "rfx_llm_tokens", "LLM tokens used by finished episodes", labels=["kind"]
        )
        tokens.add_metric(["prompt"], v.get("tokens:prompt", 0))
        tokens.add_metric(["completion"], v.get("tokens:completion", 0))
        yield tokens


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
async def metrics(services: ServicesDep) -> Response:
    values = await stats.read(services.redis, services.keys.stats())
    lag, pending = await JobStream(services.redis, services.keys, consumer="api").depth()
    active = await services.store.active_count()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(values, lag, pending, active))
    body = generate_latest(registry) + generate_latest(PROCESS)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
