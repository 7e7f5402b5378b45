"""Proof that AWS Backup behaves as AWS does (patches_backup.py).

What medtech relies on: plans found by name whatever moto remembers of deleted ones, updated
into new versions; selections checked as AWS checks them; vaults encrypted only with a usable
key and kept while they hold recovery points; recovery points made by an on-demand backup
job, listed, protected by a vault lock, deleted; and the resources they protect listed.
"""
from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from test_emulator import code_of, rds_instance_args, rds_env  # noqa: F401 - a fixture

TRUST_BACKUP = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "backup.amazonaws.com"},
    "Action": "sts:AssumeRole"}]})
TRUST_EC2 = TRUST_BACKUP.replace("backup.amazonaws.com", "ec2.amazonaws.com")


def backup_role(aws, uid, trust=TRUST_BACKUP):
    return aws("iam").create_role(RoleName=f"backup-{uid}",
                                  AssumeRolePolicyDocument=trust)["Role"]["Arn"]


def vault(aws, uid, key_arn=None):
    args = {"BackupVaultName": f"vault-{uid}", "BackupVaultTags": {"Environment": uid}}
    if key_arn:
        args["EncryptionKeyArn"] = key_arn
    return aws("backup").create_backup_vault(**args)


def plan_document(uid, days=35, **lifecycle):
    return {"BackupPlanName": f"plan-{uid}", "Rules": [{
        "RuleName": "daily", "TargetBackupVaultName": f"vault-{uid}",
        "ScheduleExpression": "cron(0 5 ? * * *)",
        "Lifecycle": {"DeleteAfterDays": days, **lifecycle}}]}


def test_plans_are_unique_by_document_and_update_into_new_versions(aws, uid):
    backup = aws("backup")
    vault(aws, uid)
    first = backup.create_backup_plan(BackupPlan=plan_document(uid))
    with pytest.raises(ClientError) as same:
        backup.create_backup_plan(BackupPlan=plan_document(uid))
    assert code_of(same) == "AlreadyExistsException"
    # Another document of the same name is another plan.
    second = backup.create_backup_plan(BackupPlan=plan_document(uid, days=36))
    assert second["BackupPlanId"] != first["BackupPlanId"]
    named = [p for p in backup.list_backup_plans()["BackupPlansList"]
             if p["BackupPlanName"] == f"plan-{uid}"]
    assert len(named) == 2

    updated = backup.update_backup_plan(BackupPlanId=first["BackupPlanId"],
                                        BackupPlan=plan_document(uid, days=40))
    assert updated["VersionId"] != first["VersionId"]
    current = backup.get_backup_plan(BackupPlanId=first["BackupPlanId"])
    assert current["VersionId"] == updated["VersionId"]
    rule = current["BackupPlan"]["Rules"][0]
    assert rule["Lifecycle"] == {"DeleteAfterDays": 40}
    assert (rule["StartWindowMinutes"], rule["ScheduleExpressionTimezone"]) == (480, "Etc/UTC")
    old = backup.get_backup_plan(BackupPlanId=first["BackupPlanId"], VersionId=first["VersionId"])
    assert old["BackupPlan"]["Rules"][0]["Lifecycle"] == {"DeleteAfterDays": 35}

    # A deleted plan's document can be made again; the deleted plan cannot be deleted twice.
    backup.delete_backup_plan(BackupPlanId=second["BackupPlanId"])
    again = backup.create_backup_plan(BackupPlan=plan_document(uid, days=36))
    assert again["BackupPlanId"] != second["BackupPlanId"]
    with pytest.raises(ClientError) as twice:
        backup.delete_backup_plan(BackupPlanId=second["BackupPlanId"])
    assert code_of(twice) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as unknown:
        backup.update_backup_plan(BackupPlanId=second["BackupPlanId"],
                                  BackupPlan=plan_document(uid))
    assert code_of(unknown) == "ResourceNotFoundException"


@pytest.mark.parametrize("days, lifecycle", [
    (0, {}),
    (100, {"MoveToColdStorageAfterDays": 30}),
])
def test_plan_lifecycles_are_checked(aws, uid, days, lifecycle):
    with pytest.raises(ClientError) as refused:
        aws("backup").create_backup_plan(BackupPlan=plan_document(uid, days=days, **lifecycle))
    assert code_of(refused) == "InvalidParameterValueException"


def test_selections_need_a_plan_and_a_role_aws_backup_can_assume(aws, uid):
    backup = aws("backup")
    vault(aws, uid)
    plan = backup.create_backup_plan(BackupPlan=plan_document(uid))["BackupPlanId"]
    role = backup_role(aws, uid)
    resource = f"arn:aws:rds:us-east-1:123456789012:db:medtech-rds-{uid}"

    def select(name="rds", role_arn=role, plan_id=plan):
        return backup.create_backup_selection(BackupPlanId=plan_id, BackupSelection={
            "SelectionName": name, "IamRoleArn": role_arn, "Resources": [resource]})

    made = select()
    got = backup.get_backup_selection(BackupPlanId=plan, SelectionId=made["SelectionId"])
    assert got["BackupSelection"]["Resources"] == [resource]
    assert got["BackupSelection"]["IamRoleArn"] == role
    listed = backup.list_backup_selections(BackupPlanId=plan)["BackupSelectionsList"]
    assert [(s["SelectionId"], s["SelectionName"]) for s in listed] == [(made["SelectionId"], "rds")]

    refusals = [
        (lambda: select(), "AlreadyExistsException"),
        (lambda: select("b", role_arn=role.replace(f"backup-{uid}", "nobody")),
         "InvalidParameterValueException"),
        (lambda: select("c", role_arn=backup_role(aws, f"{uid}-ec2", TRUST_EC2)),
         "InvalidParameterValueException"),
        (lambda: select("d", plan_id="no-such-plan"), "ResourceNotFoundException"),
        (lambda: backup.delete_backup_plan(BackupPlanId=plan), "InvalidRequestException"),
    ]
    for call, code in refusals:
        with pytest.raises(ClientError) as refused:
            call()
        assert code_of(refused) == code
        if code == "InvalidParameterValueException":
            assert "cannot be assumed by AWS Backup" in refused.value.response["Error"]["Message"]

    backup.delete_backup_selection(BackupPlanId=plan, SelectionId=made["SelectionId"])
    with pytest.raises(ClientError) as gone:
        backup.get_backup_selection(BackupPlanId=plan, SelectionId=made["SelectionId"])
    assert code_of(gone) == "ResourceNotFoundException"
    backup.delete_backup_plan(BackupPlanId=plan)


def test_a_role_is_found_while_other_requests_create_roles():
    """AWS Backup never takes an existing role for a missing one because another request made
    a role meanwhile: moto's lookup walks its live dict of roles, which a concurrent
    CreateRole resizes (a crowded account's 1,500 roles make the walk long enough to meet)."""
    import threading

    from moto.iam.models import iam_backends

    from medtech_emulator.patches_backup import _check_role

    class Backend:
        account_id = "210987654321"

    iam = iam_backends[Backend.account_id]["global"]
    for i in range(1500):
        iam.create_role(f"other-{i}", TRUST_BACKUP, "/", None, "", [], None)
    wanted = iam.create_role("zz-backup", TRUST_BACKUP, "/", None, "", [], None).arn
    done = threading.Event()

    def create_roles():
        made = 0
        while not done.is_set():
            iam.create_role(f"new-{made}", TRUST_BACKUP, "/", None, "", [], None)
            made += 1

    creator = threading.Thread(target=create_roles)
    creator.start()
    refused = 0
    try:
        for _ in range(1000):
            try:
                _check_role(Backend, wanted)
            except Exception:  # noqa: BLE001 - any refusal counts
                refused += 1
    finally:
        done.set()
        creator.join()
    assert refused == 0, f"{refused} of 1000 checks refused a role that exists and trusts Backup"


def test_vault_keys_must_be_usable_key_arns(aws, uid):
    kms, backup = aws("kms"), aws("backup")
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName=f"alias/vault-{uid}", TargetKeyId=key["KeyId"])
    disabled = kms.create_key()["KeyMetadata"]
    kms.disable_key(KeyId=disabled["KeyId"])
    for bad in (f"alias/vault-{uid}", disabled["Arn"], key["Arn"].replace("us-east-1", "eu-west-1")):
        with pytest.raises(ClientError) as refused:
            vault(aws, uid, bad)
        assert code_of(refused) == "InvalidParameterValueException", bad

    made = vault(aws, uid, key["Arn"])
    described = backup.describe_backup_vault(BackupVaultName=f"vault-{uid}")
    assert (described["EncryptionKeyArn"], described["NumberOfRecoveryPoints"]) == (key["Arn"], 0)
    assert backup.list_tags(ResourceArn=made["BackupVaultArn"])["Tags"] == {"Environment": uid}

    # Without a key: AWS Backup's own managed key.
    plain = backup.create_backup_vault(BackupVaultName=f"plain-{uid}")
    plain_key = backup.describe_backup_vault(BackupVaultName=f"plain-{uid}")["EncryptionKeyArn"]
    managed = kms.describe_key(KeyId="alias/aws/backup")["KeyMetadata"]["Arn"]
    assert plain_key == managed, plain

    # A deleted vault's name and tags are free again.
    backup.delete_backup_vault(BackupVaultName=f"vault-{uid}")
    with pytest.raises(ClientError) as gone:
        backup.delete_backup_vault(BackupVaultName=f"vault-{uid}")
    assert code_of(gone) == "ResourceNotFoundException"
    again = backup.create_backup_vault(BackupVaultName=f"vault-{uid}", EncryptionKeyArn=key["Arn"])
    assert backup.list_tags(ResourceArn=again["BackupVaultArn"])["Tags"] == {}


def test_recovery_points_come_from_backup_jobs_and_keep_their_vault(aws, uid, rds_env):
    backup, rds = aws("backup"), aws("rds")
    net, key, monitoring = rds_env
    db = rds.create_db_instance(**rds_instance_args(uid, net, key, monitoring))["DBInstance"]
    vault(aws, uid, key["Arn"])
    role = backup_role(aws, uid)
    assert db["DBInstanceArn"] not in {
        r["ResourceArn"] for r in backup.list_protected_resources()["Results"]}

    job = backup.start_backup_job(BackupVaultName=f"vault-{uid}",
                                  ResourceArn=db["DBInstanceArn"], IamRoleArn=role)
    point_arn = job["RecoveryPointArn"]
    assert point_arn.startswith("arn:aws:rds:us-east-1:123456789012:snapshot:awsbackup:job-")
    assert backup.describe_backup_job(BackupJobId=job["BackupJobId"])["State"] == "COMPLETED"
    points = backup.list_recovery_points_by_backup_vault(
        BackupVaultName=f"vault-{uid}")["RecoveryPoints"]
    assert [(p["RecoveryPointArn"], p["ResourceArn"], p["Status"]) for p in points] == [
        (point_arn, db["DBInstanceArn"], "COMPLETED")]
    described = backup.describe_recovery_point(BackupVaultName=f"vault-{uid}",
                                               RecoveryPointArn=point_arn)
    assert described["EncryptionKeyArn"] == key["Arn"] and described["IsEncrypted"]
    assert backup.describe_backup_vault(BackupVaultName=f"vault-{uid}")["NumberOfRecoveryPoints"] == 1
    protected = {r["ResourceArn"]: r for r in backup.list_protected_resources()["Results"]}
    assert protected[db["DBInstanceArn"]]["LastRecoveryPointArn"] == point_arn
    assert protected[db["DBInstanceArn"]]["ResourceType"] == "RDS"

    with pytest.raises(ClientError) as kept:
        backup.delete_backup_vault(BackupVaultName=f"vault-{uid}")
    assert code_of(kept) == "InvalidRequestException"
    assert "contains recovery points" in kept.value.response["Error"]["Message"]

    refusals = [
        ({"ResourceArn": db["DBInstanceArn"] + "-gone"}, "InvalidParameterValueException"),
        ({"IamRoleArn": role + "-gone"}, "InvalidParameterValueException"),
        ({"BackupVaultName": f"none-{uid}"}, "ResourceNotFoundException"),
    ]
    for change, code in refusals:
        args = {"BackupVaultName": f"vault-{uid}", "ResourceArn": db["DBInstanceArn"],
                "IamRoleArn": role, **change}
        with pytest.raises(ClientError) as refused:
            backup.start_backup_job(**args)
        assert code_of(refused) == code, change

    backup.delete_recovery_point(BackupVaultName=f"vault-{uid}", RecoveryPointArn=point_arn)
    with pytest.raises(ClientError) as gone:
        backup.describe_recovery_point(BackupVaultName=f"vault-{uid}", RecoveryPointArn=point_arn)
    assert code_of(gone) == "ResourceNotFoundException"
    assert db["DBInstanceArn"] not in {
        r["ResourceArn"] for r in backup.list_protected_resources()["Results"]}
    backup.delete_backup_vault(BackupVaultName=f"vault-{uid}")


def test_a_vault_lock_keeps_young_recovery_points(aws, uid, rds_env):
    backup, rds = aws("backup"), aws("rds")
    net, key, monitoring = rds_env
    db = rds.create_db_instance(**rds_instance_args(uid, net, key, monitoring))["DBInstance"]
    vault(aws, uid, key["Arn"])
    backup.put_backup_vault_lock_configuration(BackupVaultName=f"vault-{uid}", MinRetentionDays=7)
    point = backup.start_backup_job(BackupVaultName=f"vault-{uid}", ResourceArn=db["DBInstanceArn"],
                                    IamRoleArn=backup_role(aws, uid))["RecoveryPointArn"]
    with pytest.raises(ClientError) as locked:
        backup.delete_recovery_point(BackupVaultName=f"vault-{uid}", RecoveryPointArn=point)
    assert code_of(locked) == "InvalidRequestException"
    # Governance mode: the lock can be lifted, and then the point deleted.
    backup.delete_backup_vault_lock_configuration(BackupVaultName=f"vault-{uid}")
    backup.delete_recovery_point(BackupVaultName=f"vault-{uid}", RecoveryPointArn=point)


def test_list_calls_page(aws, uid):
    backup = aws("backup")
    vault(aws, uid)
    plan = backup.create_backup_plan(BackupPlan=plan_document(uid))["BackupPlanId"]
    role = backup_role(aws, uid)
    for n in range(3):
        backup.create_backup_selection(BackupPlanId=plan, BackupSelection={
            "SelectionName": f"s{n}", "IamRoleArn": role, "Resources": []})
    first = backup.list_backup_selections(BackupPlanId=plan, MaxResults=2)
    assert len(first["BackupSelectionsList"]) == 2 and first["NextToken"]
    rest = backup.list_backup_selections(BackupPlanId=plan, MaxResults=2,
                                         NextToken=first["NextToken"])
    assert len(rest["BackupSelectionsList"]) == 1 and "NextToken" not in rest


def test_list_tags_reads_the_arn_with_or_without_the_trailing_slash(aws, uid):
    backup = aws("backup")
    arn = vault(aws, uid)["BackupVaultArn"]
    assert backup.list_tags(ResourceArn=arn)["Tags"] == {"Environment": uid}

    # The Rust SDK's path: /tags/<arn>, no slash after it.
    def strip_slash(request, **_):
        request.url = request.url.rstrip("/")

    backup.meta.events.register("before-sign.backup.ListTags", strip_slash)
    try:
        assert backup.list_tags(ResourceArn=arn)["Tags"] == {"Environment": uid}
    finally:
        backup.meta.events.unregister("before-sign.backup.ListTags", strip_slash)
