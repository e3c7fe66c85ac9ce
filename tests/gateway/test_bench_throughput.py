"""The throughput benchmarks' own logic: the overhead table's ratios from the harness's TSV, and a small streaming
run end to end (paced upstream, `netops serve`, the client), without LiteLLM."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.bench.streams import format_table as streams_table
from evals.bench.streams import measure
from gateway.cli.bench_overhead import format_table, read_rows, with_ratios

HEAD = (
    "target conns threads requests rps p50_ms p90_ms p99_ms p999_ms max_ms errors cpu_ms_per_req host_busy_pct "
    "steal_pct"
)
TSV = (
    HEAD.replace(" ", "\t")
    + """
direct\t8\t2\t400000\t20000.5\t0.2\t1\t5\t9\t12\t0\t0.011\t100\t0
litellm\t8\t2\t7360\t368.0\t20.3\t30\t45\t60\t80\t0\t5.2\t100\t0
netops\t8\t2\t29440\t1472.0\t5.1\t8\t12\t20\t31\t0\t-\t100\t0
netops-guarded\t8\t2\t14720\t736.0\t10.9\t15\t22\t30\t44\t3\t2.5\t100\t0
"""
)


def test_overhead_rows_carry_req_per_s_as_a_multiple_of_litellms(tmp_path: Path) -> None:
    tsv = tmp_path / "results.tsv"
    tsv.write_text(TSV)
    rows = {r["target"]: r for r in with_ratios(read_rows(tsv))}
    assert rows["netops"]["rps_vs_litellm"] == 4.0 and rows["netops-guarded"]["rps_vs_litellm"] == 2.0
    assert rows["netops"]["cpu_ms_per_req"] is None and rows["netops-guarded"]["errors"] == 3
    table = format_table(list(rows.values()))
    assert "netops-guarded" in table and "4.00" in table and "-" in table.splitlines()[4]


@pytest.mark.slow
def test_a_small_streaming_run_end_to_end(tmp_path: Path) -> None:
    runs = measure(streams=20, tokens=5, rate=50.0, workers=1, work=tmp_path, ramps=(0.0, 0.5), litellm=False)
    assert [(r.target, r.ramp_s) for r in runs] == [
        ("direct", 0.0),
        ("direct", 0.5),
        ("floor", 0.0),
        ("floor", 0.5),
        ("netops", 0.0),
        ("netops", 0.5),
        ("netops-guarded", 0.0),
        ("netops-guarded", 0.5),
    ]
    assert all(r.errors == 0 and r.ok == 20 for r in runs), [r.error_kinds for r in runs]
    ramped = runs[5]
    assert ramped.overhead_p99_ms is not None and ramped.rss_mb.get("parent", 0) > 0
    assert ramped.wall_s >= 0.5  # the last stream opened half a second after the first
    assert ramped.cpu_us_per_chunk is not None and ramped.cpu_us_per_chunk > 0 and runs[0].cpu_us_per_chunk is None
    assert "netops-guarded" in streams_table(runs)
