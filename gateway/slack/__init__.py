"""The Slack incident bot: a first-class client of the gateway's own HTTP API.

Everything the bot does for a Slack user goes through the gateway with that user's own key (its tenant and
role), so guardrails, tenant isolation, tools, approvals and audit apply exactly as for the chat UI:

    Slack (Socket Mode or POST /slack/events) -> Bolt listeners (wiring.py) -> NetOpsBot (bot.py)
        -> who: channel -> tenant, user -> key (store.py, keys.py); unmapped: an ephemeral refusal
        -> once: an atomic claim per event id / click (store.py): retries never answer or run twice
        -> the gateway's /v1 API (client.py) -> Block Kit (blocks.py), streamed by chat.update (stream.py)
        -> slack.* audit records (events.py) linking Slack user and channel to the gateway's request ids

This module imports nothing heavy: `gateway.deps` uses `gateway.slack.store.slack_via`.
"""

__all__: list[str] = []
