"""The account baseline `medtech verify --account` reads: CloudTrail, GuardDuty, CloudWatch Logs
metric filters and AWS Config, where moto 5.2.5 differs from AWS in what those checks rely on.

Real-AWS behaviour reproduced (moto 5.2.5 differs):

* CloudTrail ``CreateTrail`` / ``UpdateTrail`` with ``KmsKeyId``: the reference may be a key id,
  key ARN, alias name or alias ARN; the trail reports the **key ARN** ("The value is a fully
  specified ARN to a KMS key", ``Trail.KmsKeyId``). A key that does not exist in the trail's
  region is ``KmsKeyNotFoundException``; a disabled or asymmetric key ``KmsException``. moto
  stores any string as given, so a trail "encrypted" with no key passed the KMS check.
* CloudTrail ``CloudWatchLogsLogGroupArn`` must be ``arn:…:logs:REGION:ACCOUNT:log-group:NAME:*``
  (the log-stream wildcard CloudTrail requires) of a group that exists in the trail's region,
  else ``InvalidCloudWatchLogsLogGroupArnException``. moto stores any string; the metric-filter
  checks read the group's name from it.
* GuardDuty ``CreateDetector``: one detector per account and region; a second one is
  ``BadRequestException`` "The request is rejected because a detector already exists for the
  current account." moto makes as many as asked.
* CloudWatch Logs ``PutMetricFilter`` creates **or updates** the filter of that name in the
  group (moto appended a second filter of the same name, so a filter changed to miss an event
  still showed its old pattern), and the group must exist (``ResourceNotFoundException``).
  ``DescribeMetricFilters`` lists filters ASCII-sorted by name, and a ``logGroupName`` that does
  not exist is ``ResourceNotFoundException`` (moto: an empty list). ``DeleteLogGroup`` deletes
  the group's filters with it (moto kept them for a group of the same name made later).
* AWS Config ``DescribeConfigurationRecorderStatus``: ``lastStatus`` takes the API's enum values
  ``Pending`` / ``Success`` / ``Failure``; moto wrote ``PENDING``, which SDKs read as an unknown
  value.
"""
from __future__ import annotations

import functools
import re

from ._kms import find_key, usable

LOG_GROUP_ARN = re.compile(
    r"^arn:aws[a-z-]*:logs:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):log-group:(?P<name>[\.\-_/#A-Za-z0-9]+):\*$")


def apply() -> None:
    _install_cloudtrail()
    _install_guardduty()
    _install_metric_filters()
    _install_config_status()


def _error(code: str, message: str, status: int = 400):
    from moto.core.exceptions import JsonRESTError

    error = JsonRESTError(code, message)
    error.code = status
    return error


# ---------------------------------------------------------------- CloudTrail
def _kms_key_arn(backend, ref):
    """The key ARN ``ref`` names in the trail's region; ``None``/empty stays as it is."""
    if not ref:
        return ref
    key = find_key(backend.account_id, backend.region_name, ref)
    if key is None:
        raise _error("KmsKeyNotFoundException",
                     f"KMS key {ref} does not exist in region {backend.region_name}.")
    if not usable(key):
        raise _error("KmsException",
                     f"KMS key {ref} is not an enabled symmetric encryption key.")
    return key.arn


def _check_log_group(backend, arn) -> None:
    from moto.logs.models import logs_backends

    if not arn:
        return
    m = LOG_GROUP_ARN.match(arn)
    if (not m or m["region"] != backend.region_name or m["account"] != backend.account_id
            or m["name"] not in logs_backends[backend.account_id][backend.region_name].groups):
        raise _error("InvalidCloudWatchLogsLogGroupArnException",
                     f"CloudWatch Logs log group {arn} is not valid: it must be the ARN of a log "
                     f"group in {backend.region_name}, ending in :*")


def _install_cloudtrail() -> None:
    from moto.cloudtrail.models import CloudTrailBackend

    orig_create = CloudTrailBackend.create_trail
    orig_update = CloudTrailBackend.update_trail

    @functools.wraps(orig_create)
    def create_trail(self, name, bucket_name, s3_key_prefix, sns_topic_name, is_global,
                     is_multi_region, log_validation, is_org_trail, cw_log_group_arn,
                     cw_role_arn, kms_key_id, tags_list):
        _check_log_group(self, cw_log_group_arn)
        kms_key_id = _kms_key_arn(self, kms_key_id)
        return orig_create(self, name, bucket_name, s3_key_prefix, sns_topic_name, is_global,
                           is_multi_region, log_validation, is_org_trail, cw_log_group_arn,
                           cw_role_arn, kms_key_id, tags_list)

    @functools.wraps(orig_update)
    def update_trail(self, **kwargs):
        _check_log_group(self, kwargs.get("cw_log_group_arn"))
        kwargs["kms_key_id"] = _kms_key_arn(self, kwargs.get("kms_key_id"))
        return orig_update(self, **kwargs)

    CloudTrailBackend.create_trail = create_trail
    CloudTrailBackend.update_trail = update_trail


# ---------------------------------------------------------------- GuardDuty
def _install_guardduty() -> None:
    from moto.guardduty.models import GuardDutyBackend

    orig_create = GuardDutyBackend.create_detector

    @functools.wraps(orig_create)
    def create_detector(self, *args, **kwargs):
        if self.detectors:
            raise _error("BadRequestException",
                         "The request is rejected because a detector already exists for the "
                         "current account.")
        return orig_create(self, *args, **kwargs)

    GuardDutyBackend.create_detector = create_detector


# ---------------------------------------------------------------- Logs metric filters
def _install_metric_filters() -> None:
    from moto.logs.exceptions import ResourceNotFoundException
    from moto.logs.models import LogsBackend

    orig_put = LogsBackend.put_metric_filter
    orig_describe = LogsBackend.describe_metric_filters
    orig_delete_group = LogsBackend.delete_log_group

    def drop_filters(backend, keep) -> None:
        backend.filters.metric_filters = [f for f in backend.filters.metric_filters if keep(f)]

    @functools.wraps(orig_put)
    def put_metric_filter(self, filter_name, filter_pattern, log_group_name,
                          metric_transformations):
        if log_group_name not in self.groups:
            raise ResourceNotFoundException()
        drop_filters(self, lambda f: (f["filterName"], f["logGroupName"])
                     != (filter_name, log_group_name))
        return orig_put(self, filter_name, filter_pattern, log_group_name,
                        metric_transformations)

    @functools.wraps(orig_describe)
    def describe_metric_filters(self, prefix=None, log_group_name=None, metric_name=None,
                                metric_namespace=None):
        if log_group_name is not None and log_group_name not in self.groups:
            raise ResourceNotFoundException()
        found = orig_describe(self, prefix, log_group_name, metric_name, metric_namespace)
        return sorted(found, key=lambda f: f["filterName"])

    @functools.wraps(orig_delete_group)
    def delete_log_group(self, log_group_name):
        result = orig_delete_group(self, log_group_name)
        drop_filters(self, lambda f: f["logGroupName"] != log_group_name)
        return result

    LogsBackend.put_metric_filter = put_metric_filter
    LogsBackend.delete_log_group = delete_log_group
    LogsBackend.describe_metric_filters = describe_metric_filters


# ---------------------------------------------------------------- Config
def _install_config_status() -> None:
    from moto.config.models import ConfigRecorderStatus

    orig_start = ConfigRecorderStatus.start

    @functools.wraps(orig_start)
    def start(self) -> None:
        orig_start(self)
        self.last_status = "Pending"

    ConfigRecorderStatus.start = start
