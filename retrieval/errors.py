"""Retrieval exceptions.

RetrievalError
 +-- IndexUnavailable   no index has been built or promoted, or the store cannot be reached
"""

from __future__ import annotations

__all__ = ["IndexUnavailable", "RetrievalError"]


class RetrievalError(Exception):
    """Base of every retrieval error; `code` is the stable machine-readable error code."""

    code = "retrieval_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class IndexUnavailable(RetrievalError):
    """No usable runbook index."""

    code = "index_unavailable"
