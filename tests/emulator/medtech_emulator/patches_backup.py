"""AWS Backup: selections, recovery points and protected resources, and the vault and plan
rules AWS applies.

Real-AWS behaviour reproduced (moto 5.2.5 differs):

* **Backup selections** (moto has none): ``CreateBackupSelection``,
  ``GetBackupSelection``, ``ListBackupSelections`` (paged) and
  ``DeleteBackupSelection``.  The plan must exist and not be deleted
  (``ResourceNotFoundException``); ``SelectionName`` and ``IamRoleArn`` are
  required, and the role must exist and trust ``backup.amazonaws.com``
  (``InvalidParameterValueException`` "IAM Role <arn> cannot be assumed by AWS
  Backup", the message terraform-provider-aws#9297 quotes, also while the
  latency model's ``iam_propagation`` has not passed since the role was made); a second selection
  of one name in a plan is ``AlreadyExistsException``.  An unknown selection is
  ``ResourceNotFoundException``.  ``DeleteBackupPlan`` of a plan that still
  has selections is ``InvalidRequestException``.
* **Plans.**  Plan names are not unique: only a live plan with the same whole
  document is ``AlreadyExistsException`` "Backup plan with the same plan
  document already exists" (moto refused any plan whose name was ever used,
  deleted ones included, so an environment could never be re-created).
  ``UpdateBackupPlan`` (moto has none) replaces the document and makes a new
  ``VersionId``; ``GetBackupPlan`` answers the current version, or the one
  ``versionId`` names.  A rule's ``Lifecycle`` is checked as AWS does:
  ``DeleteAfterDays`` at least 1, and at least 90 days after
  ``MoveToColdStorageAfterDays`` (``InvalidParameterValueException``).
  An unknown or deleted plan cannot be deleted again
  (``ResourceNotFoundException``).
* **Recovery points.**  They come to exist only through ``StartBackupJob`` (an
  on-demand backup, which medtech never calls but a test can): the job of an
  RDS DB instance completes at once, into a recovery point
  ``arn:aws:rds:<region>:<account>:snapshot:awsbackup:job-<id>`` encrypted with
  the instance's key.  The vault must exist (``ResourceNotFoundException``), the
  role must exist and trust AWS Backup, and the resource must be an RDS DB
  instance that exists (``InvalidParameterValueException``).  The emulator does
  not run a plan's rules at their hour: a test starts the job the rule would.
  ``DescribeBackupJob``, ``ListRecoveryPointsByBackupVault`` (paged),
  ``DescribeRecoveryPoint`` and ``DeleteRecoveryPoint`` exist; a delete takes
  effect at once (AWS shows ``DELETING`` for a while), and a point of a locked
  vault younger than the lock's ``MinRetentionDays`` is refused
  (``InvalidRequestException``).
* **``ListProtectedResources``**: every resource with a recovery point, with
  its last backup's time, vault and recovery point.
* **Vaults.**  ``EncryptionKeyArn`` must be a key ARN of an enabled symmetric
  key of the vault's region (an alias, a missing or a disabled key is
  ``InvalidParameterValueException``); without one the vault uses the AWS
  managed ``alias/aws/backup``, which KMS makes on first use as AWS does (moto
  knows no such alias).  ``NumberOfRecoveryPoints`` counts them.
  ``DeleteBackupVault`` of a vault with recovery points is
  ``InvalidRequestException`` "Backup vault cannot be deleted because it
  contains recovery points." (moto deleted it), of an unknown vault
  ``ResourceNotFoundException`` (moto said nothing); the vault's tags go with
  it.
* **Tags.**  ``ListTags`` reads the ARN the path names, with or without the
  trailing slash (the Rust SDK sends none; moto took the segment before the
  last slash, ``tags``, and answered no tags for every resource).  The
  Tagging API's ``GetResources`` lists backup plans (``backup:backup-plan``)
  beside vaults, as AWS does.
"""
from __future__ import annotations

import copy
import functools
import json
import threading
import time
import uuid
from urllib.parse import unquote

from ._kms import KEY_ARN, default_service_key_arn, find_key, usable

PAGE_DEFAULT = 1000
COLD_STORAGE_MINIMUM_DAYS = 90
DAY_SECONDS = 24 * 3600
BACKUP_SERVICE = "backup.amazonaws.com"
MANAGED_KEY_ALIAS = "alias/aws/backup"
MANAGED_KEY_ID = "0b2f3e9c-5d1a-4f6e-9a8b-7c4d2e1f0a3b"

_lock = threading.Lock()

# The paths of the operations moto has no route for (its own cover the plans, their
# selections and the vaults), each as the API's URI writes it: the router matches slashes
# exactly.
EXTRA_PATHS = (
    "{0}/resources/$",
    "{0}/backup-jobs$",
    "{0}/backup-jobs/(?P<job>[^/]+)$",
    "{0}/backup-vaults/(?P<name>[^/]+)/recovery-points/$",
    "{0}/backup-vaults/(?P<name>[^/]+)/recovery-points/(?P<point>.+)$",
)


def _error(name: str, message: str):
    from moto.backup import exceptions

    return getattr(exceptions, name)(message)


def _state(backend) -> dict:
    """What the emulator keeps beside moto's backend: selections by plan, recovery points by
    vault, jobs; gone with the backend on a reset."""
    return backend.__dict__.setdefault(
        "_medtech_backup", {"selections": {}, "points": {}, "jobs": {}})


def _live_plan(backend, plan_id: str):
    plan = backend.plans.get(plan_id)
    if plan is None or plan.deletion_date is not None:
        raise _error("ResourceNotFoundException",
                     f"Failed reading Backup plan with provided version: {plan_id}")
    return plan


def _vault(backend, name: str):
    vault = backend.vaults.get(name)
    if vault is None:
        raise _error("ResourceNotFoundException", f"Backup vault {name} not found")
    return vault


def _check_role(backend, arn: str | None) -> None:
    """The role exists and trusts AWS Backup, as AWS checks before it uses it; with the
    latency model on, a role made less than ``iam_propagation`` ago is refused the same way
    (rule 3 of the README's latency model)."""
    from ._iam import find_role
    from .lifecycle import MODEL

    if not arn:
        raise _error("InvalidParameterValueException", "IamRoleArn is required")
    role = find_role(backend.account_id, arn)
    young = role is not None and MODEL.role_too_young(arn)
    if young:
        MODEL.refuse("iam_propagation")
    if role is None or young or not _trusts_backup(role.assume_role_policy_document):
        raise _error("InvalidParameterValueException",
                     f"IAM Role {arn} cannot be assumed by AWS Backup")


def _trusts_backup(document) -> bool:
    try:
        doc = json.loads(unquote(document)) if isinstance(document, str) else document
    except ValueError:
        return False
    statements = doc.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        services = (statement.get("Principal") or {}).get("Service", [])
        services = [services] if isinstance(services, str) else services
        if statement.get("Effect") == "Allow" and BACKUP_SERVICE in services:
            return True
    return False


def _check_rules(rules) -> None:
    for rule in rules or []:
        lifecycle = rule.get("Lifecycle") or {}
        delete_after = lifecycle.get("DeleteAfterDays")
        cold = lifecycle.get("MoveToColdStorageAfterDays")
        if delete_after is not None and int(delete_after) < 1:
            raise _error("InvalidParameterValueException",
                         f"Invalid lifecycle in rule {rule.get('RuleName')}: "
                         "DeleteAfterDays must be at least 1")
        if cold is not None and delete_after is not None \
                and int(delete_after) < int(cold) + COLD_STORAGE_MINIMUM_DAYS:
            raise _error("InvalidParameterValueException",
                         f"Invalid lifecycle in rule {rule.get('RuleName')}: DeleteAfterDays "
                         f"must be at least {COLD_STORAGE_MINIMUM_DAYS} days after "
                         "MoveToColdStorageAfterDays")


def _with_defaults(backup_plan: dict) -> dict:
    """The plan as AWS keeps it: each rule with AWS's defaults and a rule id."""
    plan = copy.deepcopy(backup_plan)
    for rule in plan.get("Rules", []):
        rule.setdefault("ScheduleExpression", "cron(0 5 ? * * *)")
        rule.setdefault("StartWindowMinutes", 480)
        rule.setdefault("CompletionWindowMinutes", 10080)
        rule.setdefault("ScheduleExpressionTimezone", "Etc/UTC")
        rule["RuleId"] = str(uuid.uuid4())
    return plan


def _new_version(plan, document: dict) -> None:
    from moto.moto_api._internal import mock_random

    plan.version_id = mock_random.get_random_string(length=48)
    plan.backup_plan = _with_defaults(document)
    plan.__dict__["_medtech_document"] = copy.deepcopy(document)
    plan.__dict__.setdefault("_medtech_versions", {})[plan.version_id] = plan.backup_plan


def _page(response, items: list, key: str) -> str:
    """One page of `items` under `key`, by the request's maxResults and nextToken."""
    start = int(response.querystring.get("nextToken", ["0"])[0] or 0)
    size = int(response.querystring.get("maxResults", [PAGE_DEFAULT])[0])
    body = {key: items[start:start + size]}
    if start + size < len(items):
        body["NextToken"] = str(start + size)
    return json.dumps(body)


def _uri(response, name: str) -> str:
    return unquote(response.uri_match.get(name, ""))


def apply() -> None:
    from moto.backup import urls
    from moto.backup.responses import BackupResponse

    for path in EXTRA_PATHS:
        urls.url_paths.setdefault(path, BackupResponse.dispatch)
    _add_managed_key()
    _patch_plans()
    _patch_vaults()
    _install_selections()
    _install_recovery_points()


def _add_managed_key() -> None:
    """AWS Backup's managed key `alias/aws/backup`, made on first use like moto's others."""
    from moto.kms import utils

    utils.RESERVED_ALIASE_TARGET_KEY_IDS.setdefault(MANAGED_KEY_ALIAS, MANAGED_KEY_ID)
    if MANAGED_KEY_ALIAS not in utils.RESERVED_ALIASES:
        # The list moto's KMS modules imported: extended in place, so they see it too.
        utils.RESERVED_ALIASES.append(MANAGED_KEY_ALIAS)


def _patch_plans() -> None:
    from moto.backup.models import BackupBackend, Plan
    from moto.backup.responses import BackupResponse
    from moto.core.resource_tagging import TaggedResource

    def create_backup_plan(self, backup_plan, backup_plan_tags, creator_request_id):
        _check_rules(backup_plan.get("Rules"))
        with _lock:
            for plan in self.plans.values():
                if plan.deletion_date is None \
                        and plan.__dict__.get("_medtech_document") == backup_plan:
                    raise _error("AlreadyExistsException",
                                 "Backup plan with the same plan document already exists")
            plan = Plan(backup_plan=copy.deepcopy(backup_plan),
                        creator_request_id=creator_request_id, backend=self)
            _new_version(plan, backup_plan)
            self.plans[plan.backup_plan_id] = plan
        if backup_plan_tags:
            self.tag_resource(plan.backup_plan_arn, backup_plan_tags)
        return plan

    orig_delete = BackupBackend.delete_backup_plan

    @functools.wraps(orig_delete)
    def delete_backup_plan(self, backup_plan_id):
        _live_plan(self, backup_plan_id)
        if _state(self)["selections"].get(backup_plan_id):
            raise _error("InvalidRequestException",
                         f"Backup plan {backup_plan_id} still has backup selections; "
                         "delete them first")
        return orig_delete(self, backup_plan_id)

    def update_backup_plan(self):
        backend = self.backup_backend
        plan = _live_plan(backend, _uri(self, "backupPlanId"))
        document = json.loads(self.body).get("BackupPlan") or {}
        _check_rules(document.get("Rules"))
        _new_version(plan, document)
        return json.dumps(plan.to_dict())

    def get_backup_plan(self):
        backend = self.backup_backend
        plan_id = _uri(self, "backupPlanId")
        plan = backend.plans.get(plan_id)
        version = self.querystring.get("versionId", [None])[0]
        versions = plan.__dict__.get("_medtech_versions", {}) if plan else {}
        if plan is None or (version and version not in versions):
            raise _error("ResourceNotFoundException",
                         "Failed reading Backup plan with provided version")
        body = plan.to_get_dict()
        if version:
            body["VersionId"] = version
            body["BackupPlan"] = versions[version]
        return json.dumps(body)

    orig_tagged = BackupBackend.iter_tagged_resources

    def iter_tagged_resources(self):
        yield from orig_tagged(self)
        for plan in self.plans.values():
            if plan.deletion_date is None:
                yield TaggedResource(
                    arn=plan.backup_plan_arn,
                    tags=self.tagger.get_tag_dict_for_resource(plan.backup_plan_arn),
                    resource_type="backup:backup-plan")

    BackupBackend.create_backup_plan = create_backup_plan
    BackupBackend.delete_backup_plan = delete_backup_plan
    BackupBackend.iter_tagged_resources = iter_tagged_resources
    BackupResponse.update_backup_plan = update_backup_plan
    BackupResponse.get_backup_plan = get_backup_plan


def _patch_vaults() -> None:
    from moto.backup.models import BackupBackend, Vault
    from moto.backup.responses import BackupResponse

    orig_create = BackupBackend.create_backup_vault

    @functools.wraps(orig_create)
    def create_backup_vault(self, backup_vault_name, backup_vault_tags, encryption_key_arn,
                            creator_request_id):
        if encryption_key_arn is None:
            encryption_key_arn = default_service_key_arn(
                self.account_id, self.region_name, MANAGED_KEY_ALIAS)
        elif not KEY_ARN.match(str(encryption_key_arn)) or not usable(
                find_key(self.account_id, self.region_name, encryption_key_arn,
                         allow_alias=False)):
            raise _error("InvalidParameterValueException",
                         f"Invalid EncryptionKeyArn {encryption_key_arn}: give the ARN of an "
                         f"enabled symmetric KMS key in {self.region_name}")
        return orig_create(self, backup_vault_name, backup_vault_tags, encryption_key_arn,
                           creator_request_id)

    def delete_backup_vault(self, backup_vault_name):
        vault = _vault(self, backup_vault_name)
        if _state(self)["points"].get(backup_vault_name):
            raise _error("InvalidRequestException",
                         "Backup vault cannot be deleted because it contains recovery points.")
        self.tagger.delete_all_tags_for_resource(vault.backup_vault_arn)
        del self.vaults[backup_vault_name]

    def list_tags(self):
        return json.dumps({"Tags": self.backup_backend.list_tags(_uri(self, "resourceArn"))})

    BackupBackend.create_backup_vault = create_backup_vault
    BackupBackend.delete_backup_vault = delete_backup_vault
    BackupResponse.list_tags = list_tags
    # DescribeBackupVault serialises the vault by its shape's member names.
    Vault.number_of_recovery_points = property(lambda self: self.num_of_recovery_points)


def _install_selections() -> None:
    from moto.backup.responses import BackupResponse

    def create_backup_selection(self):
        backend = self.backup_backend
        plan_id = _uri(self, "backupPlanId")
        params = json.loads(self.body or "{}")
        selection = params.get("BackupSelection") or {}
        _live_plan(backend, plan_id)
        if not selection.get("SelectionName"):
            raise _error("InvalidParameterValueException", "SelectionName is required")
        _check_role(backend, selection.get("IamRoleArn"))
        with _lock:
            selections = _state(backend)["selections"].setdefault(plan_id, {})
            if any(s["BackupSelection"]["SelectionName"] == selection["SelectionName"]
                   for s in selections.values()):
                raise _error("AlreadyExistsException",
                             f"Backup selection {selection['SelectionName']} already exists "
                             f"in backup plan {plan_id}")
            selection_id = str(uuid.uuid4())
            selections[selection_id] = {
                "BackupSelection": {
                    "SelectionName": selection["SelectionName"],
                    "IamRoleArn": selection["IamRoleArn"],
                    "Resources": selection.get("Resources", []),
                    "ListOfTags": selection.get("ListOfTags", []),
                    "NotResources": selection.get("NotResources", []),
                    "Conditions": selection.get("Conditions", {}),
                },
                "SelectionId": selection_id,
                "BackupPlanId": plan_id,
                "CreationDate": time.time(),
                "CreatorRequestId": params.get("CreatorRequestId"),
            }
        return json.dumps({"SelectionId": selection_id, "BackupPlanId": plan_id,
                           "CreationDate": selections[selection_id]["CreationDate"]})

    def _selection(self):
        backend = self.backup_backend
        plan_id = _uri(self, "backupPlanId")
        selection_id = _uri(self, "selectionId")
        found = _state(backend)["selections"].get(plan_id, {}).get(selection_id)
        if found is None:
            raise _error("ResourceNotFoundException",
                         f"Backup selection {selection_id} of plan {plan_id} not found")
        return plan_id, selection_id, found

    def get_backup_selection(self):
        return json.dumps({k: v for k, v in _selection(self)[2].items() if v is not None})

    def delete_backup_selection(self):
        plan_id, selection_id, _ = _selection(self)
        with _lock:
            _state(self.backup_backend)["selections"][plan_id].pop(selection_id, None)
        return "{}"

    def list_backup_selections(self):
        backend = self.backup_backend
        plan_id = _uri(self, "backupPlanId")
        _live_plan(backend, plan_id)
        items = [{
            "SelectionId": s["SelectionId"],
            "SelectionName": s["BackupSelection"]["SelectionName"],
            "BackupPlanId": plan_id,
            "CreationDate": s["CreationDate"],
            "IamRoleArn": s["BackupSelection"]["IamRoleArn"],
        } for s in _state(backend)["selections"].get(plan_id, {}).values()]
        return _page(self, items, "BackupSelectionsList")

    for handler in (create_backup_selection, get_backup_selection, delete_backup_selection,
                    list_backup_selections):
        setattr(BackupResponse, handler.__name__, handler)


def _rds_instance(backend, arn: str):
    """The RDS DB instance at `arn`, in the backend's account and region; None otherwise."""
    from moto.rds.models import rds_backends

    prefix = f":rds:{backend.region_name}:{backend.account_id}:db:"
    if prefix not in arn:
        return None
    identifier = arn.split(":db:", 1)[1]
    return rds_backends[backend.account_id][backend.region_name].databases.get(identifier)


def _install_recovery_points() -> None:
    from moto.backup.responses import BackupResponse

    def start_backup_job(self):
        backend = self.backup_backend
        params = json.loads(self.body or "{}")
        vault = _vault(backend, params.get("BackupVaultName", ""))
        _check_role(backend, params.get("IamRoleArn"))
        resource = params.get("ResourceArn", "")
        db = _rds_instance(backend, resource)
        if db is None:
            raise _error("InvalidParameterValueException",
                         f"Resource {resource} is not an RDS DB instance that exists "
                         "(the emulator backs up RDS DB instances only)")
        now = time.time()
        job_id = str(uuid.uuid4()).upper()
        arn = (f"arn:aws:rds:{backend.region_name}:{backend.account_id}"
               f":snapshot:awsbackup:job-{job_id.lower()}")
        point = {
            "RecoveryPointArn": arn,
            "BackupVaultName": vault.backup_vault_name,
            "BackupVaultArn": vault.backup_vault_arn,
            "ResourceArn": resource,
            "ResourceType": "RDS",
            "ResourceName": db.db_instance_identifier,
            "IamRoleArn": params["IamRoleArn"],
            "Status": "COMPLETED",
            "CreationDate": now,
            "CompletionDate": now,
            "EncryptionKeyArn": db.kms_key_id,
            "IsEncrypted": bool(db.kms_key_id),
        }
        if params.get("Lifecycle"):
            point["Lifecycle"] = params["Lifecycle"]
        with _lock:
            _state(backend)["points"].setdefault(vault.backup_vault_name, {})[arn] = point
            vault.num_of_recovery_points = len(_state(backend)["points"][vault.backup_vault_name])
            _state(backend)["jobs"][job_id] = {
                "AccountId": backend.account_id,
                "BackupJobId": job_id,
                "BackupVaultName": vault.backup_vault_name,
                "BackupVaultArn": vault.backup_vault_arn,
                "RecoveryPointArn": arn,
                "ResourceArn": resource,
                "ResourceType": "RDS",
                "IamRoleArn": params["IamRoleArn"],
                "State": "COMPLETED",
                "PercentDone": "100.0",
                "CreationDate": now,
                "CompletionDate": now,
            }
        return json.dumps({"BackupJobId": job_id, "RecoveryPointArn": arn,
                           "CreationDate": now, "IsParent": False})

    def describe_backup_job(self):
        job = _state(self.backup_backend)["jobs"].get(_uri(self, "backupJobId"))
        if job is None:
            raise _error("ResourceNotFoundException",
                         f"Backup job {_uri(self, 'backupJobId')} not found")
        return json.dumps(job)

    def _points_of(self):
        backend = self.backup_backend
        vault = _vault(backend, _uri(self, "backupVaultName"))
        return vault, _state(backend)["points"].setdefault(vault.backup_vault_name, {})

    def list_recovery_points_by_backup_vault(self):
        _, points = _points_of(self)
        return _page(self, list(points.values()), "RecoveryPoints")

    def _point(self):
        vault, points = _points_of(self)
        arn = _uri(self, "recoveryPointArn")
        if arn not in points:
            raise _error("ResourceNotFoundException", f"Recovery point {arn} not found")
        return vault, points, arn

    def describe_recovery_point(self):
        _, points, arn = _point(self)
        return json.dumps(points[arn])

    def delete_recovery_point(self):
        vault, points, arn = _point(self)
        locked_until = points[arn]["CreationDate"] + (vault.min_retention_days or 0) * DAY_SECONDS
        if vault.locked and time.time() < locked_until:
            raise _error("InvalidRequestException",
                         f"Recovery point {arn} is protected by the vault lock of "
                         f"{vault.backup_vault_name} for {vault.min_retention_days} days")
        with _lock:
            points.pop(arn, None)
            vault.num_of_recovery_points = len(points)
        return "{}"

    def list_protected_resources(self):
        latest: dict[str, dict] = {}
        for points in _state(self.backup_backend)["points"].values():
            for point in points.values():
                seen = latest.get(point["ResourceArn"])
                if seen is None or seen["CreationDate"] <= point["CreationDate"]:
                    latest[point["ResourceArn"]] = point
        items = [{
            "ResourceArn": p["ResourceArn"],
            "ResourceType": p["ResourceType"],
            "ResourceName": p["ResourceName"],
            "LastBackupTime": p["CreationDate"],
            "LastBackupVaultArn": p["BackupVaultArn"],
            "LastRecoveryPointArn": p["RecoveryPointArn"],
        } for p in latest.values()]
        return _page(self, items, "Results")

    for handler in (start_backup_job, describe_backup_job, list_recovery_points_by_backup_vault,
                    describe_recovery_point, delete_recovery_point, list_protected_resources):
        setattr(BackupResponse, handler.__name__, handler)
