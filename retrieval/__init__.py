"""Runbook retrieval: ingest, hybrid (dense + BM25) search, versioned collections with atomic promote."""

from retrieval.backend import ENGINES, VectorStore, open_store
from retrieval.documents import SENSITIVITY, Chunk, Corpus, Rejected, chunk_markdown, load_chunks, scan
from retrieval.embedder import Embedder, LazyEmbedder, MiniLMEmbedder
from retrieval.errors import (
    EvalSetMismatch,
    IndexUnavailable,
    InvalidQuery,
    NothingToRollBack,
    PromoteRefused,
    RetrievalError,
    UnknownVersion,
)
from retrieval.evaluation import EvalCase, EvalGate, GateReport, Scores, evaluate, load_cases
from retrieval.freshness import Drift, Freshness, SourceWatch, judge
from retrieval.index import MODES, Hit, IndexStatus, Retriever, RunbookIndex, VersionInfo
from retrieval.sources import SourceRecord
from retrieval.vector_cache import VectorCache
from retrieval.versions import Manifest, VersionDiff

__all__ = [
    "ENGINES",
    "MODES",
    "SENSITIVITY",
    "Chunk",
    "Corpus",
    "Drift",
    "Embedder",
    "EvalCase",
    "EvalGate",
    "EvalSetMismatch",
    "Freshness",
    "GateReport",
    "Hit",
    "IndexStatus",
    "IndexUnavailable",
    "InvalidQuery",
    "LazyEmbedder",
    "Manifest",
    "MiniLMEmbedder",
    "NothingToRollBack",
    "PromoteRefused",
    "Rejected",
    "RetrievalError",
    "Retriever",
    "RunbookIndex",
    "Scores",
    "SourceRecord",
    "SourceWatch",
    "UnknownVersion",
    "VectorCache",
    "VectorStore",
    "VersionDiff",
    "VersionInfo",
    "chunk_markdown",
    "evaluate",
    "judge",
    "load_cases",
    "load_chunks",
    "open_store",
    "scan",
]
