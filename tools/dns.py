"""`dns_lookup`: resolve a hostname with the system resolver (read-only, no subprocess)."""

from __future__ import annotations

import asyncio
import socket
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

from tools.errors import ToolFailed
from tools.registry import Risk, ToolContext

__all__ = ["DnsLookup", "Hostname"]

Hostname = Annotated[
    str,
    StringConstraints(
        min_length=1,
        max_length=253,
        pattern=r"^([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$",
    ),
]


class DnsArgs(BaseModel):
    """A hostname and the address family to resolve."""

    model_config = ConfigDict(extra="forbid")
    name: Hostname
    record_type: Literal["A", "AAAA"] = "A"


class DnsLookup:
    """Resolves a hostname to its addresses."""

    name: ClassVar[str] = "dns_lookup"
    description: ClassVar[str] = "Resolve a hostname to its IPv4 (A) or IPv6 (AAAA) addresses."
    risk: ClassVar[Risk] = Risk.READ
    timeout_s: ClassVar[float] = 5.0
    Args: ClassVar[type[BaseModel]] = DnsArgs

    async def run(self, args: BaseModel, ctx: ToolContext) -> str:
        assert isinstance(args, DnsArgs)
        family = socket.AF_INET if args.record_type == "A" else socket.AF_INET6
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(args.name, None, family=family, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise ToolFailed(f"dns_lookup {args.name}: {exc.strerror}", tool=self.name) from None
        addresses = sorted({str(info[4][0]) for info in infos})
        return f"{args.name} {args.record_type}: " + ", ".join(addresses)
