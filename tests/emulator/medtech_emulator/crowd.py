"""Crowding an account: what other teams own in a shared account, made in one request.

    POST /_medtech/crowd {"team": "billing", "environment": "prod", "roles": 1500,
                          "policies": 1500, "alarms": 50, "secrets": 50, "log_groups": 50}

Health-tech companies often run shared accounts with thousands of IAM roles. A client whose
reads list whole kinds of the account (``GetAccountAuthorizationDetails``, an unfiltered
``ListRoles``, a tag filter other teams match too) is then slower and throttled more than in
an empty one; the benchmark and the tests measure that against a crowded account.

Everything is made straight in moto's backends (through the patched methods, so every rule
still holds): thousands of SDK calls would take minutes. Nothing is counted in the stats.
Names are ``<team>-<kind>-<n>``, so a second request with another ``team`` adds more. Every
resource is tagged ``Team=<team>`` and ``Environment=<environment>``: other teams use the same
environment names, and a filter on ``Environment`` alone matches their resources too. Each
policy is attached to the role of the same number, when there is one.
"""
from __future__ import annotations

import json
import re
from typing import Any

# Counts as one request's worth: enough for the benchmark's 1,500 of each, small enough that a
# typo cannot hang the server.
LIMITS = {"roles": 5000, "policies": 5000, "alarms": 1000, "secrets": 1000, "log_groups": 1000}
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


class CrowdError(ValueError):
    """The request is invalid (the message says why)."""


def _spec(doc: Any) -> dict:
    if not isinstance(doc, dict):
        raise CrowdError("the body must be a JSON object")
    unknown = sorted(set(doc) - set(LIMITS) - {"team", "environment", "account", "region"})
    if unknown:
        raise CrowdError(f"unknown field(s): {', '.join(unknown)}; known: team, environment, "
                         f"account, region, {', '.join(LIMITS)}")
    spec = {"team": doc.get("team", "other-team"), "environment": doc.get("environment", "prod"),
            "account": str(doc.get("account", "123456789012")),
            "region": doc.get("region", "us-east-1")}
    for key in ("team", "environment"):
        if not isinstance(spec[key], str) or not _NAME.match(spec[key]):
            raise CrowdError(f"{key} must be 1-32 lower-case letters, digits or '-'")
    for key, limit in LIMITS.items():
        value = doc.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
            raise CrowdError(f"{key} must be an integer from 0 to {limit}, got {json.dumps(value)}")
        spec[key] = value
    return spec


def crowd(doc: Any) -> dict:
    """Makes what ``doc`` asks for; returns how many of each were made."""
    from moto.cloudwatch.models import cloudwatch_backends
    from moto.iam.models import iam_backends
    from moto.logs.models import logs_backends
    from moto.secretsmanager.models import secretsmanager_backends

    spec = _spec(doc)
    team, account, region = spec["team"], spec["account"], spec["region"]
    tags = {"Team": team, "Environment": spec["environment"]}
    tag_list = [{"Key": k, "Value": v} for k, v in tags.items()]

    iam = iam_backends[account]["global"]
    roles = [iam.create_role(f"{team}-role-{n:05d}", TRUST, "/", None, f"{team} service role",
                             tag_list, None)
             for n in range(spec["roles"])]
    for n in range(spec["policies"]):
        document = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject",
             "Resource": f"arn:aws:s3:::{team}-bucket-{n:05d}/*"}]})
        policy = iam.create_policy(f"{team} policy", "/", document, f"{team}-policy-{n:05d}",
                                   tag_list)
        if n < len(roles):
            iam.attach_role_policy(policy.arn, roles[n].name)

    cloudwatch = cloudwatch_backends[account][region]
    for n in range(spec["alarms"]):
        cloudwatch.put_metric_alarm(
            name=f"{team}-alarm-{n:05d}", namespace="AWS/EC2", metric_name="CPUUtilization",
            comparison_operator="GreaterThanThreshold", evaluation_periods=1, period=300,
            threshold=80.0, statistic="Average", description=f"{team} alarm", dimensions=[],
            alarm_actions=[], tags=tag_list)

    secrets = secretsmanager_backends[account][region]
    for n in range(spec["secrets"]):
        secrets.create_secret(name=f"{team}-secret-{n:05d}", secret_string="not-a-secret",
                              secret_binary=None, description=f"{team} secret", tags=tag_list,
                              kms_key_id=None, client_request_token=None, replica_regions=[],
                              force_overwrite=False)

    logs = logs_backends[account][region]
    for n in range(spec["log_groups"]):
        logs.create_log_group(f"/{team}/{spec['environment']}/group-{n:05d}", dict(tags))

    return {key: spec[key] for key in ("team", "environment", "account", "region", *LIMITS)}
