"""`netops serve` as a user runs it: a fresh data folder, the embedded model server, the demo tenant and index."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai

from gateway.supervisor import port_in_use
from tests.support import free_port


def test_serve_answers_through_the_openai_sdk_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    port, model_port = free_port(), free_port()
    env = {
        **os.environ,
        "NETOPS_DATA_DIR": str(tmp_path),
        "NETOPS_SERVER__PORT": str(port),
        "NETOPS_MODEL_SERVER__PORT": str(model_port),
    }
    started = time.monotonic()
    log = (tmp_path / "serve.out").open("w")  # a file, not a pipe: a full pipe would stall the server
    proc = subprocess.Popen([sys.executable, "-m", "gateway", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        ready = None
        while time.monotonic() - started < 180 and proc.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        assert ready is not None and ready.status_code == 200, (tmp_path / "serve.out").read_text()[-3000:]
        checks = ready.json()["checks"]
        assert {"model:local-smollm2", "store", "index"} <= set(checks)
        key = (tmp_path / "demo-api-key").read_text().strip()
        sdk = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0)
        reply = sdk.chat.completions.create(
            model="netops-assistant", max_tokens=20, messages=[{"role": "user", "content": "DNS lookups fail. Steps?"}]
        )
        assert reply.choices[0].message.content
        print(f"\nnetops serve: first answer {time.monotonic() - started:.1f} s after start")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        log.close()
    output = (tmp_path / "serve.out").read_text()
    assert "Demo API key" in output
    assert "Slack bot: not configured (set slack.bot_token and slack.app_token" in output  # says so when not
    assert proc.returncode == 0, output[-2000:]
    assert not port_in_use("127.0.0.1", model_port), "the model server outlived `netops serve`"
