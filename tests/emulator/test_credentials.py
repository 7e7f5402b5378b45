"""Proof that the emulator keeps what AWS keeps about credentials, and tells a test.

Redis AUTH tokens and RDS master passwords are never returned by AWS, so these tests ask the
control route ``POST /_medtech/credentials/check`` what a resource accepts now. Secret
versions are checked through the Secrets Manager API, made old with
``POST /_medtech/secrets/backdate``. The model-off tests share the session emulator
(conftest); the latency tests start their own server with a small ``time_scale``.
"""
from __future__ import annotations

import json
import subprocess
import time
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import REGION, clock_stopped, control, start_server

ACCOUNT = "123456789012"
TOKEN_A, TOKEN_B, TOKEN_C, TOKEN_D = ("Token-A-0123456789", "Token-B-0123456789",
                                      "Token-C-0123456789", "Token-D-0123456789")
SCALE = 0.01
# Unscaled seconds. A modification lasts 1.5 s and its lag 1 s: room for the three calls
# made in each, even on a loaded machine (test_behaviour.py allows 0.3 s a call).
DURATIONS = {"redis_create": 10, "redis_modify": 150, "rds_create": 10, "rds_modify": 150,
             "modify_lag": 100}
LATENCY = {"time_scale": SCALE, "durations": {k: v for k, v in DURATIONS.items()
                                              if k != "modify_lag"}}
LAGGED = {"time_scale": SCALE, "durations": DURATIONS}


# ================================================================== plumbing
def accepts(url, service, rid, value):
    """(accepted, accepted_count) of ``value`` at the resource, as the emulator holds it."""
    status, body = control(url, "POST", "/_medtech/credentials/check",
                           {"service": service, "id": rid, "value": value})
    assert status == 200, body
    return body["accepted"], body["accepted_count"]


def code_of(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def wait_for(fetch, goal, timeout=10.0):
    """Poll ``fetch`` until it returns ``goal``; return the distinct values seen."""
    seen = []
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if not seen or seen[-1] != value:
            seen.append(value)
        if value == goal:
            return seen
        assert time.monotonic() < deadline, f"still {value} after {timeout}s (seen {seen})"
        time.sleep(0.05)


def redis_group(cache, rid, token=TOKEN_A, tls=True):
    args = {"AuthToken": token} if token else {}
    return cache.create_replication_group(
        ReplicationGroupId=rid, ReplicationGroupDescription="d", Engine="redis",
        CacheNodeType="cache.t3.micro", NumCacheClusters=2, TransitEncryptionEnabled=tls,
        **args)["ReplicationGroup"]


def rotate(cache, rid, token, strategy="ROTATE"):
    args = {"AuthTokenUpdateStrategy": strategy} if strategy else {}
    return cache.modify_replication_group(ReplicationGroupId=rid, AuthToken=token,
                                          ApplyImmediately=True, **args)["ReplicationGroup"]


def db_instance(rds, name, password="first-password"):
    return rds.create_db_instance(
        DBInstanceIdentifier=name, DBInstanceClass="db.t3.micro", Engine="postgres",
        MasterUsername="postgres", MasterUserPassword=password,
        AllocatedStorage=20)["DBInstance"]


# ====================================================================== Redis
def test_redis_group_accepts_one_or_two_tokens_as_rotated(emulator, aws, uid):
    cache, rid = aws("elasticache"), f"medtech-redis-{uid}"
    created = redis_group(cache, rid)
    assert created["AuthTokenEnabled"] is True
    assert accepts(emulator, "redis", rid, TOKEN_A) == (True, 1)
    assert accepts(emulator, "redis", rid, TOKEN_B) == (False, 1)

    # ROTATE: the current token and the new one.
    rotated = rotate(cache, rid, TOKEN_B)
    assert rotated["AuthTokenLastModifiedDate"] >= created["AuthTokenLastModifiedDate"]
    assert accepts(emulator, "redis", rid, TOKEN_A) == (True, 2)
    assert accepts(emulator, "redis", rid, TOKEN_B) == (True, 2)
    # Never more than two: a third rotation drops the oldest.
    rotate(cache, rid, TOKEN_C)
    assert [accepts(emulator, "redis", rid, t) for t in (TOKEN_A, TOKEN_B, TOKEN_C)] == [
        (False, 2), (True, 2), (True, 2)]
    # SET: only the new one.
    rotate(cache, rid, TOKEN_D, "SET")
    assert [accepts(emulator, "redis", rid, t) for t in (TOKEN_B, TOKEN_C, TOKEN_D)] == [
        (False, 1), (False, 1), (True, 1)]
    # No strategy is ROTATE, AWS's default.
    rotate(cache, rid, TOKEN_A, None)
    assert accepts(emulator, "redis", rid, TOKEN_D) == (True, 2)
    assert accepts(emulator, "redis", rid, TOKEN_A) == (True, 2)

    member = cache.describe_cache_clusters(CacheClusterId=f"{rid}-001")["CacheClusters"][0]
    group = cache.describe_replication_groups(ReplicationGroupId=rid)["ReplicationGroups"][0]
    assert member["AuthTokenEnabled"] is True
    assert member["AuthTokenLastModifiedDate"] == group["AuthTokenLastModifiedDate"]
    assert group["Status"] == "available" and not group.get("PendingModifiedValues")


@pytest.mark.parametrize("tls, token, args, code", [
    (True, TOKEN_A, {"AuthToken": "too-short"}, "InvalidParameterValue"),
    (True, TOKEN_A, {"AuthToken": "has/a/slash/0123456789"}, "InvalidParameterValue"),
    (False, None, {"AuthToken": TOKEN_B}, "InvalidParameterValue"),
    (True, TOKEN_A, {"AuthTokenUpdateStrategy": "ROTATE"}, "InvalidParameterCombination"),
    (True, TOKEN_A, {"AuthToken": TOKEN_B, "AuthTokenUpdateStrategy": "REPLACE"},
     "InvalidParameterValue"),
    (True, None, {"AuthToken": TOKEN_B, "AuthTokenUpdateStrategy": "SET"},
     "InvalidParameterValue"),
    (True, TOKEN_A, {"AuthToken": TOKEN_B, "AuthTokenUpdateStrategy": "DELETE",
                     "UserGroupIdsToAdd": ["app"]}, "InvalidParameterCombination"),
    (True, TOKEN_A, {"AuthTokenUpdateStrategy": "DELETE"}, "InvalidParameterCombination"),
    (True, None, {"AuthTokenUpdateStrategy": "DELETE", "UserGroupIdsToAdd": ["app"]},
     "InvalidParameterValue"),
    (True, TOKEN_A, {"UserGroupIdsToAdd": ["app"]}, "InvalidParameterCombination"),
], ids=["short", "slash", "no-tls", "strategy-alone", "unknown-strategy", "set-without-auth",
        "delete-with-token", "delete-without-rbac", "delete-without-auth", "rbac-without-delete"])
def test_redis_token_changes_are_validated(aws, uid, tls, token, args, code):
    cache, rid = aws("elasticache"), f"medtech-redis-{uid}"
    redis_group(cache, rid, token, tls)
    with pytest.raises(ClientError) as err:
        cache.modify_replication_group(ReplicationGroupId=rid, ApplyImmediately=True, **args)
    assert code_of(err) == code, err.value.response["Error"]


def test_redis_delete_strategy_moves_to_rbac(emulator, aws, uid):
    cache, rid = aws("elasticache"), f"medtech-redis-{uid}"
    redis_group(cache, rid)
    group = cache.modify_replication_group(
        ReplicationGroupId=rid, AuthTokenUpdateStrategy="DELETE", UserGroupIdsToAdd=["app"],
        ApplyImmediately=True)["ReplicationGroup"]
    assert group["AuthTokenEnabled"] is False and group["UserGroupIds"] == ["app"]
    assert accepts(emulator, "redis", rid, TOKEN_A) == (False, 0)


def test_credentials_check_answers_404_and_400(emulator, uid):
    status, body = control(emulator, "POST", "/_medtech/credentials/check",
                           {"service": "redis", "id": f"nothing-{uid}", "value": TOKEN_A})
    assert status == 404 and TOKEN_A not in body["error"], body
    status, body = control(emulator, "POST", "/_medtech/credentials/check",
                           {"service": "rds", "id": f"nothing-{uid}", "value": "x"})
    assert status == 404, body
    status, body = control(emulator, "POST", "/_medtech/credentials/check",
                           {"service": "kafka", "id": "x", "value": "x"})
    assert status == 400, body
    status, body = control(emulator, "POST", "/_medtech/nothing", {})
    assert status == 404 and "POST /_medtech/credentials/check" in body["endpoints"]
    assert "POST /_medtech/secrets/backdate" in body["endpoints"]


# ======================================================================== RDS
def test_rds_instance_accepts_its_latest_master_password(emulator, aws, uid):
    rds, name = aws("rds"), f"medtech-rds-{uid}"
    db_instance(rds, name)
    assert accepts(emulator, "rds", name, "first-password") == (True, 1)
    modified = rds.modify_db_instance(DBInstanceIdentifier=name, MasterUserPassword="second-one",
                                      ApplyImmediately=True)["DBInstance"]
    assert modified["DBInstanceStatus"] == "available"
    assert accepts(emulator, "rds", name, "second-one") == (True, 1)
    assert accepts(emulator, "rds", name, "first-password") == (False, 1)


# ============================================================ Secrets Manager
def test_secret_versions_keep_their_dates_and_labels(aws, uid):
    sm, name = aws("secretsmanager"), f"medtech-secret-{uid}"
    first, second, third = ("1" * 32, "2" * 32, "3" * 32)
    arn = sm.create_secret(Name=name, SecretString="v1", ClientRequestToken=first)["ARN"]
    time.sleep(1.1)  # a later version has a later CreatedDate (whole seconds)

    # AWSPENDING moves alone; AWSCURRENT stays.
    sm.put_secret_value(SecretId=name, SecretString="v2", ClientRequestToken=second,
                        VersionStages=["AWSPENDING"])
    sm.put_secret_value(SecretId=name, SecretString="v3", ClientRequestToken=third,
                        VersionStages=["AWSPENDING"])
    assert sm.describe_secret(SecretId=name)["VersionIdsToStages"] == {
        first: ["AWSCURRENT"], third: ["AWSPENDING"]}  # the unlabelled version is not listed

    listed = sm.list_secret_version_ids(SecretId=name)
    assert (listed["ARN"], listed["Name"]) == (arn, name)
    dates = {v["VersionId"]: v["CreatedDate"] for v in listed["Versions"]}
    assert set(dates) == {first, third} and dates[first] < dates[third]
    assert all("LastAccessedDate" not in v for v in listed["Versions"])
    everything = sm.list_secret_version_ids(SecretId=arn, IncludeDeprecated=True)["Versions"]
    assert {v["VersionId"]: v["VersionStages"] for v in everything} == {
        first: ["AWSCURRENT"], second: [], third: ["AWSPENDING"]}
    page = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True, MaxResults=2)
    rest = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True, MaxResults=2,
                                      NextToken=page["NextToken"])
    assert [v["VersionId"] for v in page["Versions"] + rest["Versions"]] == [first, second, third]
    assert "NextToken" not in rest

    # Retrying a put with the same token: the same value changes nothing, another is refused.
    again = sm.put_secret_value(SecretId=name, SecretString="v3", ClientRequestToken=third,
                                VersionStages=["AWSPENDING"])
    assert again["VersionId"] == third
    with pytest.raises(ClientError) as err:
        sm.put_secret_value(SecretId=name, SecretString="other", ClientRequestToken=third,
                            VersionStages=["AWSPENDING"])
    assert code_of(err) == "ResourceExistsException"
    assert sm.get_secret_value(SecretId=name, VersionId=third)["SecretString"] == "v3"
    with pytest.raises(ClientError) as err:
        sm.list_secret_version_ids(SecretId=f"nothing-{uid}")
    assert code_of(err) == "ResourceNotFoundException"

    read = sm.list_secret_version_ids(SecretId=name)["Versions"]
    accessed = {v["VersionId"]: v.get("LastAccessedDate") for v in read}
    assert accessed[third] is not None and accessed[third].hour == 0  # by the day
    assert accessed[first] is None


def test_update_secret_version_stage_moves_labels_as_aws_does(aws, uid):
    sm, name = aws("secretsmanager"), f"medtech-secret-{uid}"
    old, new = "a" * 32, "b" * 32
    sm.create_secret(Name=name, SecretString="old", ClientRequestToken=old)
    sm.put_secret_value(SecretId=name, SecretString="new", ClientRequestToken=new,
                        VersionStages=["AWSPENDING"])

    def refused(**kwargs):
        with pytest.raises(ClientError) as err:
            sm.update_secret_version_stage(SecretId=name, **kwargs)
        assert code_of(err) == "InvalidParameterException", err.value.response["Error"]

    # AWSCURRENT moves only from the version that holds it, named.
    refused(VersionStage="AWSCURRENT", MoveToVersionId=new)
    refused(VersionStage="AWSCURRENT", MoveToVersionId=new, RemoveFromVersionId=new)
    # So does any label (each is on one version at a time), and only a holder loses it.
    refused(VersionStage="AWSPENDING", MoveToVersionId=old)
    refused(VersionStage="AWSPENDING", RemoveFromVersionId=old)
    assert sm.describe_secret(SecretId=name)["VersionIdsToStages"] == {
        old: ["AWSCURRENT"], new: ["AWSPENDING"]}

    sm.update_secret_version_stage(SecretId=name, VersionStage="AWSCURRENT",
                                   MoveToVersionId=new, RemoveFromVersionId=old)
    assert sm.describe_secret(SecretId=name)["VersionIdsToStages"] == {
        old: ["AWSPREVIOUS"], new: ["AWSPENDING", "AWSCURRENT"]}
    current = sm.get_secret_value(SecretId=name)
    assert (current["VersionId"], current["SecretString"]) == (new, "new")
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == "old"

    sm.update_secret_version_stage(SecretId=name, VersionStage="AWSPENDING",
                                   RemoveFromVersionId=new)
    # A put that makes a new AWSCURRENT: the old current keeps its other labels.
    sm.update_secret_version_stage(SecretId=name, VersionStage="AWSPENDING", MoveToVersionId=new)
    newest = sm.put_secret_value(SecretId=name, SecretString="newest")["VersionId"]
    assert sm.describe_secret(SecretId=name)["VersionIdsToStages"] == {
        new: ["AWSPENDING", "AWSPREVIOUS"], newest: ["AWSCURRENT"]}


def test_backdate_makes_a_secret_old(emulator, aws, uid):
    sm, name = aws("secretsmanager"), f"medtech-secret-{uid}"
    arn = sm.create_secret(Name=name, SecretString="v1")["ARN"]
    sm.put_secret_value(SecretId=name, SecretString="v2")
    sm.get_secret_value(SecretId=name)
    before = sm.describe_secret(SecretId=name)
    versions = {v["VersionId"]: v for v in
                sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]}

    status, body = control(emulator, "POST", "/_medtech/secrets/backdate", {"secret_id": arn, "days": 30})
    assert (status, body) == (200, {"versions": 2})
    after = sm.describe_secret(SecretId=name)
    month = 30 * 86400
    for field in ("CreatedDate", "LastChangedDate", "LastAccessedDate"):
        assert (before[field] - after[field]).total_seconds() == month, field
    for version in sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]:
        was = versions[version["VersionId"]]
        assert (was["CreatedDate"] - version["CreatedDate"]).total_seconds() == month
    status, _ = control(emulator, "POST", "/_medtech/secrets/backdate", {"secret_id": name, "days": 1})
    assert status == 200
    status, body = control(emulator, "POST", "/_medtech/secrets/backdate",
                           {"secret_id": f"nothing-{uid}", "days": 1})
    assert status == 404, body
    status, body = control(emulator, "POST", "/_medtech/secrets/backdate", {"secret_id": name})
    assert status == 400, body


# ============================================================ latency model
@pytest.fixture(scope="module")
def slow(tmp_path_factory):
    """A server of its own, with the latency model on; yields (url, client factory)."""
    tmp = tmp_path_factory.mktemp("credentials")
    proc, port, _, _ = start_server(str(tmp), args=["--behaviour", json.dumps(LATENCY)])
    url = f"http://127.0.0.1:{port}"
    session = boto3.session.Session(region_name=REGION)
    config = Config(retries={"total_max_attempts": 1, "mode": "standard"})
    clients = {}

    def client(service):
        if service not in clients:
            clients[service] = session.client(service, endpoint_url=url, config=config)
        return clients[service]
    yield url, client
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def behave(url, doc):
    status, body = control(url, "POST", "/_medtech/behaviour", doc)
    assert status == 200, body


@pytest.mark.parametrize("behaviour", [LATENCY, LAGGED], ids=["modify", "modify_lag"])
def test_new_redis_tokens_apply_when_the_modification_ends(slow, uid, behaviour):
    url, aws = slow
    behave(url, behaviour)
    cache, rid = aws("elasticache"), f"medtech-redis-{uid}"
    redis_group(cache, rid)

    def view():
        group = cache.describe_replication_groups(ReplicationGroupId=rid)["ReplicationGroups"][0]
        return group["Status"], (group.get("PendingModifiedValues") or {}).get("AuthTokenStatus")

    wait_for(view, ("available", None))
    with clock_stopped(url):
        modified = rotate(cache, rid, TOKEN_B)
        # Accepted, under way: the old token alone still works.
        assert modified["PendingModifiedValues"]["AuthTokenStatus"] == "ROTATING"
        assert accepts(url, "redis", rid, TOKEN_B) == (False, 1)
        assert accepts(url, "redis", rid, TOKEN_A) == (True, 1)
        # modify_lag: described as it was, with the change pending, before `modifying`.
        assert view() == ("available" if behaviour is LAGGED else "modifying", "ROTATING")
    seen = wait_for(view, ("available", None))
    assert ("modifying", "ROTATING") in seen, seen
    assert accepts(url, "redis", rid, TOKEN_B) == (True, 2)

    with clock_stopped(url):
        rotate(cache, rid, TOKEN_C, "SET")
        assert accepts(url, "redis", rid, TOKEN_C) == (False, 2)
        assert view()[1] == "SETTING"
    wait_for(view, ("available", None))
    assert accepts(url, "redis", rid, TOKEN_C) == (True, 1)
    assert accepts(url, "redis", rid, TOKEN_A) == (False, 1)


@pytest.mark.parametrize("behaviour", [LATENCY, LAGGED], ids=["modify", "modify_lag"])
def test_new_master_password_applies_when_the_reset_ends(slow, uid, behaviour):
    url, aws = slow
    behave(url, behaviour)
    rds, name = aws("rds"), f"medtech-rds-{uid}"
    db_instance(rds, name)

    def view():
        db = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
        return db["DBInstanceStatus"], (db.get("PendingModifiedValues") or {}).get(
            "MasterUserPassword")

    wait_for(view, ("available", None))
    with clock_stopped(url):
        modified = rds.modify_db_instance(DBInstanceIdentifier=name, MasterUserPassword="second-one",
                                          ApplyImmediately=True)["DBInstance"]
        assert modified["PendingModifiedValues"]["MasterUserPassword"] == "****"
        assert accepts(url, "rds", name, "first-password") == (True, 1)
        assert accepts(url, "rds", name, "second-one") == (False, 1)
    seen = wait_for(view, ("available", None))
    # A password-only change is reported as RDS reports it, and ends available.
    assert ("resetting-master-credentials", "****") in seen, seen
    assert "modifying" not in {status for status, _ in seen}, seen
    assert accepts(url, "rds", name, "second-one") == (True, 1)
    assert accepts(url, "rds", name, "first-password") == (False, 1)

    # With other changes it is an ordinary modification; the password still waits for its end.
    with clock_stopped(url):
        rds.modify_db_instance(DBInstanceIdentifier=name, MasterUserPassword="third-one",
                               BackupRetentionPeriod=14, ApplyImmediately=True)
        assert accepts(url, "rds", name, "third-one") == (False, 1)
    seen = wait_for(view, ("available", None))
    assert ("modifying", "****") in seen, seen
    assert accepts(url, "rds", name, "third-one") == (True, 1)


def test_the_check_applies_modifications_that_are_due(slow, uid):
    """The route itself runs the model's due transitions: no Describe is needed first."""
    url, aws = slow
    behave(url, LATENCY)
    rds, name = aws("rds"), f"medtech-rds-{uid}"
    db_instance(rds, name)
    wait_for(lambda: rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0][
        "DBInstanceStatus"], "available")
    rds.modify_db_instance(DBInstanceIdentifier=name, MasterUserPassword="second-one",
                           ApplyImmediately=True)
    time.sleep(DURATIONS["rds_modify"] * SCALE + 0.2)
    assert accepts(url, "rds", name, "second-one") == (True, 1)


# ================================================= resource policy (IAM enforcement)
def set_auth(url, count):
    # moto reads the body as the number of requests to let through before enforcing.
    request = urllib.request.Request(f"{url}/moto-api/reset-auth", data=count.encode(),
                                     method="POST", headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert reply.status == 200


def test_secret_policy_denies_principals_it_does_not_list(emulator, aws, uid):
    iam, sm = aws("iam"), aws("secretsmanager")
    allow_all = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["secretsmanager:*", "sts:AssumeRole"], "Resource": "*"}]})
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
         "Action": "sts:AssumeRole"}]})
    role = iam.create_role(RoleName=f"admin-{uid}", AssumeRolePolicyDocument=trust)["Role"]
    iam.put_role_policy(RoleName=f"admin-{uid}", PolicyName="all", PolicyDocument=allow_all)

    def client(service, **keys):
        return boto3.session.Session(region_name=REGION, **keys).client(
            service, endpoint_url=emulator)

    keys = {}
    for who in ("admin", "other"):
        iam.create_user(UserName=f"{who}-{uid}")
        iam.put_user_policy(UserName=f"{who}-{uid}", PolicyName="all", PolicyDocument=allow_all)
        key = iam.create_access_key(UserName=f"{who}-{uid}")["AccessKey"]
        keys[who] = {"aws_access_key_id": key["AccessKeyId"],
                     "aws_secret_access_key": key["SecretAccessKey"]}
    # The other user through the admin role: a role session counts as its role.
    assumed = client("sts", **keys["other"]).assume_role(
        RoleArn=role["Arn"], RoleSessionName="rotation")["Credentials"]
    keys["role"] = {"aws_access_key_id": assumed["AccessKeyId"],
                    "aws_secret_access_key": assumed["SecretAccessKey"],
                    "aws_session_token": assumed["SessionToken"]}
    admin, other, as_role = (client("secretsmanager", **keys[who])
                             for who in ("admin", "other", "role"))
    admin_arn = iam.get_user(UserName=f"admin-{uid}")["User"]["Arn"]
    locked, unlocked = f"locked-{uid}", f"open-{uid}"
    sm.create_secret(Name=locked, SecretString="v")
    sm.create_secret(Name=unlocked, SecretString="v")
    sm.put_resource_policy(SecretId=locked, ResourcePolicy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Deny", "Principal": "*", "Action": "secretsmanager:*", "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:PrincipalArn": [admin_arn, role["Arn"]]}}}]}))

    set_auth(emulator, "0")
    try:
        assert admin.get_secret_value(SecretId=locked)["SecretString"] == "v"
        assert as_role.describe_secret(SecretId=locked)["Name"] == locked
        assert other.get_secret_value(SecretId=unlocked)["SecretString"] == "v"
        refusals = [lambda: other.get_secret_value(SecretId=locked),
                    lambda: other.describe_secret(SecretId=locked),
                    lambda: other.put_secret_value(SecretId=locked, SecretString="x"),
                    lambda: other.delete_resource_policy(SecretId=locked),
                    # The account's root user is not listed either.
                    lambda: sm.get_secret_value(SecretId=locked)]
        for call in refusals:
            with pytest.raises(ClientError) as err:
                call()
            assert code_of(err) == "AccessDeniedException"
            assert "explicit deny in a resource-based policy" in err.value.response["Error"][
                "Message"]
    finally:
        set_auth(emulator, "inf")
    assert sm.get_secret_value(SecretId=locked)["SecretString"] == "v"
