"""The Prometheus text parser and vLLM load on real vLLM `/metrics` text (see data/README.md for sources)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from routing.promtext import MetricsParseError, parse_prometheus_text
from routing.signals import DeploymentStats, percentile, vllm_load

DATA = Path(__file__).parent / "data"


def test_real_pre_v1_page_falls_back_to_gpu_cache_usage() -> None:
    text = (DATA / "vllm_v0_production_stack_318.txt").read_text()
    samples = parse_prometheus_text(text)
    assert len(samples) == 7
    start = next(s for s in samples if s.name == "process_start_time_seconds")
    assert start.value == pytest.approx(1.74262400557e09)
    load = vllm_load(text)
    assert (load.waiting, load.running, load.kv_cache_usage) == (0.0, 0.0, 0.0)
    assert load.kv_metric == "vllm:gpu_cache_usage_perc"


def test_real_v1_page_with_engines_and_inf_buckets() -> None:
    samples = parse_prometheus_text((DATA / "vllm_v1_pr_22227.txt").read_text())
    assert len(samples) == 13
    last = samples[-1]
    assert last.labels == {"engine": "1", "le": "+Inf", "model_name": "/home/jovyan/qwen3-8b"}
    assert last.value == 1.0
    assert vllm_load("\n".join(["# no vLLM gauges here"])).kv_metric is None


def test_new_kv_metric_wins_and_engines_are_summed() -> None:
    text = (
        "# TYPE vllm:num_requests_waiting gauge\n"
        'vllm:num_requests_waiting{engine="0",model_name="m"} 3.0\n'
        'vllm:num_requests_waiting{engine="1",model_name="m"} 2.0\n'
        'vllm:num_requests_running{engine="0",model_name="m"} 4\n'
        'vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.25\n'
        'vllm:kv_cache_usage_perc{engine="1",model_name="m"} 0.5\n'
        'vllm:gpu_cache_usage_perc{engine="0",model_name="m"} 0.99\n'
    )
    load = vllm_load(text)
    assert (load.waiting, load.running, load.kv_cache_usage, load.kv_metric) == (
        5.0,
        4.0,
        0.5,
        "vllm:kv_cache_usage_perc",
    )


def test_escapes_timestamps_and_special_values() -> None:
    samples = parse_prometheus_text('m{path="a\\"b,c}",x="\\\\"} -Inf 1700000000000\nn NaN\n')
    assert samples[0].labels == {"path": 'a"b,c}', "x": "\\"} and samples[0].value == -math.inf
    assert math.isnan(samples[1].value)


@pytest.mark.parametrize("bad", ["m{x=1} 2", 'm{x="1" y="2"} 3', '{x="1"} 2', "m"])
def test_malformed_lines_raise_a_typed_error(bad: str) -> None:
    with pytest.raises(MetricsParseError, match="line 1"):
        parse_prometheus_text(bad)


def test_rolling_stats() -> None:
    stats = DeploymentStats(window=10)
    for ms in range(1, 21):
        stats.started()
        stats.first_token(ms / 1000)
        stats.finished(ms / 100, ok=ms % 5 != 0)
    snap = stats.snapshot()
    assert snap.in_flight == 0 and snap.samples == 10
    assert snap.ttft_p50_ms == pytest.approx(15.0) and snap.ttft_p95_ms == pytest.approx(20.0)
    assert snap.error_rate == pytest.approx(0.2)
    assert percentile([], 0.5) is None
