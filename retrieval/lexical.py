"""The lexical signal: BM25-style sparse vectors computed by us, scored by Qdrant with its IDF modifier.

Document side: `tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avg_len))` per token (BM25's saturation and
length normalisation); query side: 1.0 per distinct token. Qdrant multiplies by each token's IDF at query time
(`Modifier.IDF`), so the dot product is the BM25 score. Tokens are hashed to 31-bit indices (no vocabulary).
CamelCase names are split and kept whole: `KubePodCrashLooping` gives `kubepodcrashlooping`, `kube`, `pod`, ...
Deliberately left out: a stemmer beyond a few English suffixes, phrase matching.

Example:
    vec = bm25_vector("BGP session flapping", avg_len=120.0)
    vec.indices, vec.values
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from dataclasses import dataclass

__all__ = ["SparseVector", "bm25_vector", "query_vector", "tokens"]

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*|[0-9]+")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_STOP = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "will",
        "with",
        "which",
        "when",
        "what",
        "if",
        "not",
        "no",
        "can",
        "may",
        "than",
        "then",
        "there",
        "these",
        "those",
        "their",
        "they",
        "been",
        "into",
        "out",
        "up",
    }
)
K1 = 1.2
B = 0.75


@dataclass(frozen=True, slots=True)
class SparseVector:
    """Parallel lists of token indices and weights."""

    indices: list[int]
    values: list[float]


def tokens(text: str) -> list[str]:
    """Lower-cased, stop-word-free tokens, camelCase parts added after the whole word."""
    out: list[str] = []
    for word in _WORD.findall(text):
        parts = _CAMEL.findall(word)
        for token in [word, *parts] if len(parts) > 1 else [word]:
            low = _stem(token.lower())
            if low not in _STOP and len(low) > 1:
                out.append(low)
    return out


def bm25_vector(text: str, *, avg_len: float) -> SparseVector:
    """The document-side vector of `text` (BM25 term-frequency part)."""
    counts = Counter(tokens(text))
    length = sum(counts.values())
    norm = K1 * (1 - B + B * length / max(avg_len, 1.0))
    return _vector({t: tf * (K1 + 1) / (tf + norm) for t, tf in counts.items()})


def query_vector(text: str) -> SparseVector:
    """The query-side vector: each distinct token once."""
    return _vector(dict.fromkeys(tokens(text), 1.0))


def _vector(weights: dict[str, float]) -> SparseVector:
    merged: dict[int, float] = {}
    for token, weight in weights.items():
        index = zlib.crc32(token.encode()) & 0x7FFFFFFF
        merged[index] = merged.get(index, 0.0) + weight
    ordered = sorted(merged.items())
    return SparseVector([i for i, _ in ordered], [w for _, w in ordered])


def _stem(token: str) -> str:
    for suffix, keep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if len(token) > len(suffix) + 3 and token.endswith(suffix) and not token.endswith("ss"):
            return token[: -len(suffix)] + keep
    return token
