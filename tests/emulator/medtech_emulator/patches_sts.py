"""STS: the caller's ARN as AWS spells it.

Real-AWS behaviour reproduced (moto 5.2.5 differs):

* ``GetCallerIdentity`` names an IAM user ``arn:aws:iam::ACCOUNT:user/NAME``: only role
  sessions (``arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION``) and federated users have an
  ``sts`` ARN.  moto answers credentials it does not know (the tests' ``testing`` keys) with
  ``arn:aws:sts::ACCOUNT:user/moto``, an ARN no AWS principal has, which medtech then writes
  into its secrets' resource policies.  Here that is ``arn:aws:iam::ACCOUNT:user/moto``; role
  sessions and real IAM users keep moto's (already right) answers.
"""
from __future__ import annotations

import functools
import re

# An `sts` ARN of an IAM user: what moto makes up for credentials it does not know.
_STS_USER = re.compile(r"^arn:(?P<partition>[^:]+):sts::(?P<account>\d{12}):user/(?P<name>.+)$")


def iam_arn(arn: str) -> str:
    """``arn`` with an IAM user's ``sts`` ARN spelled as IAM's, anything else unchanged."""
    match = _STS_USER.match(arn)
    if match is None:
        return arn
    return f"arn:{match['partition']}:iam::{match['account']}:user/{match['name']}"


def apply() -> None:
    from moto.sts.models import STSBackend

    orig = STSBackend.get_caller_identity

    @functools.wraps(orig)
    def get_caller_identity(self, access_key_id, region):
        user_id, arn, account_id = orig(self, access_key_id, region)
        return user_id, iam_arn(arn), account_id

    STSBackend.get_caller_identity = get_caller_identity
