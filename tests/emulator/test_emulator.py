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
def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_server_cli_contract(tmp_path):
    """Port file + one stdout line once listening; SIGTERM exits 0 and removes the file."""
    proc, port, _, port_file = start_server(str(tmp_path))
    try:
        # The start-up's own work, in CPU time: 2.0-2.3 s measured, where the wall time was
        # 2.4-14 s on 2 busy cores (start_server bounds that, as the Rust side does, at 60 s).
        cpu = cpu_seconds(proc.pid)
        assert cpu < 5, f"start-up took {cpu:.1f} s of CPU"
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



def test_test_failover_swaps_primary_and_replica(aws, uid):
    ec = aws("elasticache")
    net, key = network(aws, uid), kms_key(aws, uid)
    _, args = redis_group(aws, uid, net, key, NumCacheClusters=3)
    rid = args["ReplicationGroupId"]

    def roles():
        (group,) = ec.describe_replication_groups(ReplicationGroupId=rid)["ReplicationGroups"][0][
            "NodeGroups"]
        return {m["CacheClusterId"]: m["CurrentRole"] for m in group["NodeGroupMembers"]}

    before = ec.describe_replication_groups(ReplicationGroupId=rid)["ReplicationGroups"][0]
    out = ec.test_failover(ReplicationGroupId=rid, NodeGroupId="0001")["ReplicationGroup"]
    assert out["ReplicationGroupId"] == rid
    assert roles() == {f"{rid}-001": "replica", f"{rid}-002": "primary", f"{rid}-003": "replica"}
    after = ec.describe_replication_groups(ReplicationGroupId=rid)["ReplicationGroups"][0]
    assert after["MemberClusters"] == before["MemberClusters"]
    assert after["NodeGroups"][0]["PrimaryEndpoint"] == before["NodeGroups"][0]["PrimaryEndpoint"]
    ec.test_failover(ReplicationGroupId=rid, NodeGroupId="0001")
    assert roles() == {f"{rid}-001": "primary", f"{rid}-002": "replica", f"{rid}-003": "replica"}

    for group_id, node_group, code in ((rid, "0002", "NodeGroupNotFoundFault"),
                                       (f"{rid}-nope", "0001", "ReplicationGroupNotFoundFault")):
        with pytest.raises(ClientError) as err:
            ec.test_failover(ReplicationGroupId=group_id, NodeGroupId=node_group)
        assert code_of(err) == code
    _, single = redis_group(aws, f"{uid}s", net, key, NumCacheClusters=1,
                            AutomaticFailoverEnabled=False, MultiAZEnabled=False)
    with pytest.raises(ClientError) as err:
        ec.test_failover(ReplicationGroupId=single["ReplicationGroupId"], NodeGroupId="0001")
    assert code_of(err) == "InvalidReplicationGroupState"

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
    # Refused means nothing was created.
    with pytest.raises(ClientError) as err:
        aws("elasticache").describe_replication_groups(ReplicationGroupId=f"medtech-redis-{uid}")
    assert code_of(err) == "ReplicationGroupNotFoundFault"


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
        EngineVersion="16.8", DBName="medtech", MasterUsername="medtech",
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


def test_rds_describe_db_engine_versions(aws):
    rds = aws("rds")

    def versions(**kwargs):
        return [v["EngineVersion"] for v in rds.describe_db_engine_versions(**kwargs)["DBEngineVersions"]]

    listed = rds.describe_db_engine_versions(Engine="postgres")["DBEngineVersions"]
    majors = sorted({v["MajorEngineVersion"] for v in listed}, key=int)
    assert majors == ["13", "14", "15", "16", "17"]
    assert all(v["Status"] == "available" for v in listed)
    assert all(v["DBParameterGroupFamily"] == f"postgres{v['MajorEngineVersion']}" for v in listed)
    assert all(len([v for v in listed if v["MajorEngineVersion"] == m]) >= 3 for m in majors)
    # A major alone matches its minors; a full version matches itself only.
    assert versions(Engine="postgres", EngineVersion="16") == ["16.6", "16.8", "16.9", "16.10"]
    assert versions(Engine="postgres", EngineVersion="16.9") == ["16.9"]
    assert versions(Engine="postgres", EngineVersion="1") == []
    # One default per major, not always the newest; one for the engine as a whole.
    assert versions(Engine="postgres", EngineVersion="16", DefaultOnly=True) == ["16.8"]
    assert versions(Engine="postgres", EngineVersion="16.9", DefaultOnly=True) == []
    assert versions(Engine="postgres", DefaultOnly=True) == ["17.4"]
    # Retired minors only with IncludeAll, marked as such.
    assert "16.4" not in versions(Engine="postgres", EngineVersion="16")
    retired = rds.describe_db_engine_versions(Engine="postgres", EngineVersion="16.4",
                                              IncludeAll=True)["DBEngineVersions"]
    assert [(v["EngineVersion"], v["Status"]) for v in retired] == [("16.4", "deprecated")]
    assert versions(DBParameterGroupFamily="postgres15") == ["15.10", "15.12", "15.13", "15.14"]
    assert versions(Engine="postgres", Filters=[{"Name": "db-parameter-group-family",
                                                 "Values": ["postgres14"]}])[0] == "14.15"
    assert versions(Engine="mysql") == []
    targets = {t["EngineVersion"]: t["IsMajorVersionUpgrade"]
               for t in rds.describe_db_engine_versions(Engine="postgres", EngineVersion="16.8")[
                   "DBEngineVersions"][0]["ValidUpgradeTarget"]}
    assert targets["16.9"] is False and targets["17.4"] is True and "16.6" not in targets


def test_rds_engine_version_rules(aws, uid, rds_env):
    rds = aws("rds")
    net, key, role = rds_env

    def create(name, **overrides):
        return rds.create_db_instance(**rds_instance_args(
            uid, net, key, role, DBInstanceIdentifier=f"{name}-{uid}", DeletionProtection=False,
            **overrides))["DBInstance"]

    for retired in ("16.4", "16.99", "99", "16.8.1"):
        with pytest.raises(ClientError) as err:
            create("retired", EngineVersion=retired)
        assert code_of(err) == "InvalidParameterCombination", retired
        assert err.value.response["Error"]["Message"] == f"Cannot find version {retired} for postgres"
    # A major alone runs that major's default minor.
    assert create("major", EngineVersion="16")["EngineVersion"] == "16.8"
    assert create("pinned", EngineVersion="16.10")["EngineVersion"] == "16.10"
    # The parameter group must be of the version's family.
    with pytest.raises(ClientError) as err:
        create("family", EngineVersion="15.12")
    assert code_of(err) == "InvalidParameterCombination"
    assert "DBParameterGroupFamily postgres15" in err.value.response["Error"]["Message"]

    # Modify: unknown versions, downgrades and majors without the flag or the family refused.
    name = f"pinned-{uid}"
    for version, flag in (("16.5", False), ("16.6", False), ("17.4", False), ("17.4", True)):
        with pytest.raises(ClientError) as err:
            rds.modify_db_instance(DBInstanceIdentifier=name, EngineVersion=version,
                                   AllowMajorVersionUpgrade=flag, ApplyImmediately=True)
        assert code_of(err) == "InvalidParameterCombination", version
    rds.create_db_parameter_group(DBParameterGroupName=f"pg17-{uid}",
                                  DBParameterGroupFamily="postgres17", Description="d")
    upgraded = rds.modify_db_instance(DBInstanceIdentifier=name, EngineVersion="17.4",
                                      AllowMajorVersionUpgrade=True, ApplyImmediately=True,
                                      DBParameterGroupName=f"pg17-{uid}")["DBInstance"]
    assert upgraded["EngineVersion"] == "17.4"
    minor = rds.modify_db_instance(DBInstanceIdentifier=name, EngineVersion="17.6",
                                   ApplyImmediately=True)["DBInstance"]
    assert minor["EngineVersion"] == "17.6"


@pytest.mark.parametrize("username,allowed", [("postgres", True), ("medtech_admin", True),
                                              ("admin", False), ("rdsadmin", False),
                                              ("user", False), ("USER", False), ("pg_dba", False)])
def test_rds_master_username_rules(aws, uid, rds_env, username, allowed):
    net, key, role = rds_env
    args = rds_instance_args(uid, net, key, role, MasterUsername=username, DeletionProtection=False)
    if allowed:
        assert aws("rds").create_db_instance(**args)["DBInstance"]["MasterUsername"] == username
    else:
        with pytest.raises(ClientError) as err:
            aws("rds").create_db_instance(**args)
        assert code_of(err) == "InvalidParameterValue"
        assert username in err.value.response["Error"]["Message"]


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
    # Whether a key pair was generated, not how long five creates took: an RSA-2048
    # generation costs 20-700 ms, so a time bound can neither hold under load nor catch it.
    from moto.kms.models import kms_backends

    from medtech_emulator import apply_patches

    apply_patches()
    backend = kms_backends[ACCOUNT][REGION]
    for spec in ("SYMMETRIC_DEFAULT", "HMAC_256"):
        usage = "GENERATE_VERIFY_MAC" if spec.startswith("HMAC") else "ENCRYPT_DECRYPT"
        assert backend.create_key(None, usage, spec, "d", None).private_key is None, spec
    assert backend.create_key(None, "SIGN_VERIFY", "RSA_2048", "d", None).private_key is not None

    kms = aws("kms")
    keys = [kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(5)]
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


def _set_auth(emulator: str, count: str) -> None:
    # moto reads the body as the number of requests to let through before enforcing; a form
    # body arrives empty, so it must be text/plain.
    request = urllib.request.Request(f"{emulator}/moto-api/reset-auth", data=count.encode(),
                                     method="POST", headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def test_iam_enforcement_checks_policies_and_answers_in_the_clients_format(emulator, aws, uid):
    import boto3

    iam = aws("iam")
    user = f"runner-{uid}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="runner", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Resource": "*",
             "Action": ["kinesis:ListStreams", "cloudwatch:DescribeAlarms", "tag:GetResources"]},
            {"Effect": "Allow", "Action": ["iam:CreateRole", "iam:GetRole"],
             "Resource": f"arn:aws:iam::{ACCOUNT}:role/medtech-*"},
        ],
    }))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    session = boto3.session.Session(region_name=REGION, aws_access_key_id=key["AccessKeyId"],
                                    aws_secret_access_key=key["SecretAccessKey"])
    as_user = lambda service: session.client(service, endpoint_url=emulator)  # noqa: E731
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})

    _set_auth(emulator, "0")
    try:
        # Allowed, under IAM's action names, not the signing names monitoring/tagging.
        as_user("kinesis").list_streams()
        as_user("cloudwatch").describe_alarms()
        as_user("resourcegroupstaggingapi").get_resources()
        # A role-scoped statement is checked against the ARN the new role will have.
        as_user("iam").create_role(RoleName=f"medtech-{uid}", AssumeRolePolicyDocument=trust)
        with pytest.raises(ClientError) as denied:
            as_user("iam").create_role(RoleName=f"other-{uid}", AssumeRolePolicyDocument=trust)
        assert code_of(denied) == "AccessDenied"
        assert "iam:CreateRole" in denied.value.response["Error"]["Message"]

        # Refused in each protocol's own shape, naming the action.
        expected = [
            ("kms", lambda c: c.list_keys(), "AccessDeniedException", 400, "kms:ListKeys"),
            ("secretsmanager", lambda c: c.list_secrets(), "AccessDeniedException", 400,
             "secretsmanager:ListSecrets"),
            ("ec2", lambda c: c.describe_vpcs(), "UnauthorizedOperation", 403, "ec2:DescribeVpcs"),
            ("sns", lambda c: c.list_topics(), "AuthorizationError", 403, "sns:ListTopics"),
            ("rds", lambda c: c.describe_db_instances(), "AccessDenied", 403,
             "rds:DescribeDBInstances"),
            # CloudWatch speaks CBOR; the CBOR front carries the code over from the JSON error.
            ("cloudwatch", lambda c: c.list_metrics(), None, None, "cloudwatch:ListMetrics"),
        ]
        for service, call, code, status, action in expected:
            with pytest.raises(ClientError) as denied:
                call(as_user(service))
            error = denied.value.response["Error"]
            assert code is None or error["Code"] == code, (service, error)
            assert error["Code"].startswith(("AccessDenied", "UnauthorizedOperation", "Authorization")), error
            assert action in error["Message"], (service, error)
            if code is not None:
                assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == status

        # Keys no user owns are the account's root user: not restricted.
        aws("kms").list_keys()
        aws("ec2").describe_vpcs()
    finally:
        _set_auth(emulator, "inf")
    iam.delete_role(RoleName=f"medtech-{uid}")


# ====================================================================== KMS key states
def test_kms_key_states_refuse_what_aws_refuses(aws, uid):
    """Disabled and pending-deletion keys refuse use and most management, as the key-state table says."""
    kms = aws("kms")
    key = kms.create_key(Description=f"states-{uid}")["KeyMetadata"]
    key_id, arn = key["KeyId"], key["Arn"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"phi")["CiphertextBlob"]

    def refused(call, code, words):
        with pytest.raises(ClientError) as err:
            call()
        assert code_of(err) == code, err.value.response["Error"]
        message = err.value.response["Error"]["Message"]
        assert arn in message and words in message, message

    # Disabled: no cryptography, no rotation change; everything else works.
    kms.disable_key(KeyId=key_id)
    for call in (lambda: kms.encrypt(KeyId=key_id, Plaintext=b"x"),
                 lambda: kms.decrypt(CiphertextBlob=blob),
                 lambda: kms.generate_data_key(KeyId=key_id, KeySpec="AES_256"),
                 lambda: kms.enable_key_rotation(KeyId=key_id)):
        refused(call, "DisabledException", "is disabled")
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "k", "TagValue": "v"}])
    kms.enable_key(KeyId=key_id)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"phi"

    # Pending deletion (scheduled by ARN, which AWS accepts): refused with KMSInvalidState.
    kms.schedule_key_deletion(KeyId=arn, PendingWindowInDays=7)
    for call in (lambda: kms.encrypt(KeyId=key_id, Plaintext=b"x"),
                 lambda: kms.decrypt(CiphertextBlob=blob),
                 lambda: kms.generate_data_key(KeyId=arn, KeySpec="AES_256"),
                 lambda: kms.enable_key(KeyId=key_id),
                 lambda: kms.disable_key(KeyId=key_id),
                 lambda: kms.enable_key_rotation(KeyId=key_id),
                 lambda: kms.create_alias(AliasName=f"alias/pending-{uid}", TargetKeyId=key_id),
                 lambda: kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "k", "TagValue": "w"}]),
                 lambda: kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)):
        refused(call, "KMSInvalidStateException", "is pending deletion")
    other = kms.create_key(Description=f"other-{uid}")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=f"alias/moving-{uid}", TargetKeyId=other)
    refused(lambda: kms.update_alias(AliasName=f"alias/moving-{uid}", TargetKeyId=key_id),
            "KMSInvalidStateException", "is pending deletion")
    # Still described, and recoverable: cancelling leaves it disabled until EnableKey.
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    kms.cancel_key_deletion(KeyId=arn)
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "Disabled" and "DeletionDate" not in meta
    refused(lambda: kms.decrypt(CiphertextBlob=blob), "DisabledException", "is disabled")
    refused(lambda: kms.cancel_key_deletion(KeyId=key_id), "KMSInvalidStateException",
            "is not pending deletion")
    kms.enable_key(KeyId=arn)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"phi"
    kms.create_alias(AliasName=f"alias/back-{uid}", TargetKeyId=key_id)


def test_secret_value_is_only_as_readable_as_its_key(aws, uid):
    """GetSecretValue/BatchGetSecretValue/PutSecretValue/CreateSecret/UpdateSecret check the key's state."""
    kms, sm = aws("kms"), aws("secretsmanager")
    key = kms.create_key(Description=f"sm-{uid}")["KeyMetadata"]
    key_id, arn = key["KeyId"], key["Arn"]
    mine = sm.create_secret(Name=f"cmk-{uid}", KmsKeyId=arn, SecretString='{"a": 1}')["ARN"]
    managed = sm.create_secret(Name=f"managed-{uid}", SecretString='{"b": 2}')["ARN"]

    def fails(call, code):
        with pytest.raises(ClientError) as err:
            call()
        assert code_of(err) == code, err.value.response["Error"]
        assert arn in err.value.response["Error"]["Message"]

    for state in ("disabled", "pending deletion"):
        if state == "disabled":
            kms.disable_key(KeyId=key_id)
        else:
            kms.enable_key(KeyId=key_id)
            kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
        fails(lambda: sm.get_secret_value(SecretId=mine), "DecryptionFailure")
        fails(lambda: sm.put_secret_value(SecretId=mine, SecretString="{}"), "EncryptionFailure")
        fails(lambda: sm.create_secret(Name=f"new-{uid}", KmsKeyId=key_id, SecretString="{}"),
              "EncryptionFailure")
        batch = sm.batch_get_secret_value(SecretIdList=[mine, managed])
        assert [v["ARN"] for v in batch["SecretValues"]] == [managed], state
        assert [(e["SecretId"], e["ErrorCode"]) for e in batch["Errors"]] == [
            (mine, "DecryptionFailure")], state
        # The AWS managed key is not involved.
        assert sm.get_secret_value(SecretId=managed)["SecretString"] == '{"b": 2}'

    # A restored secret is live, and still unreadable while its key is pending deletion.
    sm.delete_secret(SecretId=mine, RecoveryWindowInDays=7)
    sm.restore_secret(SecretId=mine)
    fails(lambda: sm.get_secret_value(SecretId=mine), "DecryptionFailure")
    kms.cancel_key_deletion(KeyId=key_id)
    fails(lambda: sm.get_secret_value(SecretId=mine), "DecryptionFailure")
    kms.enable_key(KeyId=key_id)
    assert sm.get_secret_value(SecretId=mine)["SecretString"] == '{"a": 1}'


def test_secret_versions_keep_the_key_they_were_written_with(aws, uid):
    """An alias is resolved at write time; UpdateSecret(KmsKeyId) re-encrypts the labelled versions."""
    kms, sm = aws("kms"), aws("secretsmanager")
    old = kms.create_key(Description=f"old-{uid}")["KeyMetadata"]
    new = kms.create_key(Description=f"new-{uid}")["KeyMetadata"]
    alias = f"alias/sm-{uid}"
    kms.create_alias(AliasName=alias, TargetKeyId=old["KeyId"])
    secret = sm.create_secret(Name=f"aliased-{uid}", KmsKeyId=alias, SecretString="v1")["ARN"]
    kms.update_alias(AliasName=alias, TargetKeyId=new["KeyId"])
    kms.disable_key(KeyId=old["KeyId"])
    with pytest.raises(ClientError) as err:
        sm.get_secret_value(SecretId=secret)
    assert code_of(err) == "DecryptionFailure" and old["Arn"] in str(err.value)
    # Re-keying needs the old key to decrypt.
    with pytest.raises(ClientError) as err:
        sm.update_secret(SecretId=secret, KmsKeyId=new["Arn"])
    assert code_of(err) == "DecryptionFailure"
    kms.enable_key(KeyId=old["KeyId"])
    sm.update_secret(SecretId=secret, KmsKeyId=new["Arn"])
    kms.schedule_key_deletion(KeyId=old["KeyId"], PendingWindowInDays=7)
    assert sm.get_secret_value(SecretId=secret)["SecretString"] == "v1"
    assert sm.describe_secret(SecretId=secret)["KmsKeyId"] == new["Arn"]


def test_replication_group_without_snapshot_window_gets_one_that_is_not_medtechs(aws, uid):
    # AWS picks the window when none is sent; it must not be medtech's default (05:00-06:00),
    # or a medtech that stopped sending its window would still look configured.
    net, key = network(aws, uid), kms_key(aws, uid)
    _, args = redis_group(aws, uid, net, key, SnapshotWindow=None)
    rg = aws("elasticache").describe_replication_groups(
        ReplicationGroupId=args["ReplicationGroupId"])["ReplicationGroups"][0]
    assert rg["SnapshotWindow"] == "08:30-09:30"


def test_kinesis_list_tags_for_stream_pages(aws, uid):
    kinesis = aws("kinesis")
    name = f"medtech-tags-{uid}"
    tags = {f"key-{i:02d}": f"value-{i}" for i in range(23)}
    kinesis.create_stream(StreamName=name, ShardCount=1, Tags=tags)
    first = kinesis.list_tags_for_stream(StreamName=name)
    assert [t["Key"] for t in first["Tags"]] == sorted(tags)[:10], "default page is 10"
    assert first["HasMoreTags"] is True
    seen, start = [], None
    while True:
        page = kinesis.list_tags_for_stream(
            StreamName=name, Limit=7, **({"ExclusiveStartTagKey": start} if start else {}))
        assert len(page["Tags"]) <= 7
        seen += page["Tags"]
        if not page["HasMoreTags"]:
            break
        start = page["Tags"][-1]["Key"]
    assert {t["Key"]: t["Value"] for t in seen} == tags
    assert len(seen) == len(tags), "ExclusiveStartTagKey is exclusive"
    whole = kinesis.list_tags_for_stream(StreamName=name, Limit=50)
    assert len(whole["Tags"]) == 23 and whole["HasMoreTags"] is False
    import boto3
    from botocore.config import Config

    # botocore checks Limit itself; without that check the server's own answer shows.
    raw = boto3.session.Session(region_name=REGION).client(
        "kinesis", endpoint_url=kinesis.meta.endpoint_url,
        config=Config(parameter_validation=False, retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as err:
        raw.list_tags_for_stream(StreamName=name, Limit=51)
    assert code_of(err) == "ValidationException"


def test_kinesis_update_shard_count_limits(aws, uid):
    kinesis = aws("kinesis")
    name = f"medtech-shards-{uid}"
    kinesis.create_stream(StreamName=name, ShardCount=2)
    with pytest.raises(ClientError) as err:  # above double
        kinesis.update_shard_count(StreamName=name, TargetShardCount=5,
                                   ScalingType="UNIFORM_SCALING")
    assert code_of(err) == "LimitExceededException"
    assert "double" in str(err.value)
    kinesis.update_shard_count(StreamName=name, TargetShardCount=4, ScalingType="UNIFORM_SCALING")
    with pytest.raises(ClientError) as err:  # below half
        kinesis.update_shard_count(StreamName=name, TargetShardCount=1,
                                   ScalingType="UNIFORM_SCALING")
    assert code_of(err) == "LimitExceededException"
    assert "half" in str(err.value)
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 4, "a refused change changes nothing"
    # One call made above; nine more fill the rolling 24 hours.
    for target in [2, 3, 2, 3, 2, 3, 2, 3, 2]:
        kinesis.update_shard_count(StreamName=name, TargetShardCount=target,
                                   ScalingType="UNIFORM_SCALING")
    with pytest.raises(ClientError) as err:
        kinesis.update_shard_count(StreamName=name, TargetShardCount=3,
                                   ScalingType="UNIFORM_SCALING")
    assert code_of(err) == "LimitExceededException"
    assert "24 hours" in str(err.value)
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 2


def test_cbor_alarm_keeps_treat_missing_data(emulator, uid):
    """moto keeps TreatMissingData and the CBOR front returns it: medtech's idle-stream alarms
    are read back as set, and an alarm created without it reports none."""
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:medtech-alarms-{uid}"
    idle = alarm_request(f"medtech-kinesis-idle-{uid}", topic)
    idle["TreatMissingData"] = "notBreaching"
    unset = alarm_request(f"medtech-unset-{uid}", topic)
    del unset["TreatMissingData"]
    for request in (idle, unset):
        assert cbor_call(emulator, "PutMetricAlarm", request)[0] == 200
    status, _, body, _ = cbor_call(emulator, "DescribeAlarms",
                                   {"AlarmNames": [idle["AlarmName"], unset["AlarmName"]]})
    assert status == 200
    got = {a["AlarmName"]: a.get("TreatMissingData") for a in body["MetricAlarms"]}
    assert got == {idle["AlarmName"]: "notBreaching", unset["AlarmName"]: None}



def member_math_alarm(name, topic, members):
    """A metric-math alarm as medtech puts it for Redis: one query per member cache cluster,
    the alarm on the maximum of them."""
    ids = [f"m{i}" for i in range(1, len(members) + 1)]
    queries = [{"Id": i, "ReturnData": False,
                "MetricStat": {"Metric": {"Namespace": "AWS/ElastiCache",
                                          "MetricName": "EngineCPUUtilization",
                                          "Dimensions": [{"Name": "CacheClusterId", "Value": m}]},
                               "Period": 300, "Stat": "Average"}}
               for i, m in zip(ids, members)]
    queries.append({"Id": "worst", "Expression": f"MAX([{','.join(ids)}])",
                    "Label": "worst member", "ReturnData": True})
    return {"AlarmName": name, "AlarmDescription": "Redis CPU", "ActionsEnabled": True,
            "AlarmActions": [topic], "InsufficientDataActions": [topic], "Metrics": queries,
            "EvaluationPeriods": 3, "Threshold": 75.0,
            "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "missing"}


def test_cbor_metric_math_alarm_round_trip(emulator, uid):
    """moto keeps an alarm's Metrics (metric math) and the CBOR front returns them as sent:
    medtech's Redis alarms are read back member by member, and a PutMetricAlarm with a single
    metric replaces the queries (a hand-edit that pins the alarm to one member)."""
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:medtech-alarms-{uid}"
    name = f"medtech-redis-cpu-{uid}"
    members = [f"medtech-redis-{uid}-001", f"medtech-redis-{uid}-002"]
    request = member_math_alarm(name, topic, members)
    assert cbor_call(emulator, "PutMetricAlarm", request)[0] == 200
    status, _, body, _ = cbor_call(emulator, "DescribeAlarms", {"AlarmNames": [name]})
    assert status == 200
    (alarm,) = body["MetricAlarms"]
    assert alarm["Metrics"] == request["Metrics"]
    for absent in ("Namespace", "MetricName", "Statistic", "Period"):
        assert alarm.get(absent) is None, absent
    assert alarm.get("Dimensions", []) == []

    pinned = alarm_request(name, topic)
    pinned.update(Namespace="AWS/ElastiCache", MetricName="EngineCPUUtilization",
                  Dimensions=[{"Name": "CacheClusterId", "Value": members[0]}])
    assert cbor_call(emulator, "PutMetricAlarm", pinned)[0] == 200
    (alarm,) = cbor_call(emulator, "DescribeAlarms", {"AlarmNames": [name]})[2]["MetricAlarms"]
    assert alarm.get("Metrics", []) == []
    assert alarm["Dimensions"] == [{"Name": "CacheClusterId", "Value": members[0]}]

def test_flow_log_delivery_status_follows_the_role(aws, uid):
    ec2, iam, logs = aws("ec2"), aws("iam"), aws("logs")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    group = f"/medtech/flow-{uid}"
    logs.create_log_group(logGroupName=group)
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
        "Action": "sts:AssumeRole"}]})
    role = iam.create_role(RoleName=f"flow-{uid}", AssumeRolePolicyDocument=trust)["Role"]
    group_arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}"

    def grant(actions, resources):
        iam.put_role_policy(RoleName=role["RoleName"], PolicyName="deliver",
                            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
                                "Effect": "Allow", "Action": actions, "Resource": resources}]}))

    def delivery():
        (log,) = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc]}])["FlowLogs"]
        return log["DeliverLogsStatus"], log.get("DeliverLogsErrorMessage")

    streams = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    grant(streams, [group_arn, f"{group_arn}:*"])
    ec2.create_flow_logs(ResourceIds=[vpc], ResourceType="VPC", TrafficType="ALL",
                         LogGroupName=group, DeliverLogsPermissionArn=role["Arn"])
    assert delivery() == ("FAILED", "Access error"), "DescribeLogGroups is missing"
    grant([*streams, "logs:DescribeLogGroups"],
          [group_arn, f"{group_arn}:*", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:*"])
    assert delivery() == ("SUCCESS", None)
    grant(["logs:PutLogEvents", "logs:DescribeLogGroups", "logs:DescribeLogStreams"],
          [group_arn, f"{group_arn}:*", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:*"])
    assert delivery() == ("FAILED", "Access error"), "CreateLogStream is missing"
    iam.delete_role_policy(RoleName=role["RoleName"], PolicyName="deliver")
    assert delivery() == ("FAILED", "Access error")


def test_rds_log_exports_make_their_groups_unless_they_exist(aws, uid, rds_env):
    rds, logs = aws("rds"), aws("logs")
    net, key, role = rds_env
    made_before = f"/aws/rds/instance/medtech-rds-{uid}/upgrade"
    logs.create_log_group(logGroupName=made_before, kmsKeyId=key["Arn"])
    rds.create_db_instance(**rds_instance_args(uid, net, key, role))
    groups = {g["logGroupName"]: g for g in logs.describe_log_groups(
        logGroupNamePrefix=f"/aws/rds/instance/medtech-rds-{uid}/")["logGroups"]}
    assert sorted(groups) == [f"/aws/rds/instance/medtech-rds-{uid}/postgresql", made_before]
    made_by_rds = groups[f"/aws/rds/instance/medtech-rds-{uid}/postgresql"]
    assert "kmsKeyId" not in made_by_rds and "retentionInDays" not in made_by_rds
    assert groups[made_before]["kmsKeyId"] == key["Arn"]


def test_delete_vpc_endpoints_reports_unsuccessful_items(aws, uid):
    ec2 = aws("ec2")
    net = network(aws, uid)
    args = dict(VpcId=net["vpc"], ServiceName=f"com.amazonaws.{REGION}.secretsmanager",
                VpcEndpointType="Interface", SubnetIds=net["subnets"],
                SecurityGroupIds=[net["sg"]])
    refused = ec2.create_vpc_endpoint(**args, TagSpecifications=[{
        "ResourceType": "vpc-endpoint",
        "Tags": [{"Key": "medtech-emulator:refuse-delete", "Value": "IncorrectState:2"}]}])
    refused = refused["VpcEndpoint"]["VpcEndpointId"]
    plain = ec2.create_vpc_endpoint(**{**args, "ServiceName": f"com.amazonaws.{REGION}.kms"})
    plain = plain["VpcEndpoint"]["VpcEndpointId"]
    missing = "vpce-0123456789abcdef0"

    def states():
        found = ec2.describe_vpc_endpoints(
            Filters=[{"Name": "vpc-endpoint-id", "Values": [refused, plain]}])["VpcEndpoints"]
        return {e["VpcEndpointId"]: e["State"].lower() for e in found}

    out = ec2.delete_vpc_endpoints(VpcEndpointIds=[refused, plain, missing])
    errors = {u["ResourceId"]: u["Error"]["Code"] for u in out["Unsuccessful"]}
    assert errors == {refused: "IncorrectState", missing: "InvalidVpcEndpoint.NotFound"}
    assert states()[refused] == "available" and states()[plain] == "deleted"
    again = ec2.delete_vpc_endpoints(VpcEndpointIds=[refused])["Unsuccessful"]
    assert [u["Error"]["Code"] for u in again] == ["IncorrectState"]
    assert ec2.delete_vpc_endpoints(VpcEndpointIds=[refused])["Unsuccessful"] == []
    assert states()[refused] == "deleted"


def test_replication_group_maintenance_window_is_at_least_an_hour(aws, uid):
    net, key = network(aws, uid), kms_key(aws, uid)
    ec = aws("elasticache")
    rid = f"medtech-redis-{uid}"
    for window in ("sun:05:00-sun:05:59", "sat:23:30-sun:00:10", "sunday:05:00-sunday:06:00"):
        with pytest.raises(ClientError) as err:
            redis_group(aws, uid, net, key, PreferredMaintenanceWindow=window)
        assert code_of(err) == "InvalidParameterValue", window
    with pytest.raises(ClientError) as err:
        ec.describe_replication_groups(ReplicationGroupId=rid)
    assert code_of(err) == "ReplicationGroupNotFoundFault"
    redis_group(aws, uid, net, key, PreferredMaintenanceWindow="sat:23:30-sun:00:30")
    with pytest.raises(ClientError) as err:
        ec.modify_replication_group(ReplicationGroupId=rid, ApplyImmediately=True,
                                    PreferredMaintenanceWindow="mon:01:00-mon:01:30")
    assert code_of(err) == "InvalidParameterValue"
    ec.modify_replication_group(ReplicationGroupId=rid, ApplyImmediately=True,
                                PreferredMaintenanceWindow="mon:01:00-mon:02:00")
    rg = ec.describe_replication_groups(ReplicationGroupId=rid)["ReplicationGroups"][0]
    members = ec.describe_cache_clusters(CacheClusterId=rg["MemberClusters"][0])["CacheClusters"]
    assert members[0]["PreferredMaintenanceWindow"] == "mon:01:00-mon:02:00"


# ====================================================================== s3
def test_bucket_versioning_answers_with_the_aws_root_element(emulator, aws, uid):
    """The Rust SDK reads GetBucketVersioning only under <VersioningConfiguration>."""
    import xml.etree.ElementTree as ET

    s3 = aws("s3")
    bucket = f"medtech-versioning-{uid}"
    s3.create_bucket(Bucket=bucket)

    def root():
        with urllib.request.urlopen(f"{emulator}/{bucket}?versioning", timeout=10) as reply:
            return ET.fromstring(reply.read())

    never = root()
    assert never.tag.split("}")[-1] == "VersioningConfiguration", never.tag
    assert list(never) == []
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    enabled = root()
    assert enabled.tag.split("}")[-1] == "VersioningConfiguration", enabled.tag
    assert [child.text for child in enabled] == ["Enabled"]


def test_listings_answer_with_the_aws_root_elements(emulator, aws, uid):
    """The Rust SDK reads ListObjectsV2 under <ListBucketResult>, ListObjectVersions under
    <ListVersionsResult>."""
    import xml.etree.ElementTree as ET

    s3 = aws("s3")
    bucket = f"medtech-listing-{uid}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="dev.json", Body=b"{}")
    for query, root in (("list-type=2", "ListBucketResult"), ("versions", "ListVersionsResult")):
        with urllib.request.urlopen(f"{emulator}/{bucket}?{query}", timeout=10) as reply:
            tree = ET.fromstring(reply.read())
        assert tree.tag.split("}")[-1] == root, (query, tree.tag)
        assert "dev.json" in ET.tostring(tree, encoding="unicode")


def test_refused_conditional_requests_are_412(aws, uid):
    """If-None-Match on an existing key, a stale If-Match, and a conditional delete of a
    changed object are each 412 PreconditionFailed, as S3 answers them."""
    s3 = aws("s3")
    bucket = f"medtech-conditions-{uid}"
    s3.create_bucket(Bucket=bucket)
    first = s3.put_object(Bucket=bucket, Key="dev.lock", Body=b"1", IfNoneMatch="*")["ETag"]
    s3.put_object(Bucket=bucket, Key="dev.lock", Body=b"2", IfMatch=first)
    for call in (
        lambda: s3.put_object(Bucket=bucket, Key="dev.lock", Body=b"3", IfNoneMatch="*"),
        lambda: s3.put_object(Bucket=bucket, Key="dev.lock", Body=b"3", IfMatch=first),
        lambda: s3.delete_object(Bucket=bucket, Key="dev.lock", IfMatch=first),
    ):
        with pytest.raises(ClientError) as err:
            call()
        assert code_of(err) == "PreconditionFailed"
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412


def test_conditional_writes_racing_on_one_key_have_one_winner(aws, uid):
    """S3 applies a conditional write atomically: of many If-None-Match puts of one key sent
    at once, exactly one succeeds (medtech's state lock rests on it). moto checks and then
    stores, so two racing requests both passed."""
    from concurrent.futures import ThreadPoolExecutor

    s3 = aws("s3")
    bucket = f"medtech-race-{uid}"
    s3.create_bucket(Bucket=bucket)

    def take(round_: int, n: int) -> bool:
        try:
            s3.put_object(Bucket=bucket, Key=f"dev{round_}.lock", Body=str(n).encode(),
                          IfNoneMatch="*")
            return True
        except ClientError as err:
            assert err.response["Error"]["Code"] in ("PreconditionFailed",
                                                     "ConditionalRequestConflict"), err
            return False

    with ThreadPoolExecutor(max_workers=8) as pool:
        for round_ in range(20):
            wins = sum(pool.map(lambda n: take(round_, n), range(8)))
            assert wins == 1, f"round {round_}: {wins} writers took the key"


def test_bucket_lifecycle_and_tagging_answer_with_the_aws_root_elements(emulator, aws, uid):
    """The Rust SDK reads GetBucketLifecycleConfiguration only under <LifecycleConfiguration>
    and GetBucketTagging only under <Tagging>."""
    import xml.etree.ElementTree as ET

    s3 = aws("s3")
    bucket = f"medtech-settings-{uid}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [{
        "ID": "medtech-state", "Status": "Enabled", "Filter": {"Prefix": "teams/"},
        "NoncurrentVersionExpiration": {"NoncurrentDays": 90}}]})
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "Purpose", "Value": "state"}]})
    for query, root, inside in (("lifecycle", "LifecycleConfiguration", "medtech-state"),
                                ("tagging", "Tagging", "Purpose")):
        with urllib.request.urlopen(f"{emulator}/{bucket}?{query}", timeout=10) as reply:
            tree = ET.fromstring(reply.read())
        assert tree.tag.split("}")[-1] == root, (query, tree.tag)
        assert inside in ET.tostring(tree, encoding="unicode")
    # boto3 reads both as before.
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [r["NoncurrentVersionExpiration"]["NoncurrentDays"] for r in rules] == [90]
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "Purpose", "Value": "state"}]


def test_head_bucket_of_another_accounts_bucket_is_403(aws, uid):
    """S3 answers HeadBucket on a bucket another account owns (and shares with no one) 403,
    and CreateBucket of its name 409 BucketAlreadyExists; moto answered the HEAD 200."""
    import boto3

    other = boto3.session.Session(region_name=REGION).client(
        "s3", endpoint_url=aws("s3").meta.endpoint_url)
    other.meta.events.register(
        "before-sign.s3.*", lambda request, **_: request.headers.add_header(
            "x-moto-account-id", "111122223333"))
    s3 = aws("s3")
    theirs, ours = f"medtech-theirs-{uid}", f"medtech-ours-{uid}"
    other.create_bucket(Bucket=theirs)
    s3.create_bucket(Bucket=ours)
    with pytest.raises(ClientError) as err:
        s3.head_bucket(Bucket=theirs)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert other.head_bucket(Bucket=theirs)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.head_bucket(Bucket=ours)["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(ClientError) as err:
        s3.create_bucket(Bucket=theirs)
    assert code_of(err) == "BucketAlreadyExists"
    with pytest.raises(ClientError) as err:
        s3.head_bucket(Bucket=f"medtech-nobody-{uid}")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_a_bucket_policy_denying_plain_http_lets_requests_through(aws, uid):
    """Clients reach S3 over TLS, so a statement that denies requests with
    aws:SecureTransport = false does not apply to them; one without that condition still
    does.  moto ignored the condition and denied every object request."""
    s3 = aws("s3")
    bucket = f"medtech-tls-{uid}"
    s3.create_bucket(Bucket=bucket)
    tls_only = {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(
        {"Version": "2012-10-17", "Statement": [tls_only]}))
    s3.put_object(Bucket=bucket, Key="dev.json", Body=b"{}")
    assert s3.get_object(Bucket=bucket, Key="dev.json")["Body"].read() == b"{}"
    no_reads = {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*"}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(
        {"Version": "2012-10-17", "Statement": [tls_only, no_reads]}))
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="dev.json")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    s3.put_object(Bucket=bucket, Key="dev.json", Body=b"{}")


def test_bucket_calls_are_checked_as_their_iam_actions(emulator, aws, uid):
    """HeadBucket needs s3:ListBucket; bucket encryption, public access block and ownership
    controls need their own IAM actions, not s3:ListBucket or s3:CreateBucket."""
    import boto3

    bucket = f"medtech-iam-{uid}"
    aws("s3").create_bucket(Bucket=bucket)
    iam = aws("iam")
    user = f"s3-{uid}"
    iam.create_user(UserName=user)

    def allow(*actions):
        iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Resource": "*", "Action": list(actions)}]}))

    key = iam.create_access_key(UserName=user)["AccessKey"]
    s3 = boto3.session.Session(region_name=REGION, aws_access_key_id=key["AccessKeyId"],
                               aws_secret_access_key=key["SecretAccessKey"]).client(
        "s3", endpoint_url=emulator)
    gets = (
        (lambda: s3.get_bucket_encryption(Bucket=bucket), "ServerSideEncryptionConfigurationNotFoundError"),
        (lambda: s3.get_public_access_block(Bucket=bucket), "NoSuchPublicAccessBlockConfiguration"),
        (lambda: s3.get_bucket_ownership_controls(Bucket=bucket), "OwnershipControlsNotFoundError"),
    )
    puts = (
        lambda: s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]}),
        lambda: s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True}),
        lambda: s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={
            "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}),
    )
    allow("s3:ListBucket", "s3:CreateBucket")
    _set_auth(emulator, "0")
    try:
        s3.head_bucket(Bucket=bucket)
        for call in [get for get, _ in gets] + list(puts):
            with pytest.raises(ClientError) as denied:
                call()
            assert code_of(denied) == "AccessDenied"
        _set_auth(emulator, "inf")
        allow("s3:GetEncryptionConfiguration", "s3:GetBucketPublicAccessBlock",
              "s3:GetBucketOwnershipControls", "s3:PutEncryptionConfiguration",
              "s3:PutBucketPublicAccessBlock", "s3:PutBucketOwnershipControls")
        _set_auth(emulator, "0")
        for call, missing in gets:
            # Allowed: the answer is the bucket's (no such setting yet), not a refusal.
            with pytest.raises(ClientError) as err:
                call()
            assert code_of(err) == missing, err.value.response["Error"]
        for call in puts:
            call()
    finally:
        _set_auth(emulator, "inf")
