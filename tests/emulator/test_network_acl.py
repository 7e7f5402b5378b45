"""Proof that network ACLs behave as in real EC2 (patches_ec2.py, "Network ACLs").

medtech gives each tier of its VPC an ACL of its own and locks the default one down; what
it relies on: the `*` entries, entries that keep their ICMP type and code, the NotFound
answers a repeated delete or replace meets, and what deleting a subnet or the VPC does to
the ACLs.
"""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from test_emulator import code_of, network

ANYWHERE = "0.0.0.0/0"


def acl_of(ec2, acl_id):
    return ec2.describe_network_acls(NetworkAclIds=[acl_id])["NetworkAcls"][0]


def entries(acl):
    """(rule number, egress, action) of each entry, sorted."""
    return sorted((e["RuleNumber"], e["Egress"], e["RuleAction"]) for e in acl["Entries"])


def association_of(ec2, subnet):
    """(association id, ACL id) of the subnet's one association."""
    acls = ec2.describe_network_acls(
        Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])["NetworkAcls"]
    found = [(a["NetworkAclAssociationId"], a["NetworkAclId"])
             for acl in acls for a in acl["Associations"] if a["SubnetId"] == subnet]
    assert len(found) == 1, found
    return found[0]


def custom_acl(ec2, vpc, uid):
    tags = [{"ResourceType": "network-acl", "Tags": [{"Key": "Name", "Value": f"nacl-{uid}"}]}]
    return ec2.create_network_acl(VpcId=vpc, TagSpecifications=tags)["NetworkAcl"]


def test_a_new_acl_has_only_the_star_entries_and_its_tags(aws, uid):
    ec2 = aws("ec2")
    net = network(aws, uid)
    created = custom_acl(ec2, net["vpc"], uid)
    assert created["IsDefault"] is False
    acl = acl_of(ec2, created["NetworkAclId"])
    assert entries(acl) == [(32767, False, "deny"), (32767, True, "deny")]
    assert {"Key": "Name", "Value": f"nacl-{uid}"} in acl["Tags"]
    default = ec2.describe_network_acls(Filters=[
        {"Name": "vpc-id", "Values": [net["vpc"]]},
        {"Name": "default", "Values": ["true"]}])["NetworkAcls"]
    assert [entries(a) for a in default] == [
        [(100, False, "allow"), (100, True, "allow"), (32767, False, "deny"),
         (32767, True, "deny")]]


def test_entries_keep_ports_and_icmp_and_rule_numbers_are_unique(aws, uid):
    ec2 = aws("ec2")
    acl_id = custom_acl(ec2, network(aws, uid)["vpc"], uid)["NetworkAclId"]
    ec2.create_network_acl_entry(NetworkAclId=acl_id, RuleNumber=110, Protocol="6",
                                 RuleAction="allow", Egress=False, CidrBlock=ANYWHERE,
                                 PortRange={"From": 1024, "To": 3388})
    ec2.create_network_acl_entry(NetworkAclId=acl_id, RuleNumber=130, Protocol="1",
                                 RuleAction="allow", Egress=False, CidrBlock=ANYWHERE,
                                 IcmpTypeCode={"Type": 3, "Code": 4})
    with pytest.raises(ClientError) as exc:
        ec2.create_network_acl_entry(NetworkAclId=acl_id, RuleNumber=110, Protocol="-1",
                                     RuleAction="allow", Egress=False, CidrBlock=ANYWHERE)
    assert code_of(exc) == "NetworkAclEntryAlreadyExists"
    # The same number in the other direction is another entry.
    ec2.create_network_acl_entry(NetworkAclId=acl_id, RuleNumber=110, Protocol="6",
                                 RuleAction="allow", Egress=True, CidrBlock=ANYWHERE,
                                 PortRange={"From": 443, "To": 443})
    by_rule = {(e["RuleNumber"], e["Egress"]): e for e in acl_of(ec2, acl_id)["Entries"]}
    assert by_rule[(110, False)]["PortRange"] == {"From": 1024, "To": 3388}
    assert by_rule[(130, False)]["IcmpTypeCode"] == {"Type": 3, "Code": 4}
    assert by_rule[(110, True)]["PortRange"] == {"From": 443, "To": 443}

    ec2.replace_network_acl_entry(NetworkAclId=acl_id, RuleNumber=130, Protocol="1",
                                  RuleAction="allow", Egress=False, CidrBlock="10.0.0.0/16",
                                  IcmpTypeCode={"Type": 3, "Code": 1})
    replaced = [e for e in acl_of(ec2, acl_id)["Entries"]
                if (e["RuleNumber"], e["Egress"]) == (130, False)]
    assert [(e["CidrBlock"], e["IcmpTypeCode"]) for e in replaced] == [
        ("10.0.0.0/16", {"Type": 3, "Code": 1})]


def test_a_missing_entry_association_or_acl_is_not_found(aws, uid):
    ec2 = aws("ec2")
    net = network(aws, uid)
    acl_id = custom_acl(ec2, net["vpc"], uid)["NetworkAclId"]
    with pytest.raises(ClientError) as exc:
        ec2.delete_network_acl_entry(NetworkAclId=acl_id, RuleNumber=100, Egress=False)
    assert code_of(exc) == "InvalidNetworkAclEntry.NotFound"
    with pytest.raises(ClientError) as exc:
        ec2.replace_network_acl_entry(NetworkAclId=acl_id, RuleNumber=100, Protocol="-1",
                                      RuleAction="allow", Egress=True, CidrBlock=ANYWHERE)
    assert code_of(exc) == "InvalidNetworkAclEntry.NotFound"
    with pytest.raises(ClientError) as exc:
        ec2.describe_network_acls(NetworkAclIds=["acl-0123456789abcdef0"])
    assert code_of(exc) == "InvalidNetworkAclID.NotFound"
    with pytest.raises(ClientError) as exc:
        ec2.replace_network_acl_association(AssociationId="aclassoc-0123456789abcdef0",
                                            NetworkAclId=acl_id)
    assert code_of(exc) == "InvalidAssociationID.NotFound"
    subnet = net["subnets"][0]
    before = association_of(ec2, subnet)
    with pytest.raises(ClientError) as exc:
        ec2.replace_network_acl_association(AssociationId=before[0],
                                            NetworkAclId="acl-0123456789abcdef0")
    assert code_of(exc) == "InvalidNetworkAclID.NotFound"
    assert association_of(ec2, subnet) == before, "a refused replace changed nothing"


def test_an_associated_acl_is_deleted_only_once_its_subnets_moved(aws, uid):
    ec2 = aws("ec2")
    net = network(aws, uid)
    acl_id = custom_acl(ec2, net["vpc"], uid)["NetworkAclId"]
    subnet = net["subnets"][0]
    default_association, default_id = association_of(ec2, subnet)
    new = ec2.replace_network_acl_association(AssociationId=default_association,
                                              NetworkAclId=acl_id)["NewAssociationId"]
    assert association_of(ec2, subnet) == (new, acl_id)
    # The old association is gone: replacing it again is NotFound, not a second move.
    with pytest.raises(ClientError) as exc:
        ec2.replace_network_acl_association(AssociationId=default_association,
                                            NetworkAclId=acl_id)
    assert code_of(exc) == "InvalidAssociationID.NotFound"
    with pytest.raises(ClientError) as exc:
        ec2.delete_network_acl(NetworkAclId=acl_id)
    assert code_of(exc) == "DependencyViolation"
    ec2.replace_network_acl_association(AssociationId=new, NetworkAclId=default_id)
    ec2.delete_network_acl(NetworkAclId=acl_id)
    with pytest.raises(ClientError) as exc:
        ec2.delete_network_acl(NetworkAclId=acl_id)
    assert code_of(exc) == "InvalidNetworkAclID.NotFound"


def test_deleting_a_subnet_ends_its_association(aws, uid):
    ec2 = aws("ec2")
    net = network(aws, uid)
    acl_id = custom_acl(ec2, net["vpc"], uid)["NetworkAclId"]
    subnet = net["subnets"][0]
    ec2.replace_network_acl_association(AssociationId=association_of(ec2, subnet)[0],
                                        NetworkAclId=acl_id)
    ec2.delete_subnet(SubnetId=subnet)
    assert acl_of(ec2, acl_id)["Associations"] == []
    ec2.delete_network_acl(NetworkAclId=acl_id)


def test_a_vpc_goes_only_without_its_custom_acls_and_takes_the_default_one(aws, uid):
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    acl_id = custom_acl(ec2, vpc, uid)["NetworkAclId"]
    with pytest.raises(ClientError) as exc:
        ec2.delete_vpc(VpcId=vpc)
    assert code_of(exc) == "DependencyViolation"
    ec2.delete_network_acl(NetworkAclId=acl_id)
    ec2.delete_vpc(VpcId=vpc)
    left = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc]}])
    assert left["NetworkAcls"] == []
