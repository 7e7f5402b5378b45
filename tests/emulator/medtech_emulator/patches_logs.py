"""CloudWatch Logs: retention and KMS validation as the real service does it.

Real-AWS behaviour reproduced (moto 5.2.5 differs):

* ``PutRetentionPolicy`` (and a log group created with ``RetentionInDays``,
  e.g. through CloudFormation) accepts only the values the API's enum allows
  (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
  2192, 2557, 2922, 3288, 3653); anything else, e.g. 91, is
  ``InvalidParameterException`` "1 validation error detected: Value '91' at
  'retentionInDays' failed to satisfy constraint: Member must satisfy enum
  value set: [...]".  moto stores any number.
* ``CreateLogGroup`` with a ``kmsKeyId``, and ``AssociateKmsKey``: the API
  reference says "If you attempt to associate a KMS key with the log group but
  the KMS key does not exist or the KMS key is disabled, you receive an
  InvalidParameterException error".  The key is given as a key ARN, must be in
  the log group's region, and must be a symmetric encryption key.  moto
  accepts any string.
* ``AssociateKmsKey`` / ``DisassociateKmsKey`` exist (moto 5.2.5 has no
  handler for them at all).
* An RDS instance that exports logs (``EnableCloudwatchLogsExports``) makes
  ``/aws/rds/instance/<id>/<type>`` for each exported type itself, when the
  group does not exist yet: unencrypted and kept forever, as RDS does ("RDS
  creates the log group ... if it doesn't exist", RDS User Guide, *Publishing
  database logs to Amazon CloudWatch Logs*).  A group made beforehand is used
  as it is.  moto makes none.
"""
from __future__ import annotations

import functools
import re

from ._kms import KEY_ARN, find_key, usable

ALLOWED_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
                          1096, 1827, 2192, 2557, 2922, 3288, 3653)
_LOG_GROUP_ARN = re.compile(r"^arn:aws[a-z-]*:logs:[a-z0-9-]+:\d{12}:log-group:(?P<name>[^:]+)(:\*)?$")


def _check_retention(value) -> None:
    from moto.logs.exceptions import InvalidParameterException

    if value is None:
        return
    try:
        days = int(value)
    except (TypeError, ValueError):
        days = None
    if days not in ALLOWED_RETENTION_DAYS or str(value).strip() != str(days):
        raise InvalidParameterException(
            constraint="Member must satisfy enum value set: ["
            + ", ".join(str(d) for d in ALLOWED_RETENTION_DAYS) + "]",
            parameter="retentionInDays",
            value=value,
        )


def _check_kms_key(backend, kms_key_id) -> None:
    from moto.logs.exceptions import InvalidParameterException

    if kms_key_id is None:
        return
    if not KEY_ARN.match(str(kms_key_id)):
        raise InvalidParameterException(
            f"Specified KMS key {kms_key_id} is not a valid KMS key ARN.")
    key = find_key(backend.account_id, backend.region_name, kms_key_id, allow_alias=False)
    if not usable(key):
        raise InvalidParameterException(
            f"Specified KMS key {kms_key_id} does not exist, is not enabled, is not a "
            f"symmetric encryption key or is not in region {backend.region_name}.")


def apply() -> None:
    from moto.logs.exceptions import InvalidParameterException, ResourceNotFoundException
    from moto.logs.models import LogsBackend
    from moto.logs.responses import LogsResponse

    orig_create = LogsBackend.create_log_group
    orig_put_retention = LogsBackend.put_retention_policy

    @functools.wraps(orig_create)
    def create_log_group(self, log_group_name, tags, **kwargs):
        _check_retention(kwargs.get("RetentionInDays"))
        _check_kms_key(self, kwargs.get("kmsKeyId"))
        return orig_create(self, log_group_name, tags, **kwargs)

    @functools.wraps(orig_put_retention)
    def put_retention_policy(self, log_group_name, retention_in_days):
        _check_retention(retention_in_days)
        return orig_put_retention(self, log_group_name, retention_in_days)

    def _group_name(log_group_name, resource_identifier):
        if log_group_name:
            return log_group_name
        m = _LOG_GROUP_ARN.match(resource_identifier or "")
        if m:
            return m["name"]
        if resource_identifier:
            return None  # e.g. query results: nothing to store here
        raise InvalidParameterException("Either logGroupName or resourceIdentifier must be specified.")

    def associate_kms_key(self, log_group_name, kms_key_id):
        if log_group_name not in self.groups:
            raise ResourceNotFoundException()
        _check_kms_key(self, kms_key_id)
        self.groups[log_group_name].kms_key_id = kms_key_id

    def disassociate_kms_key(self, log_group_name):
        if log_group_name not in self.groups:
            raise ResourceNotFoundException()
        self.groups[log_group_name].kms_key_id = None

    def r_associate_kms_key(self) -> str:
        name = _group_name(self._get_param("logGroupName"), self._get_param("resourceIdentifier"))
        kms_key_id = self._get_param("kmsKeyId")
        if name is None:
            _check_kms_key(self.logs_backend, kms_key_id)
        else:
            self.logs_backend.associate_kms_key(name, kms_key_id)
        return ""

    def r_disassociate_kms_key(self) -> str:
        name = _group_name(self._get_param("logGroupName"), self._get_param("resourceIdentifier"))
        if name is not None:
            self.logs_backend.disassociate_kms_key(name)
        return ""

    LogsBackend.create_log_group = create_log_group
    LogsBackend.put_retention_policy = put_retention_policy
    LogsBackend.associate_kms_key = associate_kms_key
    LogsBackend.disassociate_kms_key = disassociate_kms_key
    r_associate_kms_key.__name__ = "associate_kms_key"
    r_disassociate_kms_key.__name__ = "disassociate_kms_key"
    LogsResponse.associate_kms_key = r_associate_kms_key
    LogsResponse.disassociate_kms_key = r_disassociate_kms_key

    _install_rds_log_exports()


def _install_rds_log_exports() -> None:
    from moto.logs.models import LogsBackend, logs_backends
    from moto.rds.models import RDSBackend

    orig_create_db = RDSBackend.create_db_instance

    @functools.wraps(orig_create_db)
    def create_db_instance(self, db_kwargs):
        db = orig_create_db(self, db_kwargs)
        logs = logs_backends[self.account_id][self.region_name]
        for kind in db_kwargs.get("enable_cloudwatch_logs_exports") or []:
            name = f"/aws/rds/instance/{db.db_instance_identifier}/{kind}"
            if name not in logs.groups:
                LogsBackend.create_log_group(logs, name, tags={})
        return db

    RDSBackend.create_db_instance = create_db_instance
