"""Proof that RDS, ElastiCache and interface VPC endpoints have the network interfaces AWS
gives them (patches_ec2.py, patches_rds.py, patches_elasticache.py; lifecycle.py for how long
they outlive their owner).

A compliance scanner tells a used security group from an unused one by the interfaces
``DescribeNetworkInterfaces`` lists in it (Prowler's ``ec2_securitygroup_not_used``): moto
made none for RDS and ElastiCache, and gave an endpoint's the VPC's default group, so the
stack's database, cache and endpoint groups all looked unused.
"""
from __future__ import annotations

import ipaddress

from test_behaviour import (  # noqa: F401 (fixtures)
    emu,
    eventually,
    rds_args,
    rds_groups,
    refused,
    server,
    settles,
    within,
)
from test_behaviour import network as bare_network
from test_emulator import kms_key, network, rds_env, rds_instance_args, redis_group  # noqa: F401

ENDPOINT = "com.amazonaws.us-east-1.secretsmanager"


def interfaces(ec2, **filters) -> list[dict]:
    """The interfaces matching ``filters`` (name -> values), by subnet then description."""
    found = ec2.describe_network_interfaces(
        Filters=[{"Name": name, "Values": values} for name, values in filters.items()])
    return sorted(found["NetworkInterfaces"], key=lambda e: (e["SubnetId"], e["Description"]))


def groups_of(eni) -> list[str]:
    return [g["GroupId"] for g in eni["Groups"]]


def managed_by(eni, requester, interface_type="interface") -> bool:
    return (eni["RequesterManaged"] is True and eni["RequesterId"] == requester
            and eni["InterfaceType"] == interface_type and eni["Status"] == "in-use")


def test_an_endpoints_interfaces_carry_its_groups_and_follow_its_subnets(aws, uid):
    ec2 = aws("ec2")
    net = network(aws, uid)
    other = ec2.create_security_group(GroupName=f"other-{uid}", Description="d",
                                      VpcId=net["vpc"])["GroupId"]
    endpoint = ec2.create_vpc_endpoint(VpcId=net["vpc"], ServiceName=ENDPOINT,
                                       VpcEndpointType="Interface", SubnetIds=net["subnets"],
                                       SecurityGroupIds=[net["sg"]])["VpcEndpoint"]
    vid = endpoint["VpcEndpointId"]
    enis = interfaces(ec2, **{"vpc-id": [net["vpc"]]})
    assert sorted(endpoint["NetworkInterfaceIds"]) == sorted(e["NetworkInterfaceId"] for e in enis)
    assert [e["SubnetId"] for e in enis] == sorted(net["subnets"])
    subnets = {s["SubnetId"]: s for s in ec2.describe_subnets(SubnetIds=net["subnets"])["Subnets"]}
    for eni in enis:
        assert groups_of(eni) == [net["sg"]]
        assert managed_by(eni, "727180483921", "vpc_endpoint")
        assert eni["Description"] == f"VPC Endpoint Interface {vid}"
        cidr = ipaddress.ip_network(subnets[eni["SubnetId"]]["CidrBlock"])
        assert ipaddress.ip_address(eni["PrivateIpAddress"]) in cidr
    assert len(interfaces(ec2, **{"group-id": [net["sg"]]})) == 2

    ec2.modify_vpc_endpoint(VpcEndpointId=vid, AddSecurityGroupIds=[other],
                            RemoveSecurityGroupIds=[net["sg"]], RemoveSubnetIds=net["subnets"][1:])
    (eni,) = interfaces(ec2, **{"vpc-id": [net["vpc"]]})
    assert (eni["SubnetId"], groups_of(eni)) == (net["subnets"][0], [other])
    assert interfaces(ec2, **{"group-id": [net["sg"]]}) == []
    ec2.modify_vpc_endpoint(VpcEndpointId=vid, AddSubnetIds=net["subnets"][1:])
    assert [groups_of(e) for e in interfaces(ec2, **{"vpc-id": [net["vpc"]]})] == [[other]] * 2
    listed = ec2.describe_vpc_endpoints(VpcEndpointIds=[vid])["VpcEndpoints"][0]
    assert len(listed["NetworkInterfaceIds"]) == 2

    ec2.delete_vpc_endpoints(VpcEndpointIds=[vid])
    assert interfaces(ec2, **{"vpc-id": [net["vpc"]]}) == []
    for group in (net["sg"], other):
        ec2.delete_security_group(GroupId=group)
    for subnet in net["subnets"]:
        ec2.delete_subnet(SubnetId=subnet)


def test_an_rds_instance_has_an_interface_per_az_in_its_groups(aws, uid, rds_env):
    ec2, rds = aws("ec2"), aws("rds")
    net, key, role = rds_env
    other = ec2.create_security_group(GroupName=f"other-{uid}", Description="d",
                                      VpcId=net["vpc"])["GroupId"]
    name = f"medtech-rds-{uid}"
    rds.create_db_instance(**rds_instance_args(uid, net, key, role, DeletionProtection=False))
    db = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]

    enis = interfaces(ec2, **{"group-id": [net["sg"]]})
    assert {e["AvailabilityZone"] for e in enis} == {db["AvailabilityZone"],
                                                     db["SecondaryAvailabilityZone"]}
    assert len(enis) == 2 and {e["SubnetId"] for e in enis} == set(net["subnets"])
    for eni in enis:
        assert managed_by(eni, "amazon-rds")
        assert eni["Description"] == "RDSNetworkInterface"
        assert groups_of(eni) == [net["sg"]]

    rds.modify_db_instance(DBInstanceIdentifier=name, VpcSecurityGroupIds=[other],
                           ApplyImmediately=True)
    assert interfaces(ec2, **{"group-id": [net["sg"]]}) == []
    assert [groups_of(e) for e in interfaces(ec2, **{"vpc-id": [net["vpc"]]})] == [[other]] * 2

    rds.delete_db_instance(DBInstanceIdentifier=name, SkipFinalSnapshot=True)
    assert interfaces(ec2, **{"vpc-id": [net["vpc"]]}) == []
    for group in (net["sg"], other):
        ec2.delete_security_group(GroupId=group)


def test_each_cache_node_has_an_interface_in_the_groups_security_groups(aws, uid):
    ec2, ec = aws("ec2"), aws("elasticache")
    net, key = network(aws, uid), kms_key(aws, uid)
    other = ec2.create_security_group(GroupName=f"other-{uid}", Description="d",
                                      VpcId=net["vpc"])["GroupId"]
    rg, args = redis_group(aws, uid, net, key)
    rid = rg["ReplicationGroupId"]
    nodes = {c["CacheClusterId"]: c["PreferredAvailabilityZone"]
             for c in ec.describe_cache_clusters()["CacheClusters"]
             if c.get("ReplicationGroupId") == rid}
    assert sorted(nodes) == [f"{rid}-001", f"{rid}-002"]

    enis = interfaces(ec2, **{"group-id": [net["sg"]]})
    assert {e["Description"]: e["AvailabilityZone"] for e in enis} == {
        f"ElastiCache {cid}": az for cid, az in nodes.items()}
    for eni in enis:
        assert managed_by(eni, "amazon-elasticache")
        assert groups_of(eni) == [net["sg"]] and eni["SubnetId"] in net["subnets"]

    ec.modify_replication_group(ReplicationGroupId=rid, SecurityGroupIds=[other],
                                ApplyImmediately=True)
    assert interfaces(ec2, **{"group-id": [net["sg"]]}) == []
    assert [groups_of(e) for e in interfaces(ec2, **{"vpc-id": [net["vpc"]]})] == [[other]] * 2

    # A retained primary keeps its interface; the other node's goes with the group.
    ec.delete_replication_group(ReplicationGroupId=rid, RetainPrimaryCluster=True)
    (kept,) = interfaces(ec2, **{"vpc-id": [net["vpc"]]})
    assert kept["Description"] == f"ElastiCache {rid}-001"


# ============================================================ with the latency model
def test_the_interfaces_of_a_deleted_instance_are_what_lingers(emu, uid):
    ec2, rds = emu("ec2"), emu("rds")
    vpc, subnets, sg = bare_network(ec2, uid)
    rds_groups(rds, uid, subnets)
    name = f"medtech-rds-{uid}"

    def status():
        return rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]["DBInstanceStatus"]

    rds.create_db_instance(**rds_args(uid, name, sg))
    settles(status, "creating", "available")
    (eni,) = interfaces(ec2, **{"vpc-id": [vpc]})
    assert groups_of(eni) == [sg]

    rds.delete_db_instance(DBInstanceIdentifier=name, SkipFinalSnapshot=True)
    # The clock stops as it goes: the linger that starts then lasts the block below.
    emu.clock(stop_when_done={"kind": "rds", "id": name})
    settles(status, "deleting", "DBInstanceNotFound")
    with within(emu, "eni_linger"):
        # The deleted instance's interface is still there, in its group: what holds both.
        assert [(e["NetworkInterfaceId"], groups_of(e))
                for e in interfaces(ec2, **{"vpc-id": [vpc]})] == [(eni["NetworkInterfaceId"], [sg])]
        err = refused(ec2.delete_security_group, GroupId=sg)
        assert f"deleted RDS DB instance {name}" in err.response["Error"]["Message"]
    eventually(ec2.delete_security_group, GroupId=sg)
    assert interfaces(ec2, **{"vpc-id": [vpc]}) == []


def test_an_endpoints_interfaces_linger_and_go_when_latency_is_switched_off(emu, uid):
    ec2 = emu("ec2")
    vpc, subnets, sg = bare_network(ec2, uid)
    vid = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=ENDPOINT, VpcEndpointType="Interface",
                                  SubnetIds=subnets, SecurityGroupIds=[sg])["VpcEndpoint"]["VpcEndpointId"]
    assert [groups_of(e) for e in interfaces(ec2, **{"vpc-id": [vpc]})] == [[sg], [sg]]
    with within(emu, "vpce_delete"):
        ec2.delete_vpc_endpoints(VpcEndpointIds=[vid])
        assert len(interfaces(ec2, **{"group-id": [sg]})) == 2
    # Switching the model off ends every deletion and linger at once, interfaces included.
    emu.behave({})
    assert interfaces(ec2, **{"vpc-id": [vpc]}) == []
    ec2.delete_security_group(GroupId=sg)
