"""Resolve a KMS key reference the way AWS services do, against moto's KMS backend."""
from __future__ import annotations

import re

KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):key/(?P<id>[A-Za-z0-9-]+)$")
ALIAS_ARN = re.compile(r"^arn:aws[a-z-]*:kms:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):(?P<alias>alias/.+)$")


def find_key(account_id: str, region: str, ref: str, allow_alias: bool = True):
    """The moto KMS ``Key`` that ``ref`` names, or ``None``.

    ``ref`` may be a key id, a key ARN, and (when ``allow_alias``) an alias
    name (``alias/x``) or an alias ARN.  ARNs are looked up in the account and
    region they name, so a key of another region is "not found" from
    ``region``'s point of view unless the caller checks the ARN's region.
    """
    from moto.kms.models import kms_backends

    if not ref:
        return None
    key_account, key_region, key_ref = account_id, region, ref
    m = KEY_ARN.match(ref)
    if m:
        key_account, key_region, key_ref = m["account"], m["region"], m["id"]
    else:
        m = ALIAS_ARN.match(ref)
        if m:
            if not allow_alias:
                return None
            key_account, key_region, key_ref = m["account"], m["region"], m["alias"]
        elif ref.startswith("alias/") and not allow_alias:
            return None
        elif ref.startswith("arn:"):
            return None
    if key_region != region:
        return None
    try:
        backend = kms_backends[key_account][key_region]
        if key_ref.startswith("alias/"):
            key_id = backend.get_key_id_from_alias(key_ref)
            if key_id is None:
                return None
            key_ref = key_id
        return backend.keys.get(key_ref)
    except Exception:  # noqa: BLE001 - unknown account/region/alias: not found
        return None


def usable(key) -> bool:
    """A key a service can encrypt with: enabled symmetric encryption key."""
    # moto leaves key_usage None when CreateKey did not name it (AWS default:
    # ENCRYPT_DECRYPT), likewise key_spec.
    return (key is not None and getattr(key, "key_state", "Enabled") == "Enabled"
            and (getattr(key, "key_usage", None) or "ENCRYPT_DECRYPT") == "ENCRYPT_DECRYPT"
            and (getattr(key, "key_spec", None) or "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT")


def default_service_key_arn(account_id: str, region: str, alias: str) -> str:
    """ARN of the AWS managed key ``alias`` (e.g. ``alias/aws/rds``), created on first use."""
    from moto.kms.models import kms_backends

    backend = kms_backends[account_id][region]
    return backend.describe_key(alias).arn
