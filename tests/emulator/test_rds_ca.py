"""Proof that RDS's CAs, ports and enhanced monitoring ARN look as RDS reports them
(patches_rds.py, "CAs, ports and enhanced monitoring").

medtech pins the instance's CA and checks how long it stays valid (DescribeCertificates), moves
the port in place (DBPortNumber), and checks that enhanced monitoring delivers somewhere
(EnhancedMonitoringResourceArn): moto had no DescribeCertificates, an invented default CA, no
CertificateDetails, ignored DBPortNumber and never reported the monitoring ARN.
"""
from __future__ import annotations

import datetime as dt

import pytest
from botocore.exceptions import ClientError

from conftest import REGION
from test_emulator import ACCOUNT, code_of, rds_env, rds_instance_args  # noqa: F401 (fixture)

CAS = {
    "rds-ca-rsa2048-g1": dt.datetime(2061, 5, 25, 23, 34, 57, tzinfo=dt.timezone.utc),
    "rds-ca-rsa4096-g1": dt.datetime(2121, 5, 25, 23, 38, 35, tzinfo=dt.timezone.utc),
    "rds-ca-ecc384-g1": dt.datetime(2121, 5, 25, 23, 41, 55, tzinfo=dt.timezone.utc),
}


def describe(rds, name: str) -> dict:
    return rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]


def test_describe_certificates_lists_the_regions_cas(aws):
    rds = aws("rds")
    out = rds.describe_certificates()
    assert out["DefaultCertificateForNewLaunches"] == "rds-ca-rsa2048-g1"
    listed = {c["CertificateIdentifier"]: c for c in out["Certificates"]}
    assert {ca: c["ValidTill"] for ca, c in listed.items()} == CAS
    for ca, cert in listed.items():
        assert cert["CertificateType"] == "CA"
        assert cert["CertificateArn"] == f"arn:aws:rds:{REGION}::cert:{ca}"
        assert cert["ValidFrom"] < dt.datetime.now(dt.timezone.utc) < cert["ValidTill"]

    one = rds.describe_certificates(CertificateIdentifier="RDS-CA-ECC384-G1", MaxRecords=20)
    assert [c["CertificateIdentifier"] for c in one["Certificates"]] == ["rds-ca-ecc384-g1"]
    with pytest.raises(ClientError) as err:
        rds.describe_certificates(CertificateIdentifier="rds-ca-2019")
    assert code_of(err) == "CertificateNotFound"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as err:
        rds.describe_certificates(MaxRecords=19)
    assert code_of(err) == "InvalidParameterValue"


def test_the_ca_defaults_to_rsa2048_and_is_pinned_and_changed(aws, uid, rds_env):
    rds = aws("rds")
    net, key, role = rds_env
    default = rds.create_db_instance(**rds_instance_args(uid, net, key, role, DeletionProtection=False))
    db = default["DBInstance"]
    assert db["CACertificateIdentifier"] == "rds-ca-rsa2048-g1"
    details = describe(rds, db["DBInstanceIdentifier"])["CertificateDetails"]
    assert details["CAIdentifier"] == "rds-ca-rsa2048-g1"
    # A server certificate, which RDS rotates long before its CA ends.
    now = dt.datetime.now(dt.timezone.utc)
    assert now + dt.timedelta(days=300) < details["ValidTill"] < now + dt.timedelta(days=400)

    pinned = rds.create_db_instance(**rds_instance_args(
        uid, net, key, role, DBInstanceIdentifier=f"pinned-{uid}",
        CACertificateIdentifier="rds-ca-ecc384-g1", DeletionProtection=False))["DBInstance"]
    assert pinned["CACertificateIdentifier"] == "rds-ca-ecc384-g1"

    changed = rds.modify_db_instance(DBInstanceIdentifier=f"pinned-{uid}", ApplyImmediately=True,
                                     CACertificateIdentifier="rds-ca-rsa4096-g1")["DBInstance"]
    assert changed["CACertificateIdentifier"] == "rds-ca-rsa4096-g1"
    assert describe(rds, f"pinned-{uid}")["CertificateDetails"]["CAIdentifier"] == "rds-ca-rsa4096-g1"

    with pytest.raises(ClientError) as err:
        rds.modify_db_instance(DBInstanceIdentifier=f"pinned-{uid}", ApplyImmediately=True,
                               CACertificateIdentifier="rds-ca-2019")
    assert code_of(err) == "CertificateNotFound"
    assert describe(rds, f"pinned-{uid}")["CACertificateIdentifier"] == "rds-ca-rsa4096-g1"
    with pytest.raises(ClientError) as err:
        rds.create_db_instance(**rds_instance_args(
            uid, net, key, role, DBInstanceIdentifier=f"unknown-ca-{uid}",
            CACertificateIdentifier="rds-ca-default"))
    assert code_of(err) == "CertificateNotFound"
    assert not rds.describe_db_instances(
        Filters=[{"Name": "db-instance-id", "Values": [f"unknown-ca-{uid}"]}])["DBInstances"]


def test_the_port_is_set_at_create_and_moved_by_db_port_number(aws, uid, rds_env):
    rds = aws("rds")
    net, key, role = rds_env
    name = f"port-{uid}"
    db = rds.create_db_instance(**rds_instance_args(
        uid, net, key, role, DBInstanceIdentifier=name, Port=6543,
        DeletionProtection=False))["DBInstance"]
    assert db["Endpoint"]["Port"] == 6543 and db["DbInstancePort"] == 6543

    moved = rds.modify_db_instance(DBInstanceIdentifier=name, DBPortNumber=7777,
                                   ApplyImmediately=True)["DBInstance"]
    assert moved["Endpoint"]["Port"] == 7777
    assert describe(rds, name)["DbInstancePort"] == 7777

    for bad in (1149, 65536):
        with pytest.raises(ClientError) as err:
            rds.modify_db_instance(DBInstanceIdentifier=name, DBPortNumber=bad,
                                   ApplyImmediately=True)
        assert code_of(err) == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        rds.create_db_instance(**rds_instance_args(
            uid, net, key, role, DBInstanceIdentifier=f"low-port-{uid}", Port=80))
    assert code_of(err) == "InvalidParameterValue"
    assert describe(rds, name)["Endpoint"]["Port"] == 7777


def test_enhanced_monitoring_reports_the_instances_os_metrics_stream(aws, uid, rds_env):
    rds = aws("rds")
    net, key, role = rds_env
    first = rds.create_db_instance(**rds_instance_args(
        uid, net, key, role, DBInstanceIdentifier=f"em-a-{uid}", DeletionProtection=False))
    second = rds.create_db_instance(**rds_instance_args(
        uid, net, key, role, DBInstanceIdentifier=f"em-b-{uid}", DeletionProtection=False))
    ids = [r["DBInstance"]["DbiResourceId"] for r in (first, second)]
    assert ids[0] != ids[1], "each instance has its own DbiResourceId"
    for name, resource_id in zip((f"em-a-{uid}", f"em-b-{uid}"), ids):
        db = describe(rds, name)
        assert db["DbiResourceId"] == resource_id
        assert resource_id.startswith("db-") and len(resource_id) == 29
        assert db["EnhancedMonitoringResourceArn"] == (
            f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:RDSOSMetrics:log-stream:{resource_id}")

    off = rds.create_db_instance(**rds_instance_args(
        uid, net, key, role, DBInstanceIdentifier=f"em-off-{uid}", MonitoringInterval=0,
        MonitoringRoleArn=None, DeletionProtection=False))["DBInstance"]
    assert "EnhancedMonitoringResourceArn" not in off
    assert "EnhancedMonitoringResourceArn" not in describe(rds, f"em-off-{uid}")
