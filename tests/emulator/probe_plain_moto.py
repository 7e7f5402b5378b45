"""Probe plain moto (no medtech patches) for the gaps listed in shared/EMULATOR-GAPS.md.

Run:  .venv/bin/python tests/emulator/probe_plain_moto.py [--patched]

Prints one line per check: GAP (moto differs from real AWS) or OK.  With
--patched the same checks run against the medtech emulator (patches applied),
so every line should read OK.  This is a measuring tool, not a test.
"""
import json
import os
import sys
import time

import boto3
import botocore.exceptions

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
REGION = "us-east-1"


def start(patched):
    if patched:
        from medtech_emulator.app import EmulatorServer
        srv = EmulatorServer("127.0.0.1", 0)
        srv.start()
        return srv, srv.port
    from moto.server import ThreadedMotoServer
    srv = ThreadedMotoServer("127.0.0.1", 0, verbose=False)
    srv.start()
    return srv, srv.get_host_and_port()[1]


def main():
    patched = "--patched" in sys.argv
    srv, port = start(patched)
    url = f"http://127.0.0.1:{port}"
    c = lambda s: boto3.client(s, region_name=REGION, endpoint_url=url)
    results = []

    def check(name, fn):
        try:
            ok, detail = fn()
        except Exception as e:  # noqa
            ok, detail = False, f"{type(e).__name__}: {e}"
        results.append((name, ok))
        print(f"{'OK ' if ok else 'GAP'} {name}: {detail}")

    def code_of(fn):
        try:
            fn()
            return None
        except botocore.exceptions.ClientError as e:
            return e.response["Error"]["Code"]

    ec2, rds, ec, iam, cw, logs, kms = (c(s) for s in ("ec2", "rds", "elasticache", "iam", "cloudwatch", "logs", "kms"))

    # --- CloudWatch CBOR
    import urllib.request
    import cbor2
    def cbor_call():
        req = urllib.request.Request(
            url + "/service/GraniteServiceVersion20100801/operation/DescribeAlarms",
            data=cbor2.dumps({}), method="POST",
            headers={"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor", "Accept": "application/cbor",
                     "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/monitoring/aws4_request, SignedHeaders=host, Signature=x"})
        try:
            r = urllib.request.urlopen(req)
            body, ct, st = r.read(), r.headers.get("Content-Type"), r.status
        except urllib.error.HTTPError as e:
            body, ct, st = e.read(), e.headers.get("Content-Type"), e.code
        return ct == "application/cbor", f"status={st} content-type={ct} body={body[:80]!r}"
    check("cloudwatch rpc-v2-cbor", cbor_call)

    # --- CloudWatch alarm initial state
    def alarm_state():
        cw.put_metric_alarm(AlarmName="probe", MetricName="CPUUtilization", Namespace="AWS/RDS", Statistic="Average",
                            Period=300, EvaluationPeriods=1, Threshold=80.0, ComparisonOperator="GreaterThanThreshold")
        st = cw.describe_alarms(AlarmNames=["probe"])["MetricAlarms"][0]["StateValue"]
        return st == "INSUFFICIENT_DATA", st
    check("new alarm state", alarm_state)

    # --- EC2 networking
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    sa = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    sb = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1b")["Subnet"]["SubnetId"]
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    eip2 = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=sa, AllocationId=eip, ClientToken="tok-1",
                                 TagSpecifications=[{"ResourceType": "natgateway", "Tags": [{"Key": "Name", "Value": "medtech-nat-x"}]}])["NatGateway"]["NatGatewayId"]
    ec2.create_nat_gateway(SubnetId=sb, AllocationId=eip2)

    def nat_filter():
        got = ec2.describe_nat_gateways(Filters=[{"Name": "tag:Name", "Values": ["medtech-nat-x"]}])["NatGateways"]
        return [g["NatGatewayId"] for g in got] == [nat], f"{len(got)} gateways for tag filter"
    check("DescribeNatGateways tag filter", nat_filter)

    def nat_repeated_filter():
        got = ec2.describe_nat_gateways(Filters=[{"Name": "state", "Values": ["pending"]},
                                                 {"Name": "state", "Values": ["available"]}])["NatGateways"]
        return got == [], f"{len(got)} gateways for state=pending AND state=available"
    check("EC2 repeated filter names are ANDed", nat_repeated_filter)

    def nat_token():
        again = code_of(lambda: None)
        try:
            g = ec2.create_nat_gateway(SubnetId=sa, AllocationId=eip, ClientToken="tok-1",
                                       TagSpecifications=[{"ResourceType": "natgateway", "Tags": [{"Key": "Name", "Value": "medtech-nat-x"}]}])["NatGateway"]["NatGatewayId"]
        except botocore.exceptions.ClientError as e:
            return False, f"repeat failed: {e.response['Error']['Code']}"
        return g == nat, f"first={nat} repeat={g}"
    check("CreateNatGateway ClientToken", nat_token)

    # --- KMS
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/probe", TargetKeyId=key["KeyId"])

    # --- Kinesis
    kin = c("kinesis")
    kin.create_stream(StreamName="probe", ShardCount=1)
    check("Kinesis encryption with unknown key rejected", lambda: (
        (lambda code: (code == "KMSNotFoundException", f"code={code}"))(
            code_of(lambda: kin.start_stream_encryption(StreamName="probe", EncryptionType="KMS", KeyId="alias/nope")))))

    # --- Logs
    check("PutRetentionPolicy 91 days rejected", lambda: (
        (lambda code: (code == "InvalidParameterException", f"code={code}"))(
            code_of(lambda: (logs.create_log_group(logGroupName="/probe/a"), logs.put_retention_policy(logGroupName="/probe/a", retentionInDays=91))))))
    check("CreateLogGroup unknown kms key rejected", lambda: (
        (lambda code: (code is not None, f"code={code}"))(
            code_of(lambda: logs.create_log_group(logGroupName="/probe/b", kmsKeyId="arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000")))))

    # --- IAM
    check("AmazonRDSEnhancedMonitoringRole exists", lambda: (
        (lambda code: (code is None, f"code={code}"))(
            code_of(lambda: iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole")))))

    # --- RDS
    rds.create_db_subnet_group(DBSubnetGroupName="probe-dbsg", DBSubnetGroupDescription="d", SubnetIds=[sa, sb])
    check("CreateDBSubnetGroup duplicate", lambda: (
        (lambda code: (code == "DBSubnetGroupAlreadyExists", f"code={code}"))(
            code_of(lambda: rds.create_db_subnet_group(DBSubnetGroupName="probe-dbsg", DBSubnetGroupDescription="d", SubnetIds=[sa, sb])))))
    check("CreateDBParameterGroup unknown family", lambda: (
        (lambda code: (code == "InvalidParameterValue", f"code={code}"))(
            code_of(lambda: rds.create_db_parameter_group(DBParameterGroupName="probe-pg", DBParameterGroupFamily="postgres99", Description="d")))))
    check("CreateDBInstance short password", lambda: (
        (lambda code: (code == "InvalidParameterValue", f"code={code}"))(
            code_of(lambda: rds.create_db_instance(DBInstanceIdentifier="probe-short", DBInstanceClass="db.t3.micro", Engine="postgres",
                                                   MasterUsername="u", MasterUserPassword="short", AllocatedStorage=20)))))
    role = iam.create_role(RoleName="mon", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    rds.create_db_parameter_group(DBParameterGroupName="probe-pg16", DBParameterGroupFamily="postgres16", Description="d")
    db = rds.create_db_instance(
        DBInstanceIdentifier="probe-db", DBInstanceClass="db.t3.medium", Engine="postgres", EngineVersion="16.8",
        MasterUsername="medtech", MasterUserPassword="averylongpassword123", AllocatedStorage=20, StorageType="gp3",
        MultiAZ=True, StorageEncrypted=True, KmsKeyId="alias/probe", BackupRetentionPeriod=30,
        EnableCloudwatchLogsExports=["postgresql", "upgrade"], PubliclyAccessible=False, DeletionProtection=True,
        CopyTagsToSnapshot=True, AutoMinorVersionUpgrade=True, EnableIAMDatabaseAuthentication=True,
        MonitoringInterval=60, MonitoringRoleArn=role, EnablePerformanceInsights=True,
        PerformanceInsightsKMSKeyId="alias/probe", DBSubnetGroupName="probe-dbsg", DBParameterGroupName="probe-pg16",
        VpcSecurityGroupIds=[ec2.create_security_group(GroupName="rds", Description="d", VpcId=vpc)["GroupId"]])["DBInstance"]
    d = rds.describe_db_instances(DBInstanceIdentifier="probe-db")["DBInstances"][0]
    want = {"MultiAZ": True, "StorageEncrypted": True, "StorageType": "gp3", "BackupRetentionPeriod": 30,
            "EnabledCloudwatchLogsExports": ["postgresql", "upgrade"], "PubliclyAccessible": False, "DeletionProtection": True,
            "CopyTagsToSnapshot": True, "AutoMinorVersionUpgrade": True, "IAMDatabaseAuthenticationEnabled": True,
            "MonitoringInterval": 60, "MonitoringRoleArn": role, "PerformanceInsightsEnabled": True,
            "KmsKeyId": key["Arn"], "PerformanceInsightsKMSKeyId": key["Arn"], "PerformanceInsightsRetentionPeriod": 7}
    for k, v in want.items():
        check(f"RDS {k}", lambda k=k, v=v: (d.get(k) == v, f"got {d.get(k)!r}"))
    check("RDS SecondaryAvailabilityZone", lambda: (bool(d.get("SecondaryAvailabilityZone")) and d.get("SecondaryAvailabilityZone") != d.get("AvailabilityZone"), f"{d.get('AvailabilityZone')} / {d.get('SecondaryAvailabilityZone')}"))
    check("RDS DBParameterGroups", lambda: (d["DBParameterGroups"][0]["DBParameterGroupName"] == "probe-pg16", d["DBParameterGroups"]))
    check("RDS DBSubnetGroup", lambda: (d["DBSubnetGroup"]["DBSubnetGroupName"] == "probe-dbsg" and len(d["DBSubnetGroup"]["Subnets"]) == 2, d["DBSubnetGroup"]["DBSubnetGroupName"]))
    check("RDS VpcSecurityGroups", lambda: (len(d["VpcSecurityGroups"]) == 1, d["VpcSecurityGroups"]))
    check("RDS unknown KMS key rejected", lambda: (
        (lambda code: (code == "KMSKeyNotAccessibleFault", f"code={code}"))(
            code_of(lambda: rds.create_db_instance(DBInstanceIdentifier="probe-nokey", DBInstanceClass="db.t3.micro", Engine="postgres",
                                                   MasterUsername="u", MasterUserPassword="averylongpassword", AllocatedStorage=20,
                                                   StorageEncrypted=True, KmsKeyId="alias/does-not-exist")))))
    def rds_delete():
        code = code_of(lambda: rds.delete_db_instance(DBInstanceIdentifier="probe-db", FinalDBSnapshotIdentifier="probe-final"))
        if code != "InvalidParameterCombination":
            return False, f"delete with deletion protection on: code={code}"
        rds.modify_db_instance(DBInstanceIdentifier="probe-db", DeletionProtection=False, ApplyImmediately=True)
        rds.delete_db_instance(DBInstanceIdentifier="probe-db", FinalDBSnapshotIdentifier="probe-final")
        snaps = rds.describe_db_snapshots(DBSnapshotIdentifier="probe-final")["DBSnapshots"]
        return len(snaps) == 1, f"snapshots={[s['DBSnapshotIdentifier'] for s in snaps]}"
    check("RDS modify DeletionProtection + final snapshot", rds_delete)

    # --- ElastiCache
    ec.create_cache_subnet_group(CacheSubnetGroupName="probe-csg", CacheSubnetGroupDescription="d", SubnetIds=[sa, sb])
    def rg_create():
        r = ec.create_replication_group(
            ReplicationGroupId="probe-redis", ReplicationGroupDescription="d", Engine="redis", CacheNodeType="cache.t3.micro",
            NumCacheClusters=2, AutomaticFailoverEnabled=True, MultiAZEnabled=True, TransitEncryptionEnabled=True,
            AtRestEncryptionEnabled=True, KmsKeyId=key["Arn"], AuthToken="a" * 64, Port=6379, CacheSubnetGroupName="probe-csg",
            SnapshotRetentionLimit=7, SnapshotWindow="03:00-04:00", PreferredMaintenanceWindow="sun:05:00-sun:06:00")["ReplicationGroup"]
        return len(r.get("MemberClusters", [])) == 2, f"MemberClusters={r.get('MemberClusters')}"
    check("CreateReplicationGroup NumCacheClusters=2", rg_create)
    rg = ec.describe_replication_groups(ReplicationGroupId="probe-redis")["ReplicationGroups"][0]
    ng = rg["NodeGroups"][0]
    check("RG ReaderEndpoint", lambda: ("ReaderEndpoint" in ng, ng.get("ReaderEndpoint")))
    check("RG NodeGroupMembers", lambda: (len(ng.get("NodeGroupMembers", [])) == 2, ng.get("NodeGroupMembers")))
    for k in ("AutomaticFailover", "MultiAZ", "TransitEncryptionEnabled", "AtRestEncryptionEnabled", "KmsKeyId", "AuthTokenEnabled", "SnapshotRetentionLimit", "SnapshotWindow"):
        check(f"RG {k}", lambda k=k: (k in rg, rg.get(k)))
    def members():
        cl = ec.describe_cache_clusters()["CacheClusters"]
        return len(cl) == 2, [(x["CacheClusterId"], x.get("PreferredMaintenanceWindow"), x.get("CacheSubnetGroupName")) for x in cl]
    check("RG member clusters exist", members)
    check("RG one node + failover rejected", lambda: (
        (lambda code: (code == "InvalidParameterCombination", f"code={code}"))(
            code_of(lambda: ec.create_replication_group(ReplicationGroupId="probe-1", ReplicationGroupDescription="d", Engine="redis",
                                                        NumCacheClusters=1, AutomaticFailoverEnabled=True)))))
    check("RG auth token without TLS rejected", lambda: (
        (lambda code: (code == "InvalidParameterValue", f"code={code}"))(
            code_of(lambda: ec.create_replication_group(ReplicationGroupId="probe-2", ReplicationGroupDescription="d", Engine="redis",
                                                        NumCacheClusters=2, AuthToken="b" * 32)))))
    check("RG short auth token rejected", lambda: (
        (lambda code: (code == "InvalidParameterValue", f"code={code}"))(
            code_of(lambda: ec.create_replication_group(ReplicationGroupId="probe-3", ReplicationGroupDescription="d", Engine="redis",
                                                        NumCacheClusters=2, TransitEncryptionEnabled=True, AuthToken="short")))))
    check("DeleteCacheSubnetGroup in use", lambda: (
        (lambda code: (code == "CacheSubnetGroupInUse", f"code={code}"))(
            code_of(lambda: ec.delete_cache_subnet_group(CacheSubnetGroupName="probe-csg")))))
    def rg_delete():
        ec.delete_replication_group(ReplicationGroupId="probe-redis")
        states = []
        for _ in range(3):
            try:
                states.append(ec.describe_replication_groups(ReplicationGroupId="probe-redis")["ReplicationGroups"][0]["Status"])
            except botocore.exceptions.ClientError as e:
                states.append(e.response["Error"]["Code"])
        return states[-1] == "ReplicationGroupNotFoundFault", states
    check("DeleteReplicationGroup goes away", rg_delete)
    check("DeleteCacheSubnetGroup after delete", lambda: (
        (lambda code: (code is None, f"code={code}"))(
            code_of(lambda: ec.delete_cache_subnet_group(CacheSubnetGroupName="probe-csg")))))

    gaps = sum(1 for _, ok in results if not ok)
    print(f"\n{gaps} gap(s) of {len(results)} checks ({'patched emulator' if patched else 'plain moto 5.2.5'})")
    srv.stop()


if __name__ == "__main__":
    main()
