"""Grants: deny by default; per tenant, per role, per tool.

A key may call a tool only if (1) its tenant's grant list names the tool and (2) its role may use it:
the tenant's inventory file maps roles to tools (`"*"` = every tool); a tenant without a role map lets
every role use its granted `read` tools and only `admin` its `change` tools.

Example:
    effective_grants({"bgp_summary", "interface_shutdown"}, "user", inventory.for_tenant("demo"), risks)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tools.inventory import TenantInventory
from tools.registry import Risk

__all__ = ["effective_grants"]


def effective_grants(
    tenant_tools: Iterable[str], role: str, tenant: TenantInventory, risks: Mapping[str, Risk]
) -> frozenset[str]:
    """The tools one key may call: the tenant's grants narrowed by its role; unknown tools are dropped."""
    granted = [t for t in tenant_tools if t in risks]
    if tenant.roles:
        allowed = tenant.roles.get(role, [])
        return frozenset(t for t in granted if "*" in allowed or t in allowed)
    return frozenset(t for t in granted if risks[t] is Risk.READ or role == "admin")
