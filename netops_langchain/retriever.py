"""`NetOpsRetriever`: the tenant's live runbook index through the gateway's `/v1/retrieval/search`.

The tenant's context guardrails run server-side (secrets redacted, planted instructions withheld) before any text
reaches the agent; each `Document` says where it came from.

    retriever = NetOpsRetriever(client=client, top_k=3)
    docs = retriever.invoke("BGP session stuck in Active")
    docs[0].metadata  # {"path": "runbooks/bgp-session-down.md", "heading": ..., "index_version": ..., "score": ...}
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from netops_langchain.client import NetOpsClient

__all__ = ["NetOpsRetriever"]


class NetOpsRetriever(BaseRetriever):
    """Runbook sections for the key's tenant and clearance, best first, one per runbook."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    client: NetOpsClient
    top_k: int = 5

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [_document(hit) for hit in self.client.search(query, self.top_k)]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [_document(hit) for hit in await self.client.asearch(query, self.top_k)]


def _document(hit: dict[str, Any]) -> Document:
    meta = {k: hit[k] for k in ("path", "heading", "index_version", "score") if k in hit}
    return Document(page_content=str(hit.get("text", "")), metadata=meta)
