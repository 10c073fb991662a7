"""Upgrade authorization (spec §3): bearer token, optional query token, Origin allow-list."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from spiderweb.transport.routing import Reject


@dataclass(frozen=True, slots=True)
class AuthPolicy:
    """``token`` ``None`` means no auth (only allowed on loopback, checked at startup)."""

    token: str | None = None
    allow_query_token: bool = False
    allowed_origins: frozenset[str] = frozenset()


def check_upgrade(
    policy: AuthPolicy,
    authorization: str | None,
    origin: str | None,
    query_token: str | None,
) -> Reject | None:
    """``None`` if the upgrade may proceed, else the 401/403 to answer."""
    if origin is not None and policy.allowed_origins and origin not in policy.allowed_origins:
        return Reject(403, "origin not allowed: add it to server.allowed_origins")
    if policy.token is None:
        return None
    expected = policy.token.encode("utf-8")
    if authorization is not None:
        scheme, _, credential = authorization.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            credential.strip().encode("utf-8"), expected
        ):
            return None
    if (
        policy.allow_query_token
        and query_token is not None
        and hmac.compare_digest(query_token.encode("utf-8"), expected)
    ):
        return None
    return Reject(401, "unauthorized: send 'Authorization: Bearer <token>'")
