"""The account baseline `medtech verify --account` reads (patches_account.py), and the
behaviours moto already gets right that those checks rely on.

Services with one setting per account and region (GuardDuty's detector, Security Hub, the
Config recorder) are tried in a region of their own, so the session's shared emulator keeps
us-east-1 as fresh as a new account for the other tests.
"""
from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import REGION

ACCOUNT = "123456789012"


def code_of(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


@pytest.fixture
def regional(emulator):
    """regional(service, region) -> a boto3 client of another region."""
    def client(service: str, region: str):
        return boto3.session.Session(region_name=region).client(
            service, endpoint_url=emulator, config=Config(retries={"max_attempts": 1}))
    return client


def trail_of(aws, name):
    # By name from the whole list: moto ignores `trailNameList` (medtech never sends it).
    trails = aws("cloudtrail").describe_trails()["trailList"]
    return next((t for t in trails if t["Name"] == name), None)


def bucket(aws, uid):
    name = f"trail-{uid}"
    aws("s3").create_bucket(Bucket=name)
    return name


def test_trail_kms_key_is_resolved_to_its_arn_and_must_exist(aws, uid):
    kms = aws("kms")
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName=f"alias/trail-{uid}", TargetKeyId=key["KeyId"])
    ct = aws("cloudtrail")
    s3_bucket = bucket(aws, uid)
    ct.create_trail(Name=f"by-alias-{uid}", S3BucketName=s3_bucket, KmsKeyId=f"alias/trail-{uid}")
    assert trail_of(aws, f"by-alias-{uid}")["KmsKeyId"] == key["Arn"]

    with pytest.raises(ClientError) as missing:
        ct.create_trail(Name=f"no-key-{uid}", S3BucketName=s3_bucket, KmsKeyId="alias/nothing")
    assert code_of(missing) == "KmsKeyNotFoundException"
    assert trail_of(aws, f"no-key-{uid}") is None

    disabled = kms.create_key()["KeyMetadata"]
    kms.disable_key(KeyId=disabled["KeyId"])
    with pytest.raises(ClientError) as off:
        ct.update_trail(Name=f"by-alias-{uid}", KmsKeyId=disabled["KeyId"])
    assert code_of(off) == "KmsException"

    other = kms.create_key()["KeyMetadata"]
    ct.update_trail(Name=f"by-alias-{uid}", KmsKeyId=other["KeyId"])
    assert trail_of(aws, f"by-alias-{uid}")["KmsKeyId"] == other["Arn"]


def test_trail_log_group_arn_must_name_a_group_with_the_stream_wildcard(aws, uid):
    group = f"CloudTrail/{uid}"
    aws("logs").create_log_group(logGroupName=group)
    arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}"
    role = f"arn:aws:iam::{ACCOUNT}:role/trail-logs"
    ct = aws("cloudtrail")
    s3_bucket = bucket(aws, uid)
    for wrong in (arn, f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:Nothing-{uid}:*", "garbage"):
        with pytest.raises(ClientError) as refused:
            ct.create_trail(Name=f"logs-{uid}", S3BucketName=s3_bucket,
                            CloudWatchLogsLogGroupArn=wrong, CloudWatchLogsRoleArn=role)
        assert code_of(refused) == "InvalidCloudWatchLogsLogGroupArnException", wrong
    ct.create_trail(Name=f"logs-{uid}", S3BucketName=s3_bucket,
                    CloudWatchLogsLogGroupArn=f"{arn}:*", CloudWatchLogsRoleArn=role)
    assert trail_of(aws, f"logs-{uid}")["CloudWatchLogsLogGroupArn"] == f"{arn}:*"


def test_multi_region_trail_is_seen_and_its_status_read_from_another_region(aws, regional, uid):
    ct = aws("cloudtrail")
    ct.create_trail(Name=f"everywhere-{uid}", S3BucketName=bucket(aws, uid),
                    IsMultiRegionTrail=True, EnableLogFileValidation=True)
    ct.start_logging(Name=f"everywhere-{uid}")
    elsewhere = regional("cloudtrail", "ap-southeast-2")
    listed = {t["Name"]: t for t in elsewhere.describe_trails()["trailList"]}
    shadow = listed[f"everywhere-{uid}"]
    assert shadow["HomeRegion"] == REGION and shadow["IsMultiRegionTrail"]
    assert shadow["LogFileValidationEnabled"]
    assert elsewhere.get_trail_status(Name=shadow["TrailARN"])["IsLogging"] is True


def test_one_guardduty_detector_per_region(regional):
    first = regional("guardduty", "eu-north-1")
    assert first.list_detectors()["DetectorIds"] == []
    detector = first.create_detector(Enable=True)["DetectorId"]
    assert first.get_detector(DetectorId=detector)["Status"] == "ENABLED"
    with pytest.raises(ClientError) as second:
        first.create_detector(Enable=True)
    assert code_of(second) == "BadRequestException"
    assert first.list_detectors()["DetectorIds"] == [detector]
    regional("guardduty", "eu-south-1").create_detector(Enable=False)


def test_security_hub_is_not_subscribed_until_enabled(regional):
    hub = regional("securityhub", "eu-west-3")
    with pytest.raises(ClientError) as before:
        hub.describe_hub()
    assert code_of(before) == "InvalidAccessException"
    hub.enable_security_hub()
    assert hub.describe_hub()["HubArn"] == f"arn:aws:securityhub:eu-west-3:{ACCOUNT}:hub/default"


def test_metric_filter_put_updates_by_name_and_needs_its_group(aws, uid):
    logs = aws("logs")
    group = f"trail-filters-{uid}"
    metric = [{"metricName": f"m-{uid}", "metricNamespace": "CISBenchmark", "metricValue": "1"}]
    with pytest.raises(ClientError) as no_group:
        logs.put_metric_filter(logGroupName=group, filterName="b", filterPattern="x",
                               metricTransformations=metric)
    assert code_of(no_group) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as no_group:
        logs.describe_metric_filters(logGroupName=group)
    assert code_of(no_group) == "ResourceNotFoundException"

    logs.create_log_group(logGroupName=group)
    for name, pattern in (("b", "old"), ("a", "other"), ("b", "new")):
        logs.put_metric_filter(logGroupName=group, filterName=name, filterPattern=pattern,
                               metricTransformations=metric)
    listed = logs.describe_metric_filters(logGroupName=group)["metricFilters"]
    assert [(f["filterName"], f["filterPattern"]) for f in listed] == [("a", "other"), ("b", "new")]

    logs.delete_log_group(logGroupName=group)
    logs.create_log_group(logGroupName=group)
    assert logs.describe_metric_filters(logGroupName=group)["metricFilters"] == []


def test_alarms_for_a_filters_metric(aws, uid):
    cloudwatch = aws("cloudwatch")
    topic = aws("sns").create_topic(Name=f"alarms-{uid}")["TopicArn"]
    cloudwatch.put_metric_alarm(
        AlarmName=f"root-usage-{uid}", MetricName=f"RootUsage-{uid}", Namespace="CISBenchmark",
        Statistic="Sum", Period=300, EvaluationPeriods=1, Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold", AlarmActions=[topic])
    found = cloudwatch.describe_alarms_for_metric(MetricName=f"RootUsage-{uid}",
                                                  Namespace="CISBenchmark")["MetricAlarms"]
    assert [(a["AlarmName"], a["ActionsEnabled"], a["AlarmActions"]) for a in found] == [
        (f"root-usage-{uid}", True, [topic])]
    assert cloudwatch.describe_alarms_for_metric(MetricName=f"RootUsage-{uid}",
                                                 Namespace="Other")["MetricAlarms"] == []


def test_config_recorder_status_speaks_the_api_enum(regional, uid):
    config = regional("config", "ca-central-1")
    s3 = regional("s3", "ca-central-1")
    s3.create_bucket(Bucket=f"config-{uid}",
                     CreateBucketConfiguration={"LocationConstraint": "ca-central-1"})
    config.put_configuration_recorder(ConfigurationRecorder={
        "name": "default", "roleARN": f"arn:aws:iam::{ACCOUNT}:role/config",
        "recordingGroup": {"allSupported": True}})
    config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": f"config-{uid}"})
    config.start_configuration_recorder(ConfigurationRecorderName="default")
    status = config.describe_configuration_recorder_status()["ConfigurationRecordersStatus"]
    assert [(s["name"], s["recording"], s["lastStatus"]) for s in status] == [
        ("default", True, "Pending")]
    recorders = config.describe_configuration_recorders()["ConfigurationRecorders"]
    assert recorders[0]["recordingGroup"]["allSupported"] is True


def test_account_password_policy_is_none_until_set(aws):
    iam = aws("iam")
    with pytest.raises(ClientError) as none:
        iam.get_account_password_policy()
    assert code_of(none) == "NoSuchEntity"
    iam.update_account_password_policy(
        MinimumPasswordLength=14, PasswordReusePrevention=24, MaxPasswordAge=90,
        RequireSymbols=True, RequireNumbers=True, RequireUppercaseCharacters=True,
        RequireLowercaseCharacters=True)
    try:
        policy = iam.get_account_password_policy()["PasswordPolicy"]
        assert (policy["MinimumPasswordLength"], policy["PasswordReusePrevention"],
                policy["MaxPasswordAge"], policy["ExpirePasswords"]) == (14, 24, 90, True)
    finally:
        iam.delete_account_password_policy()
