"""`netops_tools(client)`: the key's granted tools as LangChain tools, each call going through the gateway.

A read tool returns its (guarded) output. A change tool never runs: the gateway records a pending action, and
the tool returns it with its approval link, so an agent stops at the approval instead of changing a device.

    tools = {t.name: t for t in netops_tools(client)}
    tools["bgp_summary"].invoke({"device": "r1"})              # the guarded `show bgp summary` output
    tools["interface_no_shutdown"].invoke({"device": "r1", "interface": "r1-r3"})
    # '{"pending_action": "3f2a...", "status": "pending", "approve_url": ".../approve", ...}'
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool, ToolException

from netops_langchain.client import NetOpsClient, NetOpsError

__all__ = ["netops_tools"]


def netops_tools(client: NetOpsClient) -> list[BaseTool]:
    """One structured tool per entry of `GET /v1/tools` (the grants of the key's tenant and role)."""
    return [_tool(client, entry) for entry in client.tools()]


def _tool(client: NetOpsClient, entry: dict[str, Any]) -> BaseTool:
    spec = entry["function"]
    name, risk = str(spec["name"]), str(entry.get("risk", "read"))
    schema = dict(spec.get("parameters") or {"type": "object", "properties": {}})
    schema.setdefault("title", name)
    schema.setdefault("description", str(spec.get("description", "")))

    def run(**arguments: Any) -> str:
        try:
            result = client.invoke(name, arguments)
            pending = client.pending(result) if risk == "change" else None
        except NetOpsError as exc:
            raise ToolException(str(exc)) from exc
        return json.dumps(pending.as_dict()) if pending else str(result.get("output", ""))

    async def arun(**arguments: Any) -> str:
        try:
            result = await client.ainvoke(name, arguments)
            pending = await client.apending(result) if risk == "change" else None
        except NetOpsError as exc:
            raise ToolException(str(exc)) from exc
        return json.dumps(pending.as_dict()) if pending else str(result.get("output", ""))

    return StructuredTool(
        name=name,
        description=str(spec.get("description", "")),
        args_schema=schema,
        func=run,
        coroutine=arun,
        handle_tool_error=True,  # a refusal comes back to the agent as text, not an exception in its loop
        metadata={"risk": risk, "gateway": client.base_url},
    )
