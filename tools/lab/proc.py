"""Process helpers for the lab: argument-list commands (never a shell) and PID-file based stopping.

Only PIDs read from the lab's own pid files are ever signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from tools.errors import LabError

__all__ = ["alive", "pid_of", "run", "stop_pids"]


def run(argv: Sequence[str], *, check: bool = True, timeout: float = 15.0) -> str:
    """Run one command as an argument list; raises `LabError` with its stderr when `check` and it fails."""
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LabError(f"{argv[0]}: {exc}") from None
    if check and done.returncode != 0:
        raise LabError(f"`{' '.join(argv)}` failed ({done.returncode}): {done.stderr.strip()[:400]}")
    return done.stdout


def pid_of(path: Path) -> int | None:
    """The PID in a pid file, if the file exists and holds one."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def alive(pid: int | None) -> bool:
    """Whether a PID is a running (not zombie) process."""
    if pid is None:
        return False
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return fields[0] not in ("Z", "X")


def stop_pids(pid_files: Iterable[Path], *, grace_s: float = 3.0) -> int:
    """SIGTERM every live PID named in the given pid files, then SIGKILL stragglers; returns how many were live."""
    pids = [pid for pid in (pid_of(p) for p in pid_files) if pid is not None and alive(pid)]
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in pids:
        if alive(pid):
            _signal(pid, signal.SIGKILL)
    return len(pids)


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
