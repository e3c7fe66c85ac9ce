"""Retrieval exceptions.

RetrievalError
 +-- IndexUnavailable   no index has been built or promoted, or the store cannot be reached
 +-- UnknownVersion     the named index version does not exist (or is an incomplete build)
 +-- PromoteRefused     the candidate failed the retrieval eval gate, or is already live
 |    +-- EvalSetMismatch  the gate's eval set is not about this index (its runbooks are not in it)
 +-- NothingToRollBack  there is no earlier promoted version to return to
 +-- InvalidQuery       an empty query, an unknown retrieval mode or sensitivity level
"""

from __future__ import annotations

__all__ = [
    "EvalSetMismatch",
    "IndexUnavailable",
    "InvalidQuery",
    "NothingToRollBack",
    "PromoteRefused",
    "RetrievalError",
    "UnknownVersion",
]


class RetrievalError(Exception):
    """Base of every retrieval error; `code` is the stable machine-readable error code."""

    code = "retrieval_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class IndexUnavailable(RetrievalError):
    """No usable runbook index."""

    code = "index_unavailable"


class UnknownVersion(RetrievalError):
    """No such (complete) index version."""

    code = "unknown_index_version"


class PromoteRefused(RetrievalError):
    """The promote did not happen; `detail` says which gate metric regressed."""

    code = "promote_refused"


class EvalSetMismatch(PromoteRefused):
    """The eval set's expected runbooks are not documents of the candidate: its scores would judge nothing."""

    code = "eval_set_mismatch"


class NothingToRollBack(RetrievalError):
    """No earlier promoted version."""

    code = "nothing_to_roll_back"


class InvalidQuery(RetrievalError):
    """The query cannot be run as given."""

    code = "invalid_query"
