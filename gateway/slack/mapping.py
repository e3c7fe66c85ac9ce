"""Mapping Slack to the gateway's tenants and keys (`netops slack map ...`).

A channel maps to one tenant; a user maps to a new gateway key of one tenant and role, created here, whose
key material goes only to the keys file (`keys.KeyFile`, mode 0600). Re-mapping a user revokes their old key.

Example:
    map_user(tenants, store, keys, team="T1", user="U1", tenant="demo", role="approver")
"""

from __future__ import annotations

from gateway.slack.keys import KeyFile
from gateway.slack.store import SlackStore, SlackUser
from gateway.tenants import Role, Tenants

__all__ = ["map_channel", "map_user", "unmap_user"]


def map_channel(tenants: Tenants, store: SlackStore, *, team: str, channel: str, tenant: str) -> None:
    if not tenants.exists(tenant):
        raise ValueError(f"tenant {tenant!r} does not exist")
    store.map_channel(team, channel, tenant)


def map_user(
    tenants: Tenants, store: SlackStore, keys: KeyFile, *, team: str, user: str, tenant: str, role: str
) -> SlackUser:
    """A fresh key of `tenant` and `role` for the Slack user (the previous one, if any, is revoked)."""
    if Role(role) is Role.OPERATOR:
        raise ValueError("a Slack user cannot hold the platform operator role")
    previous = store.user(team, user)
    issued = tenants.create_key(tenant, label=f"slack:{team}/{user}", role=role)
    keys.put(issued.key_id, issued.plaintext)
    store.map_user(team, user, tenant=tenant, role=role, key_id=issued.key_id)
    if previous is not None:
        _forget(tenants, keys, previous)
    mapped = store.user(team, user)
    assert mapped is not None
    return mapped


def unmap_user(tenants: Tenants, store: SlackStore, keys: KeyFile, *, team: str, user: str) -> bool:
    previous = store.unmap_user(team, user)
    if previous is not None:
        _forget(tenants, keys, previous)
    return previous is not None


def _forget(tenants: Tenants, keys: KeyFile, user: SlackUser) -> None:
    tenants.revoke_key(user.key_id)
    keys.remove(user.key_id)
