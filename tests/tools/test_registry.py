"""The tool registry: grants, argument validation before anything runs, time limits."""

from __future__ import annotations

import asyncio

import pytest

from tools import DnsLookup, InvalidArguments, ToolContext, ToolNotAllowed, ToolRegistry

CTX = ToolContext("acme", frozenset({"dns_lookup"}))


def test_dns_lookup_runs_when_granted() -> None:
    result = asyncio.run(ToolRegistry([DnsLookup()]).invoke("dns_lookup", '{"name": "localhost"}', CTX))
    assert "127.0.0.1" in result.output and result.arguments == {"name": "localhost", "record_type": "A"}


@pytest.mark.parametrize(
    "arguments",
    [
        '{"name": "example.net; reboot"}',
        '{"name": "$(id)"}',
        "{not json",
        '{"name": "ok.net", "extra": 1}',
        '{"name": ""}',
    ],
)
def test_bad_arguments_are_refused_before_running(arguments: str) -> None:
    with pytest.raises(InvalidArguments):
        asyncio.run(ToolRegistry([DnsLookup()]).invoke("dns_lookup", arguments, CTX))


def test_ungranted_or_unknown_tools_are_refused() -> None:
    registry = ToolRegistry([DnsLookup()])
    with pytest.raises(ToolNotAllowed):
        asyncio.run(registry.invoke("dns_lookup", '{"name": "localhost"}', ToolContext("b", frozenset())))
    with pytest.raises(ToolNotAllowed):
        asyncio.run(registry.invoke("configure_terminal", "{}", CTX))
    assert registry.schemas(["dns_lookup"])[0]["function"]["parameters"]["properties"]["name"]
