"""Processes under benchmark: start one and wait until it serves, and watch its tree's memory and CPU.

Example:
    with process(cmd, Path("var/bench/x.log"), "http://127.0.0.1:8070/healthz") as proc:
        watcher = Watcher([proc.pid])
        watcher.start()
        ...  # drive it
        watcher.stop()
    watcher.peak, watcher.cpu_s  # {"parent": 868.0, "worker 123": 649.0}, 41.2
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from gateway.workers import rss_mb

__all__ = ["ROOT", "Watcher", "process"]

ROOT = Path(__file__).resolve().parents[2]  # the checkout: processes start here


@contextmanager
def process(
    cmd: list[str],
    log: Path,
    ready_url: str,
    *,
    probe: str = "get",
    ready_lines: int = 0,
    ready_text: str = " MB resident",
) -> Iterator[subprocess.Popen[bytes]]:
    """Start `cmd` in its own session, wait until `ready_url` answers (and `ready_lines` workers logged
    `ready_text`)."""
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR", "NO_PROXY": "127.0.0.1"}
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while not _ready(ready_url, probe) or log.read_text(errors="replace").count(ready_text) < ready_lines:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{cmd[0]} did not start: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.5)
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _ready(url: str, probe: str) -> bool:
    try:
        if probe == "post":
            return httpx.post(url, json={"messages": []}, timeout=5).status_code == 200
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


class Watcher:
    """Samples the resident memory of the given processes and their children, keeping each one's peak, and the
    CPU time they spent between the first and the last sample (`cpu_s`)."""

    def __init__(self, pids: list[int]) -> None:
        self._roots = pids
        self.peak: dict[str, float] = {}
        self._cpu: dict[int, tuple[float, float]] = {}  # pid -> (CPU seconds at its first sample, at its last)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        if self._roots:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
            self._sample()  # a run shorter than the sampling interval still gets its numbers

    def _run(self) -> None:
        self._sample()
        while not self._stop.wait(0.5):
            self._sample()

    @property
    def cpu_s(self) -> float:
        return sum(last - first for first, last in self._cpu.values())

    def _sample(self) -> None:
        for pid, used in _tree(self._roots).items():
            self._cpu[pid] = (self._cpu.get(pid, (used, used))[0], used)
            size = rss_mb(pid)
            if size < 50:  # multiprocessing's resource tracker, not a worker
                continue
            label = "parent" if pid in self._roots else f"worker {pid}"
            self.peak[label] = round(max(self.peak.get(label, 0.0), size), 1)


def _tree(roots: list[int]) -> dict[int, float]:
    """The live processes under `roots` (themselves included), each with its user and system CPU seconds."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        parents[pid], cpu[pid] = int(fields[1]), (int(fields[11]) + int(fields[12])) / tick
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    found, todo = {}, [r for r in roots if r in cpu]
    while todo:
        pid = todo.pop()
        found[pid] = cpu[pid]
        todo.extend(children.get(pid, []))
    return found
