"""The Slack users' gateway keys, in one file the operator controls (mode 0600, never in the database, never
logged): `{"<key_id>": "nk-<key_id>-<secret>"}`.

The store maps a Slack user to a key id; this file holds the key material the bot presents for them. A file
open to group or others is refused, as the audit key is.

Example:
    keys = KeyFile(Path("var/slack-keys.json"))
    keys.put(issued.key_id, issued.plaintext)
    keys.get("3f2a9c0d1e2b")   # the key, or KeyFileError
"""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

from gateway.slack.errors import KeyFileError

__all__ = ["KeyFile"]


class KeyFile:
    """A JSON object of key id -> key, read on each lookup (so `netops slack map` takes effect at once)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def get(self, key_id: str) -> str:
        key = self._read().get(key_id)
        if key is None:
            raise KeyFileError(f"no key {key_id} in {self.path}: map the user again (`netops slack map user`)")
        return key

    def put(self, key_id: str, key: str) -> None:
        with self._lock:
            keys = self._read() if self.path.exists() else {}
            keys[key_id] = key
            self._write(keys)

    def remove(self, key_id: str) -> None:
        with self._lock:
            if self.path.exists():
                keys = self._read()
                keys.pop(key_id, None)
                self._write(keys)

    def _read(self) -> dict[str, str]:
        try:
            mode = self.path.stat().st_mode
        except FileNotFoundError:
            raise KeyFileError(f"the Slack keys file {self.path} does not exist: map a user first") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyFileError(f"the Slack keys file {self.path} is open to group or others: chmod 600 it")
        data = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        return {str(k): str(v) for k, v in data.items()}

    def _write(self, keys: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(keys, out, indent=1, sort_keys=True)
        os.replace(tmp, self.path)
