"""A crowded account, paged like AWS: IAM's listings, the crowd endpoint and the call latency.

One emulator of its own (module scope), so the thousands of other teams' resources made here
never show in the other tests' listings.
"""
from __future__ import annotations

import subprocess
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import conftest
from conftest import REGION, start_server

TEAM_ROLES = 150
TEAM_POLICIES = 120


def control(url, method, path, doc=None):
    # Making a crowd of thousands of roles takes longer than conftest's 10 s.
    return conftest.control(url, method, path, doc, timeout=60)


@pytest.fixture(scope="module")
def crowded(tmp_path_factory):
    proc, port, _, _ = start_server(str(tmp_path_factory.mktemp("crowded")))
    url = f"http://127.0.0.1:{port}"
    status, made = control(url, "POST", "/_medtech/crowd", {
        "team": "billing", "environment": "prod", "roles": TEAM_ROLES,
        "policies": TEAM_POLICIES, "alarms": 3, "secrets": 2, "log_groups": 4})
    assert status == 200, made
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def client(url, service):
    return boto3.session.Session(region_name=REGION).client(
        service, endpoint_url=url, config=Config(retries={"max_attempts": 1, "mode": "standard"}))


def pages(call, key, **kwargs):
    """Every page of a Marker-paged IAM call: [(entries, IsTruncated)]."""
    out, marker = [], None
    while True:
        page = call(**kwargs, **({"Marker": marker} if marker else {}))
        out.append(page)
        if not page["IsTruncated"]:
            return out
        assert page["Marker"], page
        marker = page["Marker"]


def test_authorization_details_page_like_aws(crowded):
    iam = client(crowded, "iam")
    got = pages(iam.get_account_authorization_details, "RoleDetailList",
                Filter=["Role", "LocalManagedPolicy"])
    # 270 entries, 100 a page by default, counted across the role and policy lists.
    sizes = [len(p["RoleDetailList"]) + len(p["Policies"]) for p in got]
    assert sizes == [100, 100, 70], sizes
    assert [p["IsTruncated"] for p in got] == [True, True, False]
    roles = [r["RoleName"] for p in got for r in p["RoleDetailList"]]
    policies = [p2["Arn"].rsplit("/", 1)[1] for p in got for p2 in p["Policies"]]
    assert sorted(roles) == [f"billing-role-{n:05d}" for n in range(TEAM_ROLES)]
    assert sorted(policies) == [f"billing-policy-{n:05d}" for n in range(TEAM_POLICIES)]
    # Each role still carries its attachment and each policy its default document.
    first = next(r for p in got for r in p["RoleDetailList"] if r["RoleName"] == "billing-role-00000")
    assert [a["PolicyName"] for a in first["AttachedManagedPolicies"]] == ["billing-policy-00000"]
    assert all(any(v["IsDefaultVersion"] and v["Document"] for v in pol["PolicyVersionList"])
               for p in got for pol in p["Policies"])

    one = iam.get_account_authorization_details(Filter=["Role", "LocalManagedPolicy"], MaxItems=1000)
    assert not one["IsTruncated"] and "Marker" not in one
    assert len(one["RoleDetailList"]) + len(one["Policies"]) == TEAM_ROLES + TEAM_POLICIES
    with pytest.raises(ClientError) as err:  # (botocore itself refuses 0)
        iam.get_account_authorization_details(MaxItems=1001)
    assert err.value.response["Error"]["Code"] == "ValidationError"


def test_roles_and_policies_list_100_a_page(crowded):
    iam = client(crowded, "iam")
    roles = pages(iam.list_roles, "Roles")
    assert [len(p["Roles"]) for p in roles] == [100, 50]
    policies = pages(iam.list_policies, "Policies", Scope="Local")
    assert [len(p["Policies"]) for p in policies] == [100, 20]
    assert len(iam.list_roles(MaxItems=7)["Roles"]) == 7


def test_crowd_tags_every_resource_with_the_teams_environment(crowded):
    tagging = client(crowded, "resourcegroupstaggingapi")
    found = tagging.get_resources(
        TagFilters=[{"Key": "Environment", "Values": ["prod"]}], ResourcesPerPage=100,
        ResourceTypeFilters=["logs", "cloudwatch"])["ResourceTagMappingList"]
    arns = sorted(m["ResourceARN"] for m in found)
    assert sum(":alarm:" in a for a in arns) == 3 and sum(":log-group:" in a for a in arns) == 4, arns
    secrets = client(crowded, "secretsmanager").list_secrets()["SecretList"]
    assert sorted(s["Name"] for s in secrets) == ["billing-secret-00000", "billing-secret-00001"]
    assert {"Key": "Team", "Value": "billing"} in secrets[0]["Tags"]


def test_crowd_refuses_what_it_cannot_make(crowded):
    status, reply = control(crowded, "POST", "/_medtech/crowd", {"team": "billing", "roles": 1})
    assert status == 409 and "EntityAlreadyExists" in reply["error"], reply
    for bad in ({"rolls": 1}, {"roles": -1}, {"roles": 10**6}, {"team": "Billing Team"}, [1]):
        status, reply = control(crowded, "POST", "/_medtech/crowd", bad)
        assert status == 400, (bad, reply)


def test_every_call_waits_the_call_latency(crowded):
    from medtech_emulator.behaviour import Behaviour, BehaviourError

    with pytest.raises(BehaviourError):
        Behaviour.parse({"call_latency": 11})
    with pytest.raises(BehaviourError):
        Behaviour.parse({"call_latency": -0.1})
    iam = client(crowded, "iam")
    iam.get_role(RoleName="billing-role-00001")  # warm: the first call builds the backend

    def timed(call):
        started = time.monotonic()
        call()
        return time.monotonic() - started

    # Far above what one call takes on a loaded machine (0.7 s seen on CI), so that the upper
    # bounds below hold there as surely as the lower one.
    latency = 2.0
    fast = timed(lambda: iam.get_role(RoleName="billing-role-00001"))
    status, behaviour = control(crowded, "POST", "/_medtech/behaviour", {"call_latency": latency})
    assert status == 200 and behaviour["call_latency"] == latency
    try:
        slow = timed(lambda: iam.get_role(RoleName="billing-role-00001"))
        assert slow >= latency > fast, (fast, slow)
        # The control endpoints answer at once.
        assert timed(lambda: control(crowded, "GET", "/_medtech/stats")) < latency
    finally:
        control(crowded, "POST", "/_medtech/behaviour", {})
    assert timed(lambda: iam.get_role(RoleName="billing-role-00001")) < latency
