"""Runbook retrieval: loading, chunking, embedding, a tenant-scoped vector index."""

from retrieval.documents import Chunk, chunk_markdown, load_chunks
from retrieval.embedder import Embedder, MiniLMEmbedder
from retrieval.errors import IndexUnavailable, RetrievalError
from retrieval.index import Hit, IndexStatus, Retriever, RunbookIndex
from retrieval.store import QdrantStore

__all__ = [
    "Chunk",
    "Embedder",
    "Hit",
    "IndexStatus",
    "IndexUnavailable",
    "MiniLMEmbedder",
    "QdrantStore",
    "RetrievalError",
    "Retriever",
    "RunbookIndex",
    "chunk_markdown",
    "load_chunks",
]
