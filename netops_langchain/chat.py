"""`ChatNetOps`: `ChatOpenAI` pointed at the gateway, keeping the `netops` field of each answer.

    llm = ChatNetOps(base_url="http://127.0.0.1:8070/v1", api_key=key, model="netops-assistant")
    msg = llm.invoke("InterfaceDown r1 r1-r3")
    msg.response_metadata["netops"]["findings"]       # the gateway's checks and what they found
    msg.response_metadata["netops"]["citations"]      # runbook sections used

Streaming keeps it too: the final chunk carries `netops`; the check-progress events sent while the gateway
runs its read-only checks arrive in `response_metadata["netops_events"]` (merged into one list by `+`).
"""

from __future__ import annotations

from typing import Any

import openai
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_openai import ChatOpenAI

__all__ = ["ChatNetOps"]


class ChatNetOps(ChatOpenAI):
    """A chat model whose messages keep the gateway's `netops` report in `response_metadata`."""

    def _create_chat_result(
        self, response: dict[str, Any] | openai.BaseModel, generation_info: dict[str, Any] | None = None
    ) -> ChatResult:
        result = super()._create_chat_result(response, generation_info)
        body = response if isinstance(response, dict) else response.model_dump()
        if body.get("netops") is not None:
            for generation in result.generations:
                generation.message.response_metadata["netops"] = body["netops"]
        return result

    def _convert_chunk_to_generation_chunk(
        self, chunk: dict[str, Any], default_chunk_class: type, base_generation_info: dict[str, Any] | None
    ) -> ChatGenerationChunk | None:
        generation = super()._convert_chunk_to_generation_chunk(chunk, default_chunk_class, base_generation_info)
        netops = chunk.get("netops")
        if generation is not None and netops is not None:
            key = "netops" if chunk.get("choices") else "netops_events"
            generation.message.response_metadata[key] = netops if key == "netops" else [netops]
        return generation
