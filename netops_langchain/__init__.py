"""NetOps Assistant for LangChain and LangGraph agents: the platform's guarded retrieval, vetted tools and chat,
always through the gateway (its guardrails, tenant isolation, approvals and audit apply to every call).

    client = NetOpsClient("http://127.0.0.1:8070", api_key)
    retriever = NetOpsRetriever(client=client, top_k=3)         # POST /v1/retrieval/search
    tools = netops_tools(client)                                 # GET /v1/tools -> POST /v1/tools/{name}/invoke
    llm = ChatNetOps(base_url=f"{client.base_url}/v1", api_key=api_key, model="netops-assistant")
    llm.invoke("BGP down on r1").response_metadata["netops"]["findings"]

`langchain-core` is the only LangChain dependency of the retriever and the tools; `ChatNetOps` (in
`netops_langchain.chat`) also needs `langchain-openai`. Deliberately left out: any direct access to a device, an
index or a model; a change tool never runs from here, it returns the pending action and its approval link.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from netops_langchain.client import NetOpsClient, NetOpsError, PendingAction
from netops_langchain.retriever import NetOpsRetriever
from netops_langchain.tools import netops_tools

if TYPE_CHECKING:
    from netops_langchain.chat import ChatNetOps

__all__ = ["ChatNetOps", "NetOpsClient", "NetOpsError", "NetOpsRetriever", "PendingAction", "netops_tools"]


def __getattr__(name: str) -> Any:
    if name == "ChatNetOps":  # needs langchain-openai: imported only when asked for
        from netops_langchain.chat import ChatNetOps  # noqa: PLC0415

        return ChatNetOps
    raise AttributeError(name)
