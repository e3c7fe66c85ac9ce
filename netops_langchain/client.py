"""The HTTP client the LangChain pieces share: one key, one gateway, problem+json errors as `NetOpsError`.

client = NetOpsClient("http://127.0.0.1:8070", "sk-...")
client.search("BGP session down", top_k=3)     # [{"path", "heading", "index_version", "score", "text"}, ...]
client.tools()                                  # OpenAI `tools` entries + "risk"
client.invoke("bgp_summary", {"device": "r1"})  # {"name", "arguments", "output", ...}
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["NetOpsClient", "NetOpsError", "PendingAction"]

_PENDING = re.compile(r"pending action ([0-9a-f]{8,32})")


class NetOpsError(Exception):
    """A refusal or failure from the gateway, with its stable problem code (`forbidden_tool`, `blocked`, ...)."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status, self.code, self.detail = status, code, detail


@dataclass(frozen=True, slots=True)
class PendingAction:
    """A change a tool proposed: nothing ran; a human approves it at `approve_url` (role approver or admin)."""

    id: str
    tool: str
    device: str
    status: str
    preview: str
    approve_url: str

    def as_dict(self) -> dict[str, str]:
        return {
            "pending_action": self.id,
            "tool": self.tool,
            "device": self.device,
            "status": self.status,
            "preview": self.preview,
            "approve_url": self.approve_url,
            "note": "Nothing has run. A human must approve this action before it runs.",
        }


class NetOpsClient:
    """Sync and async calls to one gateway with one API key (the key decides the tenant, never the caller)."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/").removesuffix("/v1")
        headers = {"authorization": f"Bearer {api_key}"} if api_key.strip() else {}  # none: the gateway says 401
        self._sync = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)
        self._async = httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=timeout)

    # -- the calls -------------------------------------------------------------------------------------------

    def search(self, query: str, top_k: int = 5) -> list[dict[str, Any]]:
        return list(_json(self._sync.post("/v1/retrieval/search", json={"query": query, "top_k": top_k}))["results"])

    async def asearch(self, query: str, top_k: int = 5) -> list[dict[str, Any]]:
        response = await self._async.post("/v1/retrieval/search", json={"query": query, "top_k": top_k})
        return list(_json(response)["results"])

    def tools(self) -> list[dict[str, Any]]:
        return list(_json(self._sync.get("/v1/tools"))["data"])

    def invoke(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return _json(self._sync.post(f"/v1/tools/{name}/invoke", json={"arguments": arguments}))

    async def ainvoke(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return _json(await self._async.post(f"/v1/tools/{name}/invoke", json={"arguments": arguments}))

    def pending(self, result: dict[str, Any]) -> PendingAction | None:
        """The pending action a change tool's result names, as the gateway stores it (None for a read tool)."""
        match = _PENDING.search(str(result.get("output", "")))
        if not match:
            return None
        return self._action(match.group(1), _json(self._sync.get(f"/v1/tools/actions/{match.group(1)}")))

    async def apending(self, result: dict[str, Any]) -> PendingAction | None:
        match = _PENDING.search(str(result.get("output", "")))
        if not match:
            return None
        return self._action(match.group(1), _json(await self._async.get(f"/v1/tools/actions/{match.group(1)}")))

    def close(self) -> None:
        self._sync.close()

    async def aclose(self) -> None:
        await self._async.aclose()

    def _action(self, action_id: str, view: dict[str, Any]) -> PendingAction:
        return PendingAction(
            id=action_id,
            tool=str(view.get("tool", "")),
            device=str(view.get("device", "")),
            status=str(view.get("status", "")),
            preview=str(view.get("preview", "")),
            approve_url=f"{self.base_url}/v1/tools/actions/{action_id}/approve",
        )


def _json(response: httpx.Response) -> dict[str, Any]:
    """The body of a 2xx answer; a problem+json answer raises `NetOpsError` with its code."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.is_success and isinstance(body, dict):
        return body
    problem = body if isinstance(body, dict) else {}
    code = str(problem.get("code") or problem.get("type") or "http_error")
    raise NetOpsError(response.status_code, code, str(problem.get("detail") or response.text[:200]))
