"""User feedback on answers: the chat UI's thumbs up / down.

    POST /v1/feedback  {"request_id": "<the answer's X-Request-Id>", "rating": "up" | "down"}
        -> {"request_id", "rating", "version"}

The rating is booked against the prompt version that wrote the answer (`gateway.rollout` counters), so a
canary's candidate and the version in force can be compared on it. A request id is looked up for the caller's
own tenant only: another tenant's answer is a 404 exactly like one that does not exist. Voting again replaces
the earlier vote. Each vote is audited (`feedback.given`: the rated request id, rating and version; no text).

Left out: free-text comments (they would be user text in the audit trail), and votes on answers that never
reached the model (refusals have no prompt version to credit).
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from gateway.deps import Caller, read_body, services, turn_of
from gateway.events import FeedbackGiven
from gateway.openapi import body, responses

__all__ = ["FeedbackRequest", "FeedbackResponse", "router"]

router = APIRouter()


class FeedbackRequest(BaseModel):
    """`POST /v1/feedback`."""

    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(pattern=r"^[A-Za-z0-9._-]{8,64}$", description="the answer's X-Request-Id")
    rating: Literal["up", "down"]


class FeedbackResponse(BaseModel):
    """The vote as booked, and the prompt version it counts for."""

    request_id: str
    rating: Literal["up", "down"]
    version: str


@router.post(
    "/v1/feedback", openapi_extra=body(FeedbackRequest), responses=responses(FeedbackResponse, 400, 404, 413, 422)
)
async def feedback(request: Request, who: Caller) -> dict[str, Any]:
    """A thumbs up or down on one of the caller's tenant's answers."""
    req = await read_body(request, FeedbackRequest)
    turn = turn_of(request)
    rate = partial(services(request).rollouts.rate, who.tenant, req.request_id, up=req.rating == "up")
    version = await asyncio.to_thread(rate)
    event = FeedbackGiven(
        tenant=who.tenant,
        request_id=turn.request_id,
        key_id=who.key_id,
        rated=req.request_id,
        rating=req.rating,
        version=version,
    )
    await turn.complete(event)
    return {"request_id": req.request_id, "rating": req.rating, "version": version}
