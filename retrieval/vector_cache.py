"""Dense vectors kept by embedder and chunk content, so a build in a fresh index folder embeds only what is new.

An index build already reuses the vectors of unchanged chunks from the live version; this file carries them
across folders and processes: an eval tier's throw-away index, a replica's first start, a rebuilt data dir.
One SQLite file (`retrieval.vector_cache`, default `<data_dir>/vectors.db`); a key is the embedder's name and
the chunk's content digest (`Chunk.content_key`), so a hit is exactly the vector the embedder would compute.
Deleting the file loses nothing but time.

Example:
    cache = VectorCache(Path("var/data/vectors.db"), embedder="all-MiniLM-L6-v2", dim=384)
    cache.put({"3f9a...": [0.01, ...]})
    cache.get(["3f9a...", "77c0..."])  # {"3f9a...": [0.01, ...]}
"""

from __future__ import annotations

import contextlib
import sqlite3
from array import array
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["VectorCache"]


class VectorCache:
    """Vectors by (embedder, content digest) in one SQLite file; safe to share between processes."""

    def __init__(self, path: Path, *, embedder: str, dim: int) -> None:
        self.path = path
        self._embedder = embedder
        self._dim = dim

    def get(self, keys: Sequence[str]) -> dict[str, list[float]]:
        """The cached vectors among `keys` (an unreadable file counts as empty)."""
        found: dict[str, list[float]] = {}
        if not keys or not self.path.is_file():
            return found
        try:
            with contextlib.closing(self._connect()) as conn:
                for key in keys:
                    row = conn.execute(
                        "SELECT vector FROM vectors WHERE embedder = ? AND key = ?", (self._embedder, key)
                    ).fetchone()
                    vector = array("f", row[0]) if row else None
                    if vector is not None and len(vector) == self._dim:
                        found[key] = vector.tolist()
        except sqlite3.Error:
            return {}
        return found

    def put(self, vectors: Mapping[str, Sequence[float]]) -> None:
        """Keep `vectors` (float32, as the embedder computes them); a write that fails is skipped, not raised."""
        if not vectors:
            return
        rows = [(self._embedder, key, array("f", vector).tobytes()) for key, vector in vectors.items()]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.closing(self._connect()) as conn, conn:  # commits, then closes
                conn.executemany("INSERT OR IGNORE INTO vectors (embedder, key, vector) VALUES (?, ?, ?)", rows)
        except (OSError, sqlite3.Error):
            return

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30)
        conn.execute(
            "CREATE TABLE IF NOT EXISTS vectors "
            "(embedder TEXT NOT NULL, key TEXT NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (embedder, key))"
        )
        return conn
