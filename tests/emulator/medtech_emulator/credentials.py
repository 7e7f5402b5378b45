"""What AWS keeps about credentials: the tokens and passwords a resource accepts now.

AWS never returns a Redis AUTH token or an RDS master password, so a test cannot read back
what a rotation left behind. The emulator keeps it and answers two control routes
(behaviour_front.py):

* ``POST /_medtech/credentials/check`` -- does the replication group or DB instance accept
  this candidate now, and how many does it accept (:func:`check`);
* ``POST /_medtech/secrets/backdate`` -- make a secret's versions N days old (:func:`backdate`).

Where each thing lives:

* a replication group's accepted AUTH tokens, oldest first, in ``_medtech_auth_tokens``
  (patches_elasticache.py sets them; lifecycle.py holds a change back while the group is
  ``modifying``);
* a DB instance's master password in moto's own ``_master_user_password`` (lifecycle.py
  holds a new one back while the instance is ``resetting-master-credentials``);
* a secret version's dates in moto's version dict (``createdate``) and ``LAST_ACCESSED``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

DEFAULT_ACCOUNT = "123456789012"
TOKENS = "_medtech_auth_tokens"
# Epoch seconds of the last GetSecretValue of a version (AWS reports it by the day).
LAST_ACCESSED = "medtech_last_accessed"
DAY = 86400
_ARN = re.compile(r"^arn:aws[a-z-]*:[a-z-]+:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):")


class CredentialsError(ValueError):
    """The control request is invalid (the message says why)."""


# ---------------------------------------------------------------- Redis AUTH
def redis_tokens(rg) -> tuple[str, ...]:
    return tuple(getattr(rg, TOKENS, ()))


def next_tokens(current: tuple[str, ...], strategy: str, token: str) -> tuple[str, ...]:
    """The tokens a group accepts after ``strategy`` with ``token``.

    ROTATE keeps the current token(s) and adds the new one; with two already, the oldest is
    dropped (a group accepts at most two). SET keeps only the new one.
    """
    if strategy == "SET":
        return (token,)
    kept = tuple(t for t in current if t != token)
    return (*kept[-1:], token)


@dataclass(frozen=True)
class RedisAuth:
    """Everything a token change touches, on the group and its member clusters."""
    tokens: tuple[str, ...]
    enabled: bool
    modified: Any
    members: tuple[tuple[Any, bool, Any], ...]


def redis_auth(backend, rg) -> RedisAuth:
    members = tuple((c, c.auth_token_enabled, c.auth_token_last_modified_date)
                    for c in _members(backend, rg))
    return RedisAuth(redis_tokens(rg), bool(rg.auth_token_enabled),
                     rg.auth_token_last_modified_date, members)


def restore_redis_auth(auth: RedisAuth, rg) -> None:
    setattr(rg, TOKENS, auth.tokens)
    rg.auth_token_enabled = auth.enabled
    rg.auth_token_last_modified_date = auth.modified
    for cluster, enabled, modified in auth.members:
        cluster.auth_token_enabled = enabled
        cluster.auth_token_last_modified_date = modified


def set_redis_tokens(backend, rg, tokens: tuple[str, ...]) -> None:
    """The group (and its members) accept ``tokens`` from now on."""
    from moto.core.utils import utcnow

    now = utcnow() if tokens else None
    setattr(rg, TOKENS, tuple(tokens))
    rg.auth_token_enabled = bool(tokens)
    rg.auth_token_last_modified_date = now
    for cluster in _members(backend, rg):
        cluster.auth_token_enabled = bool(tokens)
        cluster.auth_token_last_modified_date = now


def _members(backend, rg) -> list:
    return [backend.cache_clusters[c] for c in rg.member_clusters if c in backend.cache_clusters]


# ------------------------------------------------------------- control routes
def check(doc: Any) -> dict | None:
    """``{"accepted", "accepted_count"}`` for the candidate, or None if there is no such
    resource."""
    service, rid, value = _fields(doc, ("service", "id", "value"))
    if service == "redis":
        found = _find(doc, "elasticache", rid, lambda b: b.replication_groups.get(rid))
        if found is None:
            return None
        accepted = redis_tokens(found[1])
    elif service == "rds":
        found = _find(doc, "rds", rid, lambda b: b.databases.get(rid))
        if found is None:
            return None
        password = getattr(found[1], "_master_user_password", None)
        accepted = (password,) if password is not None else ()
    else:
        raise CredentialsError('service must be "redis" or "rds"')
    return {"accepted": value in accepted, "accepted_count": len(accepted)}


def backdate(doc: Any) -> int | None:
    """Moves every date of the secret ``days`` into the past; the number of versions, or None
    if there is no such secret."""
    (secret_id,) = _fields(doc, ("secret_id",))
    days = doc.get("days")
    if isinstance(days, bool) or not isinstance(days, (int, float)) or days < 0:
        raise CredentialsError("days must be a number >= 0")
    found = _find(doc, "secretsmanager", secret_id, lambda b: b.secrets.get(secret_id))
    if found is None:
        return None
    secret = found[1]
    shift = int(days * DAY)
    for version in secret.versions.values():
        version["createdate"] -= shift
        if version.get(LAST_ACCESSED) is not None:
            version[LAST_ACCESSED] -= shift
    for name in ("created_date", "last_changed_date", "last_rotation_date"):
        if getattr(secret, name, None) is not None:
            setattr(secret, name, getattr(secret, name) - shift)
    return len(secret.versions)


def _fields(doc: Any, names: tuple[str, ...]) -> tuple[str, ...]:
    if not isinstance(doc, dict):
        raise CredentialsError("the body must be a JSON object")
    values = []
    for name in names:
        value = doc.get(name)
        if not isinstance(value, str) or not value:
            raise CredentialsError(f"{name} must be a non-empty string")
        values.append(value)
    return tuple(values)


def _find(doc: dict, service: str, ident: str, lookup) -> tuple[Any, Any] | None:
    """(backend, resource) in the account and region the request names (those of ``ident``
    when it is an ARN, else ``account``/``region``, else every region the account has used)."""
    from moto.backends import get_backend

    arn = _ARN.match(ident)
    account = arn["account"] if arn else str(doc.get("account") or DEFAULT_ACCOUNT)
    region = arn["region"] if arn else doc.get("region")
    regions = get_backend(service)[account]
    backends = [regions[region]] if region else list(dict.values(regions))
    for backend in backends:
        resource = lookup(backend)
        if resource is not None:
            return backend, resource
    return None
