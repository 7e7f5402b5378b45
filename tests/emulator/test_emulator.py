"""Proof that each emulator patch makes moto behave like real AWS.

Every test talks HTTP to one emulator subprocess (conftest.emulator), through
boto3 or through raw CBOR requests built the way aws-sdk-cloudwatch (Rust)
builds them.  Names carry a per-test suffix, so tests share the server
without resetting it.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import signal
import struct
import subprocess
import time
import urllib.error
import urllib.request

import cbor2
import pytest
from botocore.exceptions import ClientError

from conftest import REGION, start_server

ACCOUNT = "123456789012"


def code_of(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def network(aws, uid, azs=("us-east-1a", "us-east-1b")):
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=az)
               ["Subnet"]["SubnetId"] for i, az in enumerate(azs)]
    sg = ec2.create_security_group(GroupName=f"sg-{uid}", Description="d", VpcId=vpc)["GroupId"]
    return {"vpc": vpc, "subnets": subnets, "sg": sg}


def kms_key(aws, uid):
    kms = aws("kms")
    key = kms.create_key(Description=f"medtech-{uid}")["KeyMetadata"]
    kms.create_alias(AliasName=f"alias/medtech-{uid}", TargetKeyId=key["KeyId"])
    return key


# ====================================================================== server
def test_server_cli_contract(tmp_path):
    """Port file + one stdout line once listening; SIGTERM exits 0 and removes the file."""
    proc, port, seconds, port_file = start_server(str(tmp_path))
    try:
        assert seconds < 5, f"startup took {seconds:.1f}s"
        assert proc.stdout.readline().strip() == f"medtech-emulator listening on http://127.0.0.1:{port}"
        reply = urllib.request.urlopen(urllib.request.Request(
            f"http://127.0.0.1:{port}/moto-api/reset", method="POST"), timeout=5)
        assert reply.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    assert not os.path.exists(port_file)


def test_unimplemented_operation_is_a_parseable_501(aws):
    """moto's NotImplementedError is an AWS-shaped error (SDKs don't retry 501), not an HTML 500."""
    with pytest.raises(ClientError) as err:
        aws("elasticache").create_cache_parameter_group(
            CacheParameterGroupName="x", CacheParameterGroupFamily="redis7", Description="d")
    assert code_of(err) == "NotImplemented"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501


# ======================================================== CloudWatch over CBOR
class RustCbor:
    """Encode like aws-smithy-cbor: structures as indefinite-length maps,
    lists as definite arrays, doubles as float64, timestamps as tag 1 + float64."""

    @staticmethod
    def head(major: int, n: int) -> bytes:
        if n < 24:
            return bytes([major << 5 | n])
        for extra, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
            if n < 1 << (8 * struct.calcsize(fmt)):
                return bytes([major << 5 | extra]) + struct.pack(fmt, n)
        raise ValueError(n)

    @classmethod
    def encode(cls, value) -> bytes:
        if isinstance(value, dict):
            return b"\xbf" + b"".join(cls.encode(k) + cls.encode(v) for k, v in value.items()) + b"\xff"
        if isinstance(value, list):
            return cls.head(4, len(value)) + b"".join(cls.encode(v) for v in value)
        if isinstance(value, bool):
            return b"\xf5" if value else b"\xf4"
        if isinstance(value, int):
            return cls.head(0, value) if value >= 0 else cls.head(1, -1 - value)
        if isinstance(value, float):
            return b"\xfb" + struct.pack(">d", value)
        if isinstance(value, str):
            data = value.encode("utf-8")
            return cls.head(3, len(data)) + data
        if isinstance(value, bytes):
            return cls.head(2, len(value)) + value
        if isinstance(value, dt.datetime):
            return b"\xc1\xfb" + struct.pack(">d", value.timestamp())
        raise TypeError(type(value))


def cbor_call(url, operation, payload, signed=True):
    """POST the request aws-sdk-cloudwatch sends; return (status, headers, decoded body)."""
    body = RustCbor.encode(payload)
    headers = {
        "content-type": "application/cbor",
        "smithy-protocol": "rpc-v2-cbor",
        "accept": "application/cbor",
        "x-amzn-query-mode": "true",
        "x-amz-date": "20260101T000000Z",
        "amz-sdk-invocation-id": "2b4c7e1e-0000-4000-8000-000000000000",
        "amz-sdk-request": "attempt=1; max=3",
        "user-agent": "aws-sdk-rust/1.3.9 os/linux lang/rust/1.89.0",
        "x-amz-user-agent": "aws-sdk-rust/1.3.9 api/cloudwatch/1.140.0 os/linux lang/rust/1.89.0",
    }
    if signed:
        headers["authorization"] = (
            f"AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/monitoring/aws4_request, "
            "SignedHeaders=accept;content-type;host;smithy-protocol;x-amz-date, Signature=" + "0" * 64)
    request = urllib.request.Request(
        f"{url}/service/GraniteServiceVersion20100801/operation/{operation}",
        data=body, method="POST", headers=headers)
    try:
        reply = urllib.request.urlopen(request, timeout=10)
        status, reply_headers, raw = reply.status, reply.headers, reply.read()
    except urllib.error.HTTPError as exc:
        status, reply_headers, raw = exc.code, exc.headers, exc.read()
    return status, reply_headers, (cbor2.loads(raw) if raw else None), raw


def alarm_request(name, topic, threshold=80.0):
    return {
        "AlarmName": name,
        "AlarmDescription": "RDS CPU",
        "ActionsEnabled": True,
        "AlarmActions": [topic],
        "InsufficientDataActions": [topic],
        "MetricName": "CPUUtilization",
        "Namespace": "AWS/RDS",
        "Statistic": "Average",
        "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "medtech-rds-test"}],
        "Period": 300,
        "EvaluationPeriods": 2,
        "Threshold": threshold,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "missing",
        "Tags": [{"Key": "Project", "Value": "medtech"}],
    }


def test_cbor_put_then_describe_round_trip(emulator, uid):
    name = f"medtech-rds-cpu-{uid}"
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:medtech-alarms-{uid}"
    status, headers, body, raw = cbor_call(emulator, "PutMetricAlarm", alarm_request(name, topic))
    assert status == 200, body
    assert headers["smithy-protocol"] == "rpc-v2-cbor"
    assert headers["Content-Type"] == "application/cbor"
    assert headers["x-amzn-RequestId"]

    status, headers, body, raw = cbor_call(emulator, "DescribeAlarms", {"AlarmNames": [name]})
    assert status == 200
    assert headers["smithy-protocol"] == "rpc-v2-cbor"
    assert headers["Content-Type"] == "application/cbor"
    (alarm,) = body["MetricAlarms"]
    assert body["CompositeAlarms"] == []
    assert alarm["AlarmName"] == name
    assert alarm["AlarmArn"] == f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"
    assert alarm["AlarmActions"] == [topic]
    assert alarm["InsufficientDataActions"] == [topic]
    assert alarm["OKActions"] == []
    assert alarm["Dimensions"] == [{"Name": "DBInstanceIdentifier", "Value": "medtech-rds-test"}]
    assert alarm["Threshold"] == 80.0 and isinstance(alarm["Threshold"], float)
    assert alarm["Period"] == 300 and type(alarm["Period"]) is int
    assert alarm["EvaluationPeriods"] == 2 and type(alarm["EvaluationPeriods"]) is int
    assert alarm["ActionsEnabled"] is True
    assert alarm["StateValue"] == "INSUFFICIENT_DATA"
    # Timestamps are CBOR tag 1 (cbor2 decodes them to datetimes) ...
    assert isinstance(alarm["StateUpdatedTimestamp"], dt.datetime)
    assert isinstance(alarm["AlarmConfigurationUpdatedTimestamp"], dt.datetime)
    # ... and doubles are real CBOR floats (the Rust decoder rejects integers there).
    assert b"iThreshold\xfb" in raw


def test_cbor_reply_parses_with_an_independent_decoder(emulator, uid):
    """botocore's own RPCv2 CBOR serializer and parser agree with the front."""
    import botocore.session
    from botocore.parsers import RpcV2CBORParser
    from botocore.serialize import RpcV2CBORSerializer

    model = botocore.session.get_session().get_service_model("cloudwatch")
    name = f"medtech-kinesis-age-{uid}"
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:t-{uid}"
    for operation, params in (("PutMetricAlarm", {**alarm_request(name, topic, 60000.5),
                                                  "Namespace": "AWS/Kinesis"}),
                              ("DescribeAlarms", {"AlarmNames": [name]})):
        op = model.operation_model(operation)
        request = RpcV2CBORSerializer().serialize_to_request(params, op)
        http = urllib.request.Request(emulator + request["url_path"], data=request["body"],
                                      method="POST", headers=dict(request["headers"]))
        reply = urllib.request.urlopen(http, timeout=10)
        parsed = RpcV2CBORParser().parse(
            {"status_code": reply.status, "headers": dict(reply.headers), "body": reply.read()},
            op.output_shape)
    alarm = parsed["MetricAlarms"][0]
    assert alarm["Threshold"] == 60000.5
    assert alarm["Namespace"] == "AWS/Kinesis"
    assert isinstance(alarm["StateUpdatedTimestamp"], dt.datetime)


def test_cbor_tags_and_delete(emulator, uid):
    name = f"medtech-redis-cpu-{uid}"
    arn = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:t-{uid}"
    status, _, _, raw = cbor_call(emulator, "PutMetricAlarm", alarm_request(name, topic))
    assert status == 200 and raw == b""  # PutMetricAlarm has no output structure
    status, _, body, _ = cbor_call(emulator, "TagResource", {
        "ResourceARN": arn, "Tags": [{"Key": "Environment", "Value": "test"}]})
    assert status == 200 and body == {}  # TagResourceOutput: a structure without members
    status, _, body, _ = cbor_call(emulator, "ListTagsForResource", {"ResourceARN": arn})
    assert status == 200
    assert sorted((t["Key"], t["Value"]) for t in body["Tags"]) == [
        ("Environment", "test"), ("Project", "medtech")]
    assert cbor_call(emulator, "UntagResource", {"ResourceARN": arn, "TagKeys": ["Environment"]})[0] == 200
    _, _, body, _ = cbor_call(emulator, "ListTagsForResource", {"ResourceARN": arn})
    assert body["Tags"] == [{"Key": "Project", "Value": "medtech"}]
    assert cbor_call(emulator, "DeleteAlarms", {"AlarmNames": [name]})[0] == 200
    _, _, body, _ = cbor_call(emulator, "DescribeAlarms", {"AlarmNames": [name]})
    assert body["MetricAlarms"] == []


def test_cbor_errors_follow_rpcv2_and_query_compatibility(emulator, uid):
    missing = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:missing-{uid}"
    status, headers, body, _ = cbor_call(emulator, "ListTagsForResource", {"ResourceARN": missing})
    assert status == 404
    assert headers["smithy-protocol"] == "rpc-v2-cbor"
    assert headers["Content-Type"] == "application/cbor"
    assert body["__type"] == "com.amazonaws.cloudwatch#ResourceNotFoundException"
    assert headers["x-amzn-query-error"] == "ResourceNotFoundException;Sender"

    request = {**alarm_request(f"bad-{uid}", "arn:aws:sns:us-east-1:1:t"), "ExtendedStatistic": "median"}
    status, headers, body, _ = cbor_call(emulator, "PutMetricAlarm", request)
    assert status == 400
    assert body["__type"] == "com.amazonaws.cloudwatch#InvalidParameterValueException"
    assert "median" in body["message"]
    assert headers["x-amzn-query-error"] == "InvalidParameterValue;Sender"


def test_cbor_unsigned_request_and_timestamp_input(emulator):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    status, _, body, _ = cbor_call(emulator, "GetMetricData", {
        "StartTime": now - dt.timedelta(hours=1), "EndTime": now,
        "MetricDataQueries": [{"Id": "q1", "MetricStat": {
            "Metric": {"Namespace": "AWS/RDS", "MetricName": "CPUUtilization"},
            "Period": 300, "Stat": "Average"}}]}, signed=False)
    assert status == 200
    assert body["MetricDataResults"][0]["Id"] == "q1"


def test_cbor_gzip_compressed_request(emulator, uid):
    """@requestCompression: the SDK may gzip PutMetricData bodies."""
    import gzip

    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    body = gzip.compress(RustCbor.encode({"Namespace": f"Medtech/{uid}", "MetricData": [
        {"MetricName": "Probe", "Value": 1.5, "Unit": "Count", "Timestamp": now}]}))
    request = urllib.request.Request(
        f"{emulator}/service/GraniteServiceVersion20100801/operation/PutMetricData", data=body,
        method="POST", headers={"content-type": "application/cbor", "content-encoding": "gzip",
                                "smithy-protocol": "rpc-v2-cbor", "accept": "application/cbor"})
    assert urllib.request.urlopen(request, timeout=10).status == 200
    status, _, listed, _ = cbor_call(emulator, "ListMetrics", {"Namespace": f"Medtech/{uid}"})
    assert status == 200 and [m["MetricName"] for m in listed["Metrics"]] == ["Probe"]


def test_cbor_translation_is_shape_driven():
    from medtech_emulator.cbor_front import cbor_to_json, json_to_cbor, service_model

    shape = service_model("cloudwatch").operation_model("GetMetricWidgetImage").output_shape
    assert json_to_cbor({"MetricWidgetImage": "aGVsbG8="}, shape) == {"MetricWidgetImage": b"hello"}
    moment = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    assert cbor_to_json({"T": moment, "B": b"hi", "N": None}) == {"T": moment.timestamp(), "B": "aGk="}


# ===================================================== CloudWatch alarm state
def test_new_alarm_is_insufficient_data_and_update_keeps_state(aws, uid):
    cw = aws("cloudwatch")
    name = f"medtech-cpu-{uid}"
    args = dict(AlarmName=name, MetricName="CPUUtilization", Namespace="AWS/RDS", Statistic="Average",
                Period=300, EvaluationPeriods=1, Threshold=80.0, ComparisonOperator="GreaterThanThreshold",
                Tags=[{"Key": "Project", "Value": "medtech"}])
    cw.put_metric_alarm(**args)
    alarm = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    assert alarm["StateValue"] == "INSUFFICIENT_DATA"
    assert alarm["StateReason"] == "Unchecked: Initial alarm creation"

    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="test")
    cw.put_metric_alarm(**{**args, "Threshold": 90.0, "Tags": [{"Key": "Ignored", "Value": "x"}]})
    alarm = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    assert alarm["StateValue"] == "ALARM" and alarm["Threshold"] == 90.0
    arn = alarm["AlarmArn"]
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "Project", "Value": "medtech"}]

    cw.delete_alarms(AlarmNames=[name])
    with pytest.raises(ClientError) as err:
        cw.list_tags_for_resource(ResourceARN=arn)
    assert code_of(err) == "ResourceNotFoundException"
    cw.put_metric_alarm(**{**args, "Tags": []})
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == []
    cw.untag_resource(ResourceARN=arn, TagKeys=["Project"])  # existing alarm without tags: fine


# ================================================================ ElastiCache
def redis_group(aws, uid, net, key, **overrides):
    ec = aws("elasticache")
    subnet_group = f"medtech-redis-subnets-{uid}"
    if subnet_group not in {g["CacheSubnetGroupName"] for g in
                            ec.describe_cache_subnet_groups()["CacheSubnetGroups"]}:
        ec.create_cache_subnet_group(CacheSubnetGroupName=subnet_group,
                                     CacheSubnetGroupDescription="d", SubnetIds=net["subnets"])
    args = dict(
        ReplicationGroupId=f"medtech-redis-{uid}", ReplicationGroupDescription="medtech",
        Engine="redis", EngineVersion="7.1", CacheNodeType="cache.t4g.small", NumCacheClusters=2,
        AutomaticFailoverEnabled=True, MultiAZEnabled=True, TransitEncryptionEnabled=True,
        AtRestEncryptionEnabled=True, KmsKeyId=key["Arn"], AuthToken="A1b2C3d4E5f6G7h8" * 4,
        Port=6379, CacheSubnetGroupName=subnet_group, SecurityGroupIds=[net["sg"]],
        SnapshotRetentionLimit=7, SnapshotWindow="03:00-04:00",
        PreferredMaintenanceWindow="sun:05:00-sun:06:00")
    args.update(overrides)
    args = {k: v for k, v in args.items() if v is not None}
    return ec.create_replication_group(**args)["ReplicationGroup"], args


def test_replication_group_num_cache_clusters_endpoints_and_members(aws, uid):
    ec = aws("elasticache")
    net, key = network(aws, uid), kms_key(aws, uid)
    created, args = redis_group(aws, uid, net, key)
    rid = args["ReplicationGroupId"]
    assert created["MemberClusters"] == [f"{rid}-001", f"{rid}-002"]

    rg = ec.describe_replication_groups(ReplicationGroupId=rid)["ReplicationGroups"][0]
    assert rg["Status"] == "available"
    assert rg["MemberClusters"] == [f"{rid}-001", f"{rid}-002"]
    (group,) = rg["NodeGroups"]
    members = {m["CacheClusterId"]: m for m in group["NodeGroupMembers"]}
    assert members[f"{rid}-001"]["CurrentRole"] == "primary"
    assert members[f"{rid}-002"]["CurrentRole"] == "replica"
    assert members[f"{rid}-001"]["PreferredAvailabilityZone"] == "us-east-1a"
    assert members[f"{rid}-002"]["PreferredAvailabilityZone"] == "us-east-1b"
    assert group["PrimaryEndpoint"]["Address"].startswith(f"master.{rid}.")
    assert group["ReaderEndpoint"]["Address"].startswith(f"replica.{rid}.")
    assert group["ReaderEndpoint"]["Address"].endswith(".use1.cache.amazonaws.com")
    assert group["PrimaryEndpoint"]["Port"] == group["ReaderEndpoint"]["Port"] == 6379
    assert rg["AutomaticFailover"] == "enabled" and rg["MultiAZ"] == "enabled"
    assert rg["TransitEncryptionEnabled"] is True and rg["AtRestEncryptionEnabled"] is True
    assert rg["KmsKeyId"] == key["Arn"] and rg["AuthTokenEnabled"] is True
    assert rg["SnapshotRetentionLimit"] == 7 and rg["SnapshotWindow"] == "03:00-04:00"

    for cid, az in ((f"{rid}-001", "us-east-1a"), (f"{rid}-002", "us-east-1b")):
        cluster = ec.describe_cache_clusters(CacheClusterId=cid)["CacheClusters"][0]
        assert cluster["ReplicationGroupId"] == rid
        assert cluster["CacheClusterStatus"] == "available"
        assert cluster["PreferredAvailabilityZone"] == az
        assert cluster["PreferredMaintenanceWindow"] == "sun:05:00-sun:06:00"
        assert cluster["CacheSubnetGroupName"] == args["CacheSubnetGroupName"]
        assert cluster["SecurityGroups"] == [{"SecurityGroupId": net["sg"], "Status": "active"}]
        assert cluster["SnapshotWindow"] == "03:00-04:00" and cluster["SnapshotRetentionLimit"] == 7
        assert cluster["TransitEncryptionEnabled"] is True
        assert cluster["AtRestEncryptionEnabled"] is True
        assert cluster["AuthTokenEnabled"] is True
        assert cluster["Engine"] == "redis" and cluster["EngineVersion"] == "7.1"
        assert cluster["CacheNodeType"] == "cache.t4g.small" and cluster["NumCacheNodes"] == 1
        assert cluster["CacheParameterGroup"]["CacheParameterGroupName"] == "default.redis7"

    ec.modify_replication_group(ReplicationGroupId=rid, SnapshotWindow="02:00-03:00",
                                PreferredMaintenanceWindow="mon:04:00-mon:05:00", ApplyImmediately=True)
    assert ec.describe_replication_groups(ReplicationGroupId=rid)["ReplicationGroups"][0][
        "SnapshotWindow"] == "02:00-03:00"
    cluster = ec.describe_cache_clusters(CacheClusterId=f"{rid}-002")["CacheClusters"][0]
    assert cluster["PreferredMaintenanceWindow"] == "mon:04:00-mon:05:00"


def test_replication_group_without_tls_endpoint_names(aws, uid):
    net, key = network(aws, uid), kms_key(aws, uid)
    _, args = redis_group(aws, uid, net, key, TransitEncryptionEnabled=False, AuthToken=None,
                          NumCacheClusters=3)
    rg = aws("elasticache").describe_replication_groups(
        ReplicationGroupId=args["ReplicationGroupId"])["ReplicationGroups"][0]
    group = rg["NodeGroups"][0]
    rid = args["ReplicationGroupId"]
    assert len(group["NodeGroupMembers"]) == 3 and len(rg["MemberClusters"]) == 3
    assert group["ReaderEndpoint"]["Address"].startswith(f"{rid}-ro.")
    assert ".ng.0001.use1.cache.amazonaws.com" in group["PrimaryEndpoint"]["Address"]
    assert [m["PreferredAvailabilityZone"] for m in group["NodeGroupMembers"]] == [
        "us-east-1a", "us-east-1b", "us-east-1a"]


@pytest.mark.parametrize("overrides, code", [
    ({"NumCacheClusters": 1}, "InvalidParameterCombination"),  # failover + 1 node
    ({"NumCacheClusters": 1, "AutomaticFailoverEnabled": False}, "InvalidParameterCombination"),  # Multi-AZ
    ({"AutomaticFailoverEnabled": False}, "InvalidParameterCombination"),  # Multi-AZ w/o failover
    ({"TransitEncryptionEnabled": False}, "InvalidParameterValue"),  # AUTH needs TLS
    ({"AuthToken": "short-token"}, "InvalidParameterValue"),  # < 16 chars
    ({"AuthToken": "has-an-@-character-in-it"}, "InvalidParameterValue"),
    ({"AuthToken": 'has/a/slash/and/"quotes"'}, "InvalidParameterValue"),
    ({"AuthToken": "x" * 129}, "InvalidParameterValue"),
    ({"CacheSubnetGroupName": "does-not-exist"}, "CacheSubnetGroupNotFoundFault"),
])
def test_replication_group_validation(aws, uid, overrides, code):
    net, key = network(aws, uid), kms_key(aws, uid)
    with pytest.raises(ClientError) as err:
        redis_group(aws, uid, net, key, **overrides)
    assert code_of(err) == code
    assert aws("elasticache").describe_replication_groups()["ReplicationGroups"] is not None


def test_delete_replication_group_and_cache_subnet_group(aws, uid):
    ec = aws("elasticache")
    net, key = network(aws, uid), kms_key(aws, uid)
    _, args = redis_group(aws, uid, net, key)
    rid, subnet_group = args["ReplicationGroupId"], args["CacheSubnetGroupName"]

    with pytest.raises(ClientError) as err:
        ec.delete_cache_subnet_group(CacheSubnetGroupName=subnet_group)
    assert code_of(err) == "CacheSubnetGroupInUse"

    deleted = ec.delete_replication_group(ReplicationGroupId=rid, FinalSnapshotIdentifier=f"final-{uid}")
    assert deleted["ReplicationGroup"]["Status"] == "deleting"
    assert ec.describe_snapshots(SnapshotName=f"final-{uid}")["Snapshots"][0]["ReplicationGroupId"] == rid
    with pytest.raises(ClientError) as err:
        ec.delete_replication_group(ReplicationGroupId=rid)
    assert code_of(err) == "InvalidReplicationGroupState"
    # First describe after the delete still shows it (and its members) deleting ...
    assert ec.describe_replication_groups(ReplicationGroupId=rid)["ReplicationGroups"][0]["Status"] == "deleting"
    # ... then it is gone, members included.
    with pytest.raises(ClientError) as err:
        ec.describe_replication_groups(ReplicationGroupId=rid)
    assert code_of(err) == "ReplicationGroupNotFoundFault"
    with pytest.raises(ClientError) as err:
        ec.describe_cache_clusters(CacheClusterId=f"{rid}-001")
    assert code_of(err) == "CacheClusterNotFound"

    # The id can be reused; the subnet group can go once nothing uses it.
    redis_group(aws, uid, net, key)
    ec.delete_replication_group(ReplicationGroupId=rid)
    with pytest.raises(ClientError):
        for _ in range(3):
            ec.describe_replication_groups(ReplicationGroupId=rid)
    ec.delete_cache_subnet_group(CacheSubnetGroupName=subnet_group)
    with pytest.raises(ClientError) as err:
        ec.delete_cache_subnet_group(CacheSubnetGroupName=subnet_group)
    assert code_of(err) == "CacheSubnetGroupNotFoundFault"


# ======================================================================== RDS
def rds_instance_args(uid, net, key, role_arn, **overrides):
    args = dict(
        DBInstanceIdentifier=f"medtech-rds-{uid}", DBInstanceClass="db.t4g.medium", Engine="postgres",
        EngineVersion="16.4", DBName="medtech", MasterUsername="medtech",
        MasterUserPassword="Aa1!" * 8, AllocatedStorage=50, StorageType="gp3", MultiAZ=True,
        StorageEncrypted=True, KmsKeyId=f"alias/medtech-{uid}", BackupRetentionPeriod=30,
        EnableCloudwatchLogsExports=["postgresql", "upgrade"], PubliclyAccessible=False,
        DeletionProtection=True, CopyTagsToSnapshot=True, AutoMinorVersionUpgrade=True,
        EnableIAMDatabaseAuthentication=True, MonitoringInterval=60, MonitoringRoleArn=role_arn,
        EnablePerformanceInsights=True, PerformanceInsightsKMSKeyId=f"alias/medtech-{uid}",
        DBSubnetGroupName=f"medtech-db-subnets-{uid}", DBParameterGroupName=f"medtech-pg-{uid}",
        VpcSecurityGroupIds=[net["sg"]], Tags=[{"Key": "Project", "Value": "medtech"}])
    args.update(overrides)
    return {k: v for k, v in args.items() if v is not None}


@pytest.fixture
def rds_env(aws, uid):
    rds = aws("rds")
    net, key = network(aws, uid), kms_key(aws, uid)
    rds.create_db_subnet_group(DBSubnetGroupName=f"medtech-db-subnets-{uid}",
                               DBSubnetGroupDescription="d", SubnetIds=net["subnets"])
    rds.create_db_parameter_group(DBParameterGroupName=f"medtech-pg-{uid}",
                                  DBParameterGroupFamily="postgres16", Description="d")
    role = aws("iam").create_role(RoleName=f"medtech-rds-monitoring-{uid}",
                                  AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    return net, key, role


def test_rds_instance_reports_what_real_rds_reports(aws, uid, rds_env):
    rds = aws("rds")
    net, key, role = rds_env
    rds.create_db_instance(**rds_instance_args(uid, net, key, role))
    db = rds.describe_db_instances(DBInstanceIdentifier=f"medtech-rds-{uid}")["DBInstances"][0]
    assert db["KmsKeyId"] == key["Arn"]  # alias resolved to the key ARN
    assert db["PerformanceInsightsEnabled"] is True
    assert db["PerformanceInsightsKMSKeyId"] == key["Arn"]
    assert db["PerformanceInsightsRetentionPeriod"] == 7
    assert db["AvailabilityZone"] in ("us-east-1a", "us-east-1b")
    assert db["SecondaryAvailabilityZone"] in ("us-east-1a", "us-east-1b")
    assert db["SecondaryAvailabilityZone"] != db["AvailabilityZone"]
    expected = {
        "MultiAZ": True, "StorageEncrypted": True, "StorageType": "gp3", "BackupRetentionPeriod": 30,
        "EnabledCloudwatchLogsExports": ["postgresql", "upgrade"], "PubliclyAccessible": False,
        "DeletionProtection": True, "CopyTagsToSnapshot": True, "AutoMinorVersionUpgrade": True,
        "IAMDatabaseAuthenticationEnabled": True, "MonitoringInterval": 60, "MonitoringRoleArn": role,
    }
    assert {k: db.get(k) for k in expected} == expected
    assert db["DBParameterGroups"][0]["DBParameterGroupName"] == f"medtech-pg-{uid}"
    assert db["DBSubnetGroup"]["DBSubnetGroupName"] == f"medtech-db-subnets-{uid}"
    assert len(db["DBSubnetGroup"]["Subnets"]) == 2
    assert db["VpcSecurityGroups"] == [{"VpcSecurityGroupId": net["sg"], "Status": "active"}]

    # In-use groups cannot be deleted.
    with pytest.raises(ClientError) as err:
        rds.delete_db_subnet_group(DBSubnetGroupName=f"medtech-db-subnets-{uid}")
    assert code_of(err) == "InvalidDBSubnetGroupStateFault"
    with pytest.raises(ClientError) as err:
        rds.delete_db_parameter_group(DBParameterGroupName=f"medtech-pg-{uid}")
    assert code_of(err) == "InvalidDBParameterGroupState"

    # Deletion protection, then the final snapshot rules.
    with pytest.raises(ClientError) as err:
        rds.delete_db_instance(DBInstanceIdentifier=f"medtech-rds-{uid}", SkipFinalSnapshot=True)
    assert code_of(err) == "InvalidParameterCombination"
    modified = rds.modify_db_instance(DBInstanceIdentifier=f"medtech-rds-{uid}",
                                      DeletionProtection=False, ApplyImmediately=True)["DBInstance"]
    assert modified["DeletionProtection"] is False
    assert modified["PerformanceInsightsKMSKeyId"] == key["Arn"]
    with pytest.raises(ClientError) as err:
        rds.delete_db_instance(DBInstanceIdentifier=f"medtech-rds-{uid}")
    assert code_of(err) == "InvalidParameterCombination"
    rds.delete_db_instance(DBInstanceIdentifier=f"medtech-rds-{uid}",
                           FinalDBSnapshotIdentifier=f"medtech-rds-{uid}-final")
    snap = rds.describe_db_snapshots(DBSnapshotIdentifier=f"medtech-rds-{uid}-final")["DBSnapshots"][0]
    assert snap["DBInstanceIdentifier"] == f"medtech-rds-{uid}"
    rds.delete_db_subnet_group(DBSubnetGroupName=f"medtech-db-subnets-{uid}")
    rds.delete_db_parameter_group(DBParameterGroupName=f"medtech-pg-{uid}")


def test_rds_kms_references(aws, uid, rds_env):
    rds = aws("rds")
    net, key, role = rds_env
    alias_arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/medtech-{uid}"
    db = rds.create_db_instance(**rds_instance_args(
        uid, net, key, role, DBInstanceIdentifier=f"alias-arn-{uid}", KmsKeyId=alias_arn,
        PerformanceInsightsKMSKeyId=key["KeyId"], PerformanceInsightsRetentionPeriod=31,
        DeletionProtection=False))["DBInstance"]
    assert db["KmsKeyId"] == key["Arn"] and db["PerformanceInsightsKMSKeyId"] == key["Arn"]
    assert db["PerformanceInsightsRetentionPeriod"] == 31

    for bad in ("alias/does-not-exist", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000",
                key["Arn"].replace(REGION, "eu-west-1")):
        for field in ("KmsKeyId", "PerformanceInsightsKMSKeyId"):
            with pytest.raises(ClientError) as err:
                rds.create_db_instance(**rds_instance_args(
                    uid, net, key, role, DBInstanceIdentifier=f"bad-{uid}", **{field: bad}))
            assert code_of(err) == "KMSKeyNotAccessibleFault", (field, bad)
    aws("kms").disable_key(KeyId=key["KeyId"])
    with pytest.raises(ClientError) as err:
        rds.create_db_instance(**rds_instance_args(uid, net, key, role, DBInstanceIdentifier=f"bad-{uid}"))
    assert code_of(err) == "KMSKeyNotAccessibleFault"

    plain = rds.create_db_instance(**rds_instance_args(
        uid, net, key, role, DBInstanceIdentifier=f"default-key-{uid}", KmsKeyId=None,
        EnablePerformanceInsights=None, PerformanceInsightsKMSKeyId=None, MultiAZ=False))["DBInstance"]
    aws_rds_key = aws("kms").describe_key(KeyId="alias/aws/rds")["KeyMetadata"]["Arn"]
    assert plain["KmsKeyId"] == aws_rds_key
    assert plain["PerformanceInsightsEnabled"] is False
    assert "SecondaryAvailabilityZone" not in plain


@pytest.mark.parametrize("password", ["short1!", "has/slash" * 2, "has@at-sign!!", 'has"quote"!!',
                                      "has a space!!", "x" * 129])
def test_rds_master_password_rules(aws, uid, rds_env, password):
    net, key, role = rds_env
    with pytest.raises(ClientError) as err:
        aws("rds").create_db_instance(**rds_instance_args(uid, net, key, role, MasterUserPassword=password))
    assert code_of(err) == "InvalidParameterValue"


def test_rds_subnet_and_parameter_groups(aws, uid):
    rds = aws("rds")
    net = network(aws, uid)
    name = f"medtech-db-subnets-{uid}"
    rds.create_db_subnet_group(DBSubnetGroupName=name, DBSubnetGroupDescription="d", SubnetIds=net["subnets"])
    with pytest.raises(ClientError) as err:
        rds.create_db_subnet_group(DBSubnetGroupName=name, DBSubnetGroupDescription="other",
                                   SubnetIds=net["subnets"][:1] * 2)
    assert code_of(err) == "DBSubnetGroupAlreadyExists"
    assert rds.describe_db_subnet_groups(DBSubnetGroupName=name)["DBSubnetGroups"][0][
        "DBSubnetGroupDescription"] == "d"
    with pytest.raises(ClientError) as err:
        rds.create_db_subnet_group(DBSubnetGroupName=f"one-az-{uid}", DBSubnetGroupDescription="d",
                                   SubnetIds=net["subnets"][:1])
    assert code_of(err) == "DBSubnetGroupDoesNotCoverEnoughAZs"
    rds.modify_db_subnet_group(DBSubnetGroupName=name, DBSubnetGroupDescription="new",
                               SubnetIds=net["subnets"])
    assert rds.describe_db_subnet_groups(DBSubnetGroupName=name)["DBSubnetGroups"][0][
        "DBSubnetGroupDescription"] == "new"

    # The tagging API lists both kinds of group with their tags, as real AWS does.
    rds.add_tags_to_resource(
        ResourceName=rds.describe_db_subnet_groups(DBSubnetGroupName=name)["DBSubnetGroups"][0][
            "DBSubnetGroupArn"], Tags=[{"Key": "Environment", "Value": uid}])
    pg = rds.create_db_parameter_group(DBParameterGroupName=f"pg-tagged-{uid}",
                                       DBParameterGroupFamily="postgres16", Description="d",
                                       Tags=[{"Key": "Environment", "Value": uid}])
    listed = aws("resourcegroupstaggingapi").get_resources(
        TagFilters=[{"Key": "Environment", "Values": [uid]}], ResourceTypeFilters=["rds"])
    arns = {m["ResourceARN"]: m["Tags"] for m in listed["ResourceTagMappingList"]}
    assert set(arns) == {pg["DBParameterGroup"]["DBParameterGroupArn"],
                         f"arn:aws:rds:{REGION}:{ACCOUNT}:subgrp:{name}"}
    assert all(tags == [{"Key": "Environment", "Value": uid}] for tags in arns.values())

    for family in ("postgres11", "postgres16", "postgres17", "mysql8.0"):
        rds.create_db_parameter_group(DBParameterGroupName=f"pg-{family.replace('.', '-')}-{uid}",
                                      DBParameterGroupFamily=family, Description="d")
    for family in ("postgres99", "postgres", "redis7"):
        with pytest.raises(ClientError) as err:
            rds.create_db_parameter_group(DBParameterGroupName=f"bad-{uid}",
                                          DBParameterGroupFamily=family, Description="d")
        assert code_of(err) == "InvalidParameterValue"


# ======================================================================== IAM
def test_rds_enhanced_monitoring_managed_policy(aws, uid):
    iam = aws("iam")
    arn = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
    policy = iam.get_policy(PolicyArn=arn)["Policy"]
    assert policy["PolicyName"] == "AmazonRDSEnhancedMonitoringRole" and policy["Path"] == "/service-role/"
    document = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])[
        "PolicyVersion"]["Document"]
    if isinstance(document, str):
        document = json.loads(document)
    statements = {tuple(sorted(s["Action"])): s["Resource"] for s in document["Statement"]}
    assert statements[("logs:CreateLogGroup", "logs:PutRetentionPolicy")] == [
        "arn:aws:logs:*:*:log-group:RDS*"]
    assert statements[("logs:CreateLogStream", "logs:DescribeLogStreams", "logs:GetLogEvents",
                       "logs:PutLogEvents")] == ["arn:aws:logs:*:*:log-group:RDS*:log-stream:*"]

    role = f"medtech-rds-monitoring-{uid}"
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "monitoring.rds.amazonaws.com"}}]}))
    iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert attached == [{"PolicyName": "AmazonRDSEnhancedMonitoringRole", "PolicyArn": arn}]


# ======================================================================== EC2
def test_vpc_endpoints_filtered_by_id(aws, uid):
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    ids = [ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.s3",
                                   VpcEndpointType="Gateway")["VpcEndpoint"]["VpcEndpointId"]
           for _ in range(3)]
    listed = ec2.describe_vpc_endpoints(
        Filters=[{"Name": "vpc-endpoint-id", "Values": ids[:2] + ["vpce-0000000000000000f"]}])
    assert sorted(e["VpcEndpointId"] for e in listed["VpcEndpoints"]) == sorted(ids[:2])


def test_nat_gateway_filters(aws, uid):
    ec2 = aws("ec2")
    net = network(aws, uid)
    eips = [ec2.allocate_address(Domain="vpc")["AllocationId"] for _ in range(2)]
    nat_a = ec2.create_nat_gateway(SubnetId=net["subnets"][0], AllocationId=eips[0], TagSpecifications=[
        {"ResourceType": "natgateway", "Tags": [{"Key": "Name", "Value": f"medtech-nat-{uid}"},
                                                {"Key": "Environment", "Value": uid}]}])["NatGateway"]
    nat_b = ec2.create_nat_gateway(SubnetId=net["subnets"][1], AllocationId=eips[1], TagSpecifications=[
        {"ResourceType": "natgateway", "Tags": [{"Key": "Name", "Value": f"other-{uid}"}]}])["NatGateway"]
    assert nat_a["ConnectivityType"] == "public"

    def ids(filters):
        return sorted(g["NatGatewayId"] for g in ec2.describe_nat_gateways(Filters=filters)["NatGateways"])

    a, b = nat_a["NatGatewayId"], nat_b["NatGatewayId"]
    assert ids([{"Name": "tag:Name", "Values": [f"medtech-nat-{uid}"]}]) == [a]
    assert ids([{"Name": "tag:Name", "Values": [f"*-{uid}"]}]) == sorted([a, b])
    assert ids([{"Name": "tag:Environment", "Values": [uid]}, {"Name": "state", "Values": ["available"]}]) == [a]
    assert ids([{"Name": "tag-key", "Values": ["Environment"]}, {"Name": "vpc-id", "Values": [net["vpc"]]}]) == [a]
    assert ids([{"Name": "vpc-id", "Values": [net["vpc"]]}]) == sorted([a, b])
    assert ids([{"Name": "subnet-id", "Values": [net["subnets"][1]]}]) == [b]
    assert ids([{"Name": "nat-gateway-id", "Values": [b]}]) == [b]
    assert ids([{"Name": "tag:Name", "Values": [f"medtech-nat-{uid}"]},
                {"Name": "state", "Values": ["pending", "deleted"]}]) == []
    # Every Filter entry is ANDed, also two entries of the same name.
    assert ids([{"Name": "vpc-id", "Values": [net["vpc"]]}, {"Name": "state", "Values": ["pending"]},
                {"Name": "state", "Values": ["available"]}]) == []
    assert ids([{"Name": "vpc-id", "Values": [net["vpc"]]},
                {"Name": "state", "Values": ["pending", "available"]}]) == sorted([a, b])
    assert ids([{"Name": "tag-key", "Values": ["Environment"]}, {"Name": "tag-key", "Values": ["Name"]},
                {"Name": "vpc-id", "Values": [net["vpc"]]}]) == [a]
    subnets = aws("ec2").describe_subnets(Filters=[
        {"Name": "vpc-id", "Values": [net["vpc"]]},
        {"Name": "availability-zone", "Values": ["us-east-1a", "us-east-1b"]},
        {"Name": "availability-zone", "Values": ["us-east-1b"]}])["Subnets"]
    assert [s["SubnetId"] for s in subnets] == [net["subnets"][1]]
    with pytest.raises(ClientError) as err:
        ec2.describe_nat_gateways(Filters=[{"Name": "bogus", "Values": ["x"]}])
    assert code_of(err) == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        ec2.describe_nat_gateways(NatGatewayIds=["nat-0123456789abcdef0"])
    assert code_of(err) == "NatGatewayNotFound"


def test_nat_gateway_client_token_and_delete(aws, uid):
    ec2 = aws("ec2")
    net = network(aws, uid)
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    args = dict(SubnetId=net["subnets"][0], AllocationId=eip, ClientToken=f"medtech-nat-{uid}",
                TagSpecifications=[{"ResourceType": "natgateway", "Tags": [{"Key": "Name", "Value": uid}]}])
    first = ec2.create_nat_gateway(**args)["NatGateway"]["NatGatewayId"]
    again = ec2.create_nat_gateway(**args)
    assert again["NatGateway"]["NatGatewayId"] == first
    assert again["ClientToken"] == args["ClientToken"]
    assert ids_in_vpc(ec2, net["vpc"]) == [first]
    with pytest.raises(ClientError) as err:
        ec2.create_nat_gateway(**{**args, "SubnetId": net["subnets"][1]})
    assert code_of(err) == "IdempotentParameterMismatch"
    with pytest.raises(ClientError) as err:  # a new token, but the EIP is taken
        ec2.create_nat_gateway(**{**args, "ClientToken": f"other-{uid}"})
    assert code_of(err) == "Resource.AlreadyAssociated"
    assert ids_in_vpc(ec2, net["vpc"]) == [first]

    address = ec2.describe_addresses(AllocationIds=[eip])["Addresses"][0]
    assert address.get("AssociationId") and address.get("NetworkInterfaceId")
    with pytest.raises(ClientError) as err:  # still mapped to the NAT gateway
        ec2.release_address(AllocationId=eip)
    assert code_of(err) == "InvalidIPAddress.InUse"
    ec2.delete_nat_gateway(NatGatewayId=first)
    gateway = ec2.describe_nat_gateways(NatGatewayIds=[first])["NatGateways"][0]
    assert gateway["State"] == "deleted" and "DeleteTime" in gateway
    address = ec2.describe_addresses(AllocationIds=[eip])["Addresses"][0]
    assert "AssociationId" not in address and "NetworkInterfaceId" not in address
    ec2.release_address(AllocationId=eip)
    with pytest.raises(ClientError) as err:
        ec2.delete_nat_gateway(NatGatewayId="nat-0123456789abcdef0")
    assert code_of(err) == "NatGatewayNotFound"


def ids_in_vpc(ec2, vpc):
    return [g["NatGatewayId"] for g in ec2.describe_nat_gateways(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}])["NatGateways"]]


# ======================================================================== KMS
def test_symmetric_keys_have_no_key_pair(aws):
    kms = aws("kms")
    started = time.monotonic()
    keys = [kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(5)]
    # Five RSA-2048 key generations took 0.1-3.5 s; without them five creates are quick.
    assert time.monotonic() - started < 2.0
    signing = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="RSA_2048")["KeyMetadata"]["KeyId"]
    assert kms.get_public_key(KeyId=signing)["PublicKey"]
    assert kms.encrypt(KeyId=keys[0], Plaintext=b"phi")["KeyId"].endswith(keys[0])


def test_server_work_that_never_changes_is_done_once():
    # In this process: the server's patches are plain functions of moto's modules.
    import gc

    from moto import backends
    from moto.core import responses
    from moto.ec2.responses import EC2Response

    from medtech_emulator import apply_patches

    apply_patches()
    modules = backends.list_of_moto_modules()
    assert {"ec2", "rds", "kms"} <= set(modules)
    assert backends.list_of_moto_modules() is modules
    methods = responses.method_names_from_class(EC2Response)
    assert "describe_vpcs" in methods
    assert responses.method_names_from_class(EC2Response) is methods
    gc.collect()
    assert gc.get_freeze_count() > 0


# ======================================================================= Logs
def test_log_retention_values(aws, uid):
    logs = aws("logs")
    group = f"/medtech/{uid}/audit"
    logs.create_log_group(logGroupName=group)
    for days in (1, 90, 365, 3653):
        logs.put_retention_policy(logGroupName=group, retentionInDays=days)
    for days in (0, 2, 91, 366, 5000):
        with pytest.raises(ClientError) as err:
            logs.put_retention_policy(logGroupName=group, retentionInDays=days)
        assert code_of(err) == "InvalidParameterException"
        assert f"Value '{days}' at 'retentionInDays'" in err.value.response["Error"]["Message"]
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["retentionInDays"] == 3653


def test_log_group_kms_keys(aws, uid):
    logs = aws("logs")
    key = kms_key(aws, uid)
    missing = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000"
    for bad in (missing, f"alias/medtech-{uid}", key["KeyId"], key["Arn"].replace(REGION, "eu-west-1")):
        with pytest.raises(ClientError) as err:
            logs.create_log_group(logGroupName=f"/medtech/{uid}/bad", kmsKeyId=bad)
        assert code_of(err) == "InvalidParameterException", bad
    assert logs.describe_log_groups(logGroupNamePrefix=f"/medtech/{uid}/bad")["logGroups"] == []

    logs.create_log_group(logGroupName=f"/medtech/{uid}/audit", kmsKeyId=key["Arn"])
    described = logs.describe_log_groups(logGroupNamePrefix=f"/medtech/{uid}/audit")["logGroups"][0]
    assert described["kmsKeyId"] == key["Arn"]

    flow = f"/medtech/{uid}/vpc-flow"
    logs.create_log_group(logGroupName=flow)
    with pytest.raises(ClientError) as err:
        logs.associate_kms_key(logGroupName=flow, kmsKeyId=missing)
    assert code_of(err) == "InvalidParameterException"
    logs.associate_kms_key(logGroupName=flow, kmsKeyId=key["Arn"])
    assert logs.describe_log_groups(logGroupNamePrefix=flow)["logGroups"][0]["kmsKeyId"] == key["Arn"]
    logs.disassociate_kms_key(logGroupName=flow)
    assert "kmsKeyId" not in logs.describe_log_groups(logGroupNamePrefix=flow)["logGroups"][0]
    with pytest.raises(ClientError) as err:
        logs.associate_kms_key(logGroupName=f"/medtech/{uid}/nope", kmsKeyId=key["Arn"])
    assert code_of(err) == "ResourceNotFoundException"
    aws("kms").disable_key(KeyId=key["KeyId"])
    with pytest.raises(ClientError) as err:
        logs.associate_kms_key(logGroupName=flow, kmsKeyId=key["Arn"])
    assert code_of(err) == "InvalidParameterException"


# ==================================================================== Kinesis
def test_kinesis_stream_encryption_needs_an_existing_key(aws, uid):
    kinesis = aws("kinesis")
    key = kms_key(aws, uid)
    stream = f"medtech-kinesis-{uid}"
    kinesis.create_stream(StreamName=stream, ShardCount=2, StreamModeDetails={"StreamMode": "PROVISIONED"})
    for bad in ("alias/does-not-exist", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000"):
        with pytest.raises(ClientError) as err:
            kinesis.start_stream_encryption(StreamName=stream, EncryptionType="KMS", KeyId=bad)
        assert code_of(err) == "KMSNotFoundException"
    kinesis.start_stream_encryption(StreamName=stream, EncryptionType="KMS", KeyId=f"alias/medtech-{uid}")
    summary = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
    assert summary["EncryptionType"] == "KMS" and summary["KeyId"] == f"alias/medtech-{uid}"
    aws("kms").disable_key(KeyId=key["KeyId"])
    with pytest.raises(ClientError) as err:
        kinesis.start_stream_encryption(StreamName=stream, EncryptionType="KMS", KeyId=key["Arn"])
    assert code_of(err) == "KMSDisabledException"


def test_kinesis_create_stream_applies_tags(aws, uid):
    kinesis = aws("kinesis")
    stream = f"medtech-tagged-{uid}"
    kinesis.create_stream(StreamName=stream, ShardCount=1,
                          StreamModeDetails={"StreamMode": "PROVISIONED"}, Tags={"Project": "medtech"})
    assert kinesis.list_tags_for_stream(StreamName=stream)["Tags"] == [{"Key": "Project", "Value": "medtech"}]


def test_kinesis_list_streams_pages_with_next_token(aws, uid):
    kinesis = aws("kinesis")
    names = {f"medtech-page-{uid}-{i:02d}" for i in range(12)}
    for name in names:
        kinesis.create_stream(StreamName=name, ShardCount=1)
    seen, token, pages = set(), None, 0
    while True:
        page = kinesis.list_streams(Limit=5, **({"NextToken": token} if token else {}))
        seen.update(page["StreamNames"])
        pages += 1
        token = page.get("NextToken")
        if not token:
            assert page["HasMoreStreams"] is False
            break
    assert names <= seen
    assert pages >= 3
