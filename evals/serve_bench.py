"""Start-up benchmark: `netops serve` from a fresh data folder and on restart, to ready and to first answer.

Each run starts `netops serve` as a user would (a subprocess, the embedded model server, the demo tenant and
index), polls `/readyz`, then asks one question through the OpenAI SDK, and stops it with Ctrl-C (SIGINT).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import openai

__all__ = ["StartRun", "format_table", "measure"]

QUESTION = "BGP session to 192.0.2.2 is down. What should I check first?"


@dataclass(frozen=True, slots=True)
class StartRun:
    """One start: seconds to a ready `/readyz` and to the first answer, and whether Ctrl-C exited cleanly."""

    label: str
    ready_s: float
    first_answer_s: float
    clean_exit: bool


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _one(label: str, data_dir: Path, timeout_s: float) -> StartRun:
    port, model_port = _free_port(), _free_port()
    env = {**os.environ, "NETOPS_DATA_DIR": str(data_dir), "NETOPS_SERVER__PORT": str(port),
           "NETOPS_MODEL_SERVER__PORT": str(model_port)}  # fmt: skip
    log = (data_dir / f"serve-{label}.log").open("w")
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "gateway", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        ready_s = _wait_ready(f"http://127.0.0.1:{port}", proc, started, timeout_s)
        key = (data_dir / "demo-api-key").read_text().strip()
        sdk = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0)
        sdk.chat.completions.create(model="netops-assistant", max_tokens=40,
                                    messages=[{"role": "user", "content": QUESTION}])  # fmt: skip
        first_s = time.monotonic() - started
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
        log.close()
    return StartRun(label, round(ready_s, 2), round(first_s, 2), code == 0)


def _wait_ready(url: str, proc: subprocess.Popen[bytes], started: float, timeout_s: float) -> float:
    while time.monotonic() - started < timeout_s:
        if proc.poll() is not None:
            raise RuntimeError(f"netops serve exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"netops serve not ready after {timeout_s} s")


def measure(*, restarts: int = 1, timeout_s: float = 300.0) -> list[StartRun]:
    """A fresh start (demo index built), then `restarts` restarts on the same data folder."""
    with tempfile.TemporaryDirectory(prefix="netops-serve-bench-") as scratch:
        data_dir = Path(scratch)
        runs = [_one("fresh", data_dir, timeout_s)]
        runs += [_one(f"restart-{i}", data_dir, timeout_s) for i in range(1, restarts + 1)]
    return runs


def format_table(runs: list[StartRun]) -> str:
    lines = ["| start | ready s | first answer s | clean Ctrl-C |", "|---|---:|---:|---|"]
    lines += [f"| {r.label} | {r.ready_s:.1f} | {r.first_answer_s:.1f} | {r.clean_exit} |" for r in runs]
    return "\n".join(lines)


def write_json(runs: list[StartRun], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"question": QUESTION, "runs": [asdict(r) for r in runs]}, indent=2))
