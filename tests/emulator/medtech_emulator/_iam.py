"""Find a moto IAM role by ARN while other requests create roles."""
from __future__ import annotations


def find_role(account_id: str, arn: str | None):
    """The moto IAM ``Role`` at ``arn``, or ``None`` when there is none.

    moto's own ``get_role_by_arn`` walks its live dict of roles, and a role that a concurrent
    request creates resizes that dict mid-walk (``RuntimeError``), which a caller that takes
    any error for "no such role" would report as a missing role: AWS Backup refusing a role
    that exists and trusts it. ``list`` copies the roles in one step under the GIL.
    """
    from moto.iam.models import iam_backends

    if not arn:
        return None
    roles = list(iam_backends[account_id]["global"].roles.values())
    return next((role for role in roles if role.arn == arn), None)
