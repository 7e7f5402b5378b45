"""EC2 NAT gateways: filters, idempotency and deletion as in real EC2.

Real-AWS behaviour reproduced (moto 5.2.5 differs):

* EC2 ANDs every ``Filter.N`` entry, also two entries with the same name
  (``state=pending`` and ``state=available`` match nothing); moto keeps only
  the last entry of a name.  ``DescribeNatGateways`` does this exactly; the
  other EC2 Describe calls get the intersection of the value lists of repeated
  names (exact for single-valued attributes without wildcards; ``tag-key`` /
  ``tag-value`` repeats keep moto's behaviour).
* ``DescribeNatGateways`` honours every filter the API documents --
  ``nat-gateway-id``, ``state``, ``subnet-id``, ``vpc-id``, ``tag:<key>``,
  ``tag-key`` (and ``tag-value``), with ``*``/``?`` wildcards -- and rejects an
  unknown filter name with ``InvalidParameterValue``.  moto ignores the tag
  filters and returns every NAT gateway of the region.  Asking for a
  ``NatGatewayIds`` entry that does not exist is ``NatGatewayNotFound``.
* ``CreateNatGateway`` honours ``ClientToken`` (EC2 idempotency): a repeat
  with the same token and the same parameters returns the gateway the first
  call created instead of creating a second one (moto creates another, or
  fails with ``Resource.AlreadyAssociated`` and leaks an ENI); the same token
  with different parameters is ``IdempotentParameterMismatch``.  An Elastic
  IP that is already associated is refused before anything is created.
  ``ConnectivityType`` defaults to ``public``.
* ``DeleteNatGateway`` disassociates the gateway's Elastic IP and deletes its
  network interface (so the EIP can be released and the subnet deleted, as in
  AWS); the gateway stays visible in state ``deleted`` with a ``DeleteTime``.
  An unknown id is ``NatGatewayNotFound`` (moto crashes with an HTML 500).

VPC endpoints
* ``DescribeVpcEndpoints`` honours the ``vpc-endpoint-id`` filter the API documents (moto
  answers 501 "not implemented"): one call filtered by several ids, of which some may be
  gone already, is how a client polls several endpoints at once without a NotFound for the
  whole call.

Network interfaces of other services (requester-managed)
* An interface VPC endpoint has one network interface per subnet, carrying the endpoint's
  security groups (moto gives them none: the VPC's default group), requester-managed, of
  ``InterfaceType`` ``vpc_endpoint`` and described ``VPC Endpoint Interface vpce-...``, as the
  VPC User Guide's example shows.  ``ModifyVpcEndpoint`` moves them: added or removed subnets
  add or remove an interface, added or removed security groups change every interface's.
* :func:`open_interface` gives RDS instances and ElastiCache nodes theirs (patches_rds.py,
  patches_elasticache.py).  Such an interface's groups are always its owner's current ones,
  so a Modify of the owner's groups moves them, and it is gone when its owner is deleted.
  The latency model (lifecycle.py) keeps them, through :func:`keep_interfaces`, while the
  owner is deleting and for ``eni_linger`` after.

Elastic IPs (what the NAT gateway's lifecycle touches)
* ``ReleaseAddress`` of a VPC address that is still associated (e.g. with a
  NAT gateway) fails with ``InvalidIPAddress.InUse`` -- the API reference:
  "You must use DisassociateAddress to disassociate the Elastic IP address
  before you can release it. Otherwise, Amazon EC2 returns an error
  (InvalidIPAddress.InUse)".  moto releases it.
* ``DescribeAddresses`` of an unassociated address omits ``InstanceId`` and
  ``NetworkInterfaceId`` (moto returns empty strings, which look like an
  association to a client testing for presence).

* ``DeleteVpcEndpoints`` reports per endpoint, in its ``Unsuccessful`` list, as
  the API reference says ("Information about the VPC endpoints that were not
  successfully deleted"); moto always answers an empty list.  An unknown id is
  ``InvalidVpcEndpoint.NotFound`` there (terraform-provider-aws treats that
  item as "already gone").  Which other refusals AWS reports per item, and
  when, is not documented; a test makes one happen by tagging the endpoint
  ``medtech-emulator:refuse-delete`` = ``<Code>`` or ``<Code>:<times>``: the
  delete is then reported Unsuccessful with that code (``times`` times, then
  accepted).

Flow logs
* A flow log to CloudWatch Logs reports ``DeliverLogsStatus: FAILED`` with
  ``DeliverLogsErrorMessage: Access error`` while its delivery role (by its
  policies now, inline and attached) does not allow ``logs:CreateLogStream``,
  ``logs:PutLogEvents`` and ``logs:DescribeLogStreams`` on the group's streams
  and ``logs:DescribeLogGroups`` on the account's log groups -- the
  permissions the VPC flow-logs guide lists for the role -- or when the role
  is gone.  Otherwise ``SUCCESS``.  moto fixes the status at creation from the
  group's existence only.  The status is read at every describe, as AWS
  reports delivery as it happens.

Network ACLs
* A new network ACL has the two ``*`` entries AWS gives every ACL: rule 32767, deny all
  from/to 0.0.0.0/0, inbound and outbound ("a rule whose rule number is an asterisk ...
  You can't modify or remove this rule"; ``DescribeNetworkAcls`` reports it as 32767).
  moto creates it with no entries at all.
* ``CreateNetworkAclEntry`` and ``ReplaceNetworkAclEntry`` keep ``IcmpTypeCode`` (the wire
  name is ``Icmp.Type``/``Icmp.Code``; moto reads the wire name from a request it has
  already parsed by member name, and drops the type and code).
* ``DeleteNetworkAclEntry`` and ``ReplaceNetworkAclEntry`` of a rule number the ACL does
  not have in that direction fail with ``InvalidNetworkAclEntry.NotFound`` (moto crashes:
  a 500 the SDKs retry).
* ``ReplaceNetworkAclAssociation`` of an unknown association id fails with
  ``InvalidAssociationID.NotFound`` (moto crashes); to an unknown ACL with
  ``InvalidNetworkAclID.NotFound`` before anything changes (moto first drops the subnet's
  association, leaving the subnet with no ACL).
* ``DescribeNetworkAcls`` of an unknown id fails with ``InvalidNetworkAclID.NotFound``
  (moto answers ``InvalidRouteTableID.NotFound``).
* ``DeleteSubnet`` ends the subnet's ACL association (moto keeps it, so the ACL it was
  associated with can never be deleted: ``DependencyViolation``).
* ``DeleteVpc`` is refused with ``DependencyViolation`` while a non-default ACL of the VPC
  remains, as for its other non-default children; the default ACL goes with the VPC (moto
  deletes the VPC and keeps both).
"""
from __future__ import annotations

import contextlib
import fnmatch
import functools
import threading

_lock = threading.RLock()

_NAT_FILTERS = {
    "nat-gateway-id": lambda g: [g.id],
    "state": lambda g: [g.state],
    "subnet-id": lambda g: [g.subnet_id],
    "vpc-id": lambda g: [g.vpc_id],
}


def _matches(candidates, patterns) -> bool:
    return any(fnmatch.fnmatchcase(str(c), str(p)) for c in candidates for p in patterns)


def apply() -> None:
    from moto.core.responses import ActionResult
    from moto.core.utils import iso_8601_datetime_with_milliseconds, utcnow
    from moto.ec2.exceptions import EC2ClientError, InvalidFilter
    from moto.ec2.models.nat_gateways import NatGatewayBackend
    from moto.ec2.responses.nat_gateways import NatGateways
    from moto.ec2.utils import add_tag_specification, is_tag_filter, tag_filter_matches

    def not_found(nat_id):
        return EC2ClientError("NatGatewayNotFound", f"The Nat Gateway {nat_id} was not found")

    def describe_nat_gateways(self, filters, nat_gateway_ids):
        gateways = list(self.nat_gateways.values())
        if nat_gateway_ids:
            for nat_id in nat_gateway_ids:
                if nat_id not in self.nat_gateways:
                    raise not_found(nat_id)
            gateways = [g for g in gateways if g.id in nat_gateway_ids]
        pairs = filters if isinstance(filters, list) else list((filters or {}).items())
        for name, values in pairs:
            values = list(values or [])
            if is_tag_filter(name):
                gateways = [g for g in gateways if tag_filter_matches(g, name, values)]
            elif name in _NAT_FILTERS:
                getter = _NAT_FILTERS[name]
                gateways = [g for g in gateways if _matches(getter(g), values)]
            else:
                raise InvalidFilter(name, "InvalidParameterValue")
        return gateways

    orig_create = NatGatewayBackend.create_nat_gateway

    @functools.wraps(orig_create)
    def create_nat_gateway(self, subnet_id, allocation_id, tags=None, connectivity_type="public",
                           client_token=None):
        connectivity_type = connectivity_type or "public"
        fingerprint = (subnet_id, allocation_id, connectivity_type,
                       tuple(sorted((tags or {}).items())))
        with _lock:
            tokens = self.__dict__.setdefault("_medtech_nat_tokens", {})
            if client_token and client_token in tokens:
                seen, nat_id = tokens[client_token]
                if seen != fingerprint:
                    raise EC2ClientError(
                        "IdempotentParameterMismatch",
                        f"Client token {client_token} was already used with different parameters.")
                return self.nat_gateways[nat_id]
            if allocation_id and connectivity_type != "private":
                eips = self.address_by_allocation([allocation_id])
                if eips and (eips[0].eni is not None or eips[0].instance is not None):
                    raise EC2ClientError(
                        "Resource.AlreadyAssociated",
                        f"Elastic IP address [{allocation_id}] is already associated")
            nat = orig_create(self, subnet_id, allocation_id, tags, connectivity_type)
            if client_token:
                tokens[client_token] = (fingerprint, nat.id)
            return nat

    def delete_nat_gateway(self, nat_gateway_id):
        with _lock:
            gateway = self.nat_gateways.get(nat_gateway_id)
            if gateway is None:
                raise not_found(nat_gateway_id)
            if gateway.state != "deleted":
                gateway.state = "deleted"
                gateway.delete_time = iso_8601_datetime_with_milliseconds(utcnow())
                eni = getattr(gateway, "_eni", None)
                for address in gateway.address_set:
                    allocation = address.get("allocationId")
                    eips = self.address_by_allocation([allocation]) if allocation else []
                    if eips and eni is not None and eips[0].eni is eni:
                        self.disassociate_address(address=eips[0].public_ip)
                        eips[0].association_id = None
                    address.pop("associationId", None)
                if eni is not None and eni.id in self.enis:
                    self.delete_network_interface(eni.id)
            return gateway

    def r_create_nat_gateway(self) -> ActionResult:
        nat_gateway = self.ec2_backend.create_nat_gateway(
            subnet_id=self._get_param("SubnetId"),
            allocation_id=self._get_param("AllocationId"),
            tags=add_tag_specification(self._get_param("TagSpecifications", [])),
            connectivity_type=self._get_param("ConnectivityType") or "public",
            client_token=self._get_param("ClientToken"),
        )
        result = {"NatGateway": nat_gateway}
        token = self._get_param("ClientToken")
        if token:
            result["ClientToken"] = token
        return ActionResult(result)

    from moto.ec2.models.elastic_ip_addresses import ElasticAddress, ElasticAddressBackend

    orig_release = ElasticAddressBackend.release_address

    @functools.wraps(orig_release)
    def release_address(self, address=None, allocation_id=None):
        if address:
            eips = self.address_by_ip([address])
        else:
            eips = self.address_by_allocation([allocation_id])
        eip = eips[0]
        if eip.domain == "vpc" and (eip.association_id or eip.eni is not None
                                    or eip.instance is not None):
            raise EC2ClientError("InvalidIPAddress.InUse", f"Address {eip.public_ip} is in use.")
        return orig_release(self, address=address, allocation_id=allocation_id)

    ElasticAddressBackend.release_address = release_address
    ElasticAddress.instance_id = property(lambda self: self.instance.id if self.instance else None)
    ElasticAddress.network_interface_id = property(lambda self: self.eni.id if self.eni else None)

    def filter_pairs(response):
        raw = response._get_param("Filters", []) or response._get_param("Filter", []) or []
        pairs = []
        for entry in raw:
            if "Name" not in entry:
                raise EC2ClientError("InvalidParameterValue", "The filter 'null' is invalid.")
            pairs.append((entry["Name"], list(entry.get("Values", []) or [])))
        return pairs

    def _filters_from_querystring(self):
        merged: dict = {}
        for name, values in filter_pairs(self):
            if name in merged and name not in ("tag-key", "tag-value"):
                merged[name] = [v for v in merged[name] if v in values]
            else:
                merged[name] = values
        return merged

    def r_describe_nat_gateways(self) -> ActionResult:
        gateways = self.ec2_backend.describe_nat_gateways(
            filter_pairs(self), self._get_param("NatGatewayIds", []))
        return ActionResult({"NatGateways": gateways})

    from moto.ec2.responses._base_response import EC2BaseResponse

    EC2BaseResponse._filters_from_querystring = _filters_from_querystring
    r_describe_nat_gateways.__name__ = "describe_nat_gateways"
    NatGateways.describe_nat_gateways = r_describe_nat_gateways
    r_create_nat_gateway.__name__ = "create_nat_gateway"
    NatGatewayBackend.describe_nat_gateways = describe_nat_gateways
    NatGatewayBackend.create_nat_gateway = create_nat_gateway
    NatGatewayBackend.delete_nat_gateway = delete_nat_gateway
    NatGateways.create_nat_gateway = r_create_nat_gateway

    _patch_flow_log_delivery()
    _patch_delete_vpc_endpoints()
    _patch_network_acls()
    _patch_endpoint_interfaces()

    from moto.ec2.models.vpcs import VPCEndPoint

    orig_endpoint_filter = VPCEndPoint.get_filter_value

    def endpoint_filter_value(self, filter_name, method_name=None):
        if filter_name == "vpc-endpoint-id":
            return self.id
        return orig_endpoint_filter(self, filter_name, method_name)

    VPCEndPoint.get_filter_value = endpoint_filter_value


# What the flow-logs service does with the role, and on which resource: streams of the
# group, and a listing of the account's log groups.
FLOW_LOG_DELIVERY = (
    ("logs:CreateLogStream", "{group}:log-stream:{stream}"),
    ("logs:PutLogEvents", "{group}:log-stream:{stream}"),
    ("logs:DescribeLogStreams", "{group}:log-stream:{stream}"),
    ("logs:DescribeLogGroups", "{groups}:*"),
)


def _delivery_allowed(flow_log) -> bool:
    from moto.iam.access_control import IAMPolicy, PermissionResult

    from ._iam import find_role

    backend = flow_log.ec2_backend
    role = find_role(backend.account_id, flow_log.deliver_logs_permission_arn)
    if role is None:
        return False
    documents = [*role.policies.values(), *role.managed_policies.values()]
    prefix = f"arn:aws:logs:{backend.region_name}:{backend.account_id}:log-group"
    names = {"group": f"{prefix}:{flow_log.log_group_name}", "groups": prefix,
             "stream": f"{flow_log.resource_id}-all"}
    for action, pattern in FLOW_LOG_DELIVERY:
        resource = pattern.format(**names)
        results = [IAMPolicy(doc).is_action_permitted(action, resource) for doc in documents]
        if PermissionResult.DENIED in results or PermissionResult.PERMITTED not in results:
            return False
    return True


def _patch_flow_log_delivery() -> None:
    from moto.ec2.models.flow_logs import FlowLogs

    def status(self):
        created = self.__dict__.get("_medtech_created_status", "SUCCESS")
        if created != "SUCCESS" or (self.log_destination_type or "cloud-watch-logs") != "cloud-watch-logs":
            return created
        return "SUCCESS" if _delivery_allowed(self) else "FAILED"

    def set_status(self, value):
        self.__dict__["_medtech_created_status"] = value

    def message(self):
        if self.deliver_logs_status == "FAILED":
            return self.__dict__.get("_medtech_created_message") or "Access error"
        return None

    def set_message(self, value):
        self.__dict__["_medtech_created_message"] = value

    FlowLogs.deliver_logs_status = property(status, set_status)
    FlowLogs.deliver_logs_error_message = property(message, set_message)


REFUSE_DELETE_TAG = "medtech-emulator:refuse-delete"
_REFUSAL_MESSAGES = {
    "IncorrectState": "The VPC endpoint {id} is not in a state that allows it to be deleted.",
    "OperationNotPermitted": "The VPC endpoint {id} is managed by another service and cannot "
                             "be deleted by you.",
}


def _patch_delete_vpc_endpoints() -> None:
    from moto.core.responses import ActionResult
    from moto.ec2.responses.vpcs import VPCs

    def item(vpce_id, code, message):
        return {"ResourceId": vpce_id, "Error": {"Code": code, "Message": message}}

    def refusal(endpoint):
        """The (code, message) a test asked this endpoint's delete to be refused with."""
        for tag in endpoint.get_tags():
            if tag.get("key") != REFUSE_DELETE_TAG:
                continue
            code, _, times = str(tag.get("value", "")).partition(":")
            with _lock:
                left = endpoint.__dict__.get("_medtech_refusals_left")
                if left is None:
                    left = int(times) if times else -1
                if left == 0:
                    return None
                endpoint.__dict__["_medtech_refusals_left"] = left - 1 if left > 0 else left
            message = _REFUSAL_MESSAGES.get(code, "The VPC endpoint {id} cannot be deleted.")
            return code, message.format(id=endpoint.id)
        return None

    def delete_vpc_endpoints(self) -> ActionResult:
        backend = self.ec2_backend
        unsuccessful, accepted = [], []
        for vpce_id in self._get_param("VpcEndpointIds", []) or []:
            endpoint = backend.vpc_end_points.get(vpce_id)
            if endpoint is None:
                unsuccessful.append(item(vpce_id, "InvalidVpcEndpoint.NotFound",
                                         f"The Vpc Endpoint Id '{vpce_id}' does not exist"))
                continue
            refused = refusal(endpoint)
            if refused is not None:
                unsuccessful.append(item(vpce_id, *refused))
                continue
            accepted.append(vpce_id)
        self.error_on_dryrun()
        if accepted:
            backend.delete_vpc_endpoints(vpce_ids=accepted)
        return ActionResult({"Unsuccessful": unsuccessful})

    VPCs.delete_vpc_endpoints = delete_vpc_endpoints


# The `*` entry of every network ACL: what EC2 reports as rule 32767.
LAST_RULE = 32767


def _patch_network_acls() -> None:
    from moto.core.responses import EmptyResult
    from moto.ec2.exceptions import DependencyViolationError, EC2ClientError, InvalidNetworkAclIdError
    from moto.ec2.models.network_acls import NetworkAclBackend
    from moto.ec2.models.subnets import SubnetBackend
    from moto.ec2.models.vpcs import VPCBackend
    from moto.ec2.responses.network_acls import NetworkACLs

    orig_create = NetworkAclBackend.create_network_acl

    @functools.wraps(orig_create)
    def create_network_acl(self, vpc_id, tags=None, default=False):
        acl = orig_create(self, vpc_id, tags=tags, default=default)
        if not default:  # the default ACL gets its entries, the `*` ones included, from moto
            for egress in (True, False):
                self.create_network_acl_entry(
                    network_acl_id=acl.id, rule_number=LAST_RULE, protocol="-1",
                    rule_action="deny", egress=egress, cidr_block="0.0.0.0/0", icmp_code=None,
                    icmp_type=None, port_range_from=None, port_range_to=None,
                    ipv6_cidr_block=None)
        return acl

    def entry_of(acl, rule_number, egress):
        for entry in acl.network_acl_entries:
            if bool(entry.egress) == bool(egress) and int(entry.rule_number) == int(rule_number):
                return entry
        direction = "egress" if egress else "ingress"
        raise EC2ClientError(
            "InvalidNetworkAclEntry.NotFound",
            f"The network ACL {acl.id} has no {direction} entry with rule number {rule_number}.")

    def delete_network_acl_entry(self, network_acl_id, rule_number, egress):
        acl = self.get_network_acl(network_acl_id)
        entry = entry_of(acl, rule_number, egress)
        acl.network_acl_entries.remove(entry)
        return entry

    orig_replace_association = NetworkAclBackend.replace_network_acl_association

    @functools.wraps(orig_replace_association)
    def replace_network_acl_association(self, association_id, network_acl_id):
        if not any(association_id in acl._associations for acl in self.network_acls.values()):
            raise EC2ClientError("InvalidAssociationID.NotFound",
                                 f"The association ID '{association_id}' does not exist")
        self.get_network_acl(network_acl_id)
        return orig_replace_association(self, association_id, network_acl_id)

    orig_describe = NetworkAclBackend.describe_network_acls

    @functools.wraps(orig_describe)
    def describe_network_acls(self, network_acl_ids=None, filters=None):
        for acl_id in network_acl_ids or []:
            if acl_id not in self.network_acls:
                raise InvalidNetworkAclIdError(acl_id)
        return orig_describe(self, network_acl_ids, filters)

    orig_delete_subnet = SubnetBackend.delete_subnet

    @functools.wraps(orig_delete_subnet)
    def delete_subnet(self, subnet_id):
        subnet = orig_delete_subnet(self, subnet_id)
        for acl in self.network_acls.values():
            for key, association in list(acl._associations.items()):
                if association.subnet_id == subnet_id:
                    del acl._associations[key]
        return subnet

    orig_delete_vpc = VPCBackend.delete_vpc

    @functools.wraps(orig_delete_vpc)
    def delete_vpc(self, vpc_id):
        acls = [acl for acl in self.network_acls.values() if acl.vpc_id == vpc_id]
        if any(not acl.default for acl in acls):
            raise DependencyViolationError(
                f"The vpc '{vpc_id}' has dependencies and cannot be deleted.")
        vpc = orig_delete_vpc(self, vpc_id)
        for acl in acls:
            self.network_acls.pop(acl.id, None)
        return vpc

    def entry_request(response):
        """The entry a Create/ReplaceNetworkAclEntry request names, by member name."""
        get = response._get_param
        return {
            "network_acl_id": get("NetworkAclId"), "rule_number": get("RuleNumber"),
            "protocol": get("Protocol"), "rule_action": get("RuleAction"),
            "egress": get("Egress"), "cidr_block": get("CidrBlock"),
            "icmp_code": get("IcmpTypeCode.Code"), "icmp_type": get("IcmpTypeCode.Type"),
            "port_range_from": get("PortRange.From"), "port_range_to": get("PortRange.To"),
            "ipv6_cidr_block": get("Ipv6CidrBlock"),
        }

    def r_create_network_acl_entry(self):
        self.ec2_backend.create_network_acl_entry(**entry_request(self))
        return EmptyResult()

    def r_replace_network_acl_entry(self):
        self.ec2_backend.replace_network_acl_entry(**entry_request(self))
        return EmptyResult()

    NetworkAclBackend.create_network_acl = create_network_acl
    NetworkAclBackend.delete_network_acl_entry = delete_network_acl_entry
    NetworkAclBackend.replace_network_acl_association = replace_network_acl_association
    NetworkAclBackend.describe_network_acls = describe_network_acls
    SubnetBackend.delete_subnet = delete_subnet
    VPCBackend.delete_vpc = delete_vpc
    r_create_network_acl_entry.__name__ = "create_network_acl_entry"
    r_replace_network_acl_entry.__name__ = "replace_network_acl_entry"
    NetworkACLs.create_network_acl_entry = r_create_network_acl_entry
    NetworkACLs.replace_network_acl_entry = r_replace_network_acl_entry


# -------------------------------------------------- requester-managed network interfaces
# Who requests each service's interfaces, and the type EC2 reports (DescribeNetworkInterfaces
# `RequesterId`, `InterfaceType`): RDS's and ElastiCache's as AWS names them, the VPC endpoint
# requester as the VPC User Guide's example of a requester-managed interface shows it.
REQUESTERS = {
    "rds": ("amazon-rds", "interface"),
    "elasticache": ("amazon-elasticache", "interface"),
    "vpce": ("727180483921", "vpc_endpoint"),
}
_interface_class = None  # made by apply(): importing this module does not touch moto
_kept = threading.local()


def open_interface(owner, backend, service, subnet_ids, description, groups, az=None):
    """Give ``owner`` a requester-managed interface of ``service`` in its subnet in ``az``.

    The subnet is the first of ``subnet_ids`` in ``az`` (else the first that exists) in
    ``backend``'s account and region.  The interface's security groups are ``groups()``, read
    at every describe: the owner's as they are then.
    """
    from moto.ec2.exceptions import InvalidSubnetIdError
    from moto.ec2.models import ec2_backends

    ec2 = ec2_backends[backend.account_id][backend.region_name]
    subnets = []
    for subnet_id in subnet_ids:
        try:
            subnets.append(ec2.get_subnet(subnet_id))
        except InvalidSubnetIdError:
            continue
    if not subnets:
        return None
    subnet = next((s for s in subnets if s.availability_zone == az), subnets[0])
    eni = _interface_class(ec2, subnet, service, description, groups)
    ec2.enis[eni.id] = eni
    owner.__dict__.setdefault("_medtech_interfaces", []).append(eni)
    return eni


def interfaces_of(owner) -> list:
    return owner.__dict__.get("_medtech_interfaces", [])


def close_interfaces(owner) -> None:
    """``owner`` is deleted: its interfaces go with it, or to :func:`keep_interfaces`."""
    interfaces = owner.__dict__.pop("_medtech_interfaces", [])
    kept = getattr(_kept, "interfaces", None)
    if kept is not None:
        kept.extend(interfaces)
    else:
        drop_interfaces(interfaces)


def drop_interfaces(interfaces) -> None:
    for eni in interfaces:
        eni.ec2_backend.enis.pop(eni.id, None)


@contextlib.contextmanager
def keep_interfaces():
    """The interfaces that owners deleted in the block close are not dropped but collected in
    the list it yields: the latency model drops them once they stop lingering."""
    kept: list = []
    _kept.interfaces = kept
    try:
        yield kept
    finally:
        _kept.interfaces = None


def _make_interface_class():
    from moto.ec2.models.elastic_network_interfaces import NetworkInterface

    class ServiceInterface(NetworkInterface):
        """An interface another AWS service made and manages: its groups are its owner's."""

        def __init__(self, backend, subnet, service, description, groups):
            self._owner_groups = groups
            super().__init__(backend, subnet, None, description=description)
            self.requester_id, self.interface_type = REQUESTERS[service]
            self.requester_managed = True
            self.status = "in-use"

        @property
        def _group_set(self):
            ids = list(self._owner_groups() or [])
            if not ids:  # an owner without groups is in the VPC's default group, as on AWS
                default = self.ec2_backend.get_default_security_group(self.subnet.vpc_id)
                return [default] if default is not None else []
            found = (self.ec2_backend.get_security_group_from_id(i) for i in ids)
            return [group for group in found if group is not None]

        @_group_set.setter
        def _group_set(self, _groups):
            """moto's constructor gives it the default group: the owner's count instead."""

    return ServiceInterface


def _patch_endpoint_interfaces() -> None:
    global _interface_class
    from moto.ec2.models.vpcs import VPCBackend

    _interface_class = _make_interface_class()

    def is_interface(endpoint) -> bool:
        return (endpoint.vpc_endpoint_type or "").lower() == "interface"

    def sync(backend, endpoint) -> None:
        """One interface per subnet of the endpoint, as EC2 keeps them."""
        have = {eni.subnet.id: eni for eni in interfaces_of(endpoint)}
        wanted = list(endpoint.subnet_ids or [])
        drop_interfaces([eni for subnet_id, eni in have.items() if subnet_id not in wanted])
        endpoint._medtech_interfaces = [have[s] for s in wanted if s in have]
        for subnet_id in wanted:
            if subnet_id not in have:
                open_interface(endpoint, backend, "vpce", [subnet_id],
                               f"VPC Endpoint Interface {endpoint.id}",
                               lambda: endpoint.security_group_ids)
        endpoint.network_interface_ids = [eni.id for eni in interfaces_of(endpoint)]

    orig_create = VPCBackend.create_vpc_endpoint

    @functools.wraps(orig_create)
    def create_vpc_endpoint(self, *args, **kwargs):
        endpoint = orig_create(self, *args, **kwargs)
        if is_interface(endpoint):
            # moto's own: in the VPC's default group, and made by nobody.
            for eni_id in endpoint.network_interface_ids or []:
                self.enis.pop(eni_id, None)
            sync(self, endpoint)
        return endpoint

    orig_modify = VPCBackend.modify_vpc_endpoint

    @functools.wraps(orig_modify)
    def modify_vpc_endpoint(self, vpc_id, *args, **kwargs):
        orig_modify(self, vpc_id, *args, **kwargs)
        endpoint = self.vpc_end_points.get(vpc_id)  # moto's name for the endpoint's id
        if endpoint is not None and is_interface(endpoint):
            sync(self, endpoint)

    orig_delete = VPCBackend.delete_vpc_endpoints

    @functools.wraps(orig_delete)
    def delete_vpc_endpoints(self, vpce_ids=None):
        for vpce_id in vpce_ids or []:
            endpoint = self.vpc_end_points.get(vpce_id)
            if endpoint is not None and is_interface(endpoint):
                close_interfaces(endpoint)
                endpoint.network_interface_ids = []  # else moto drops the kept ones itself
        return orig_delete(self, vpce_ids)

    VPCBackend.create_vpc_endpoint = create_vpc_endpoint
    VPCBackend.modify_vpc_endpoint = modify_vpc_endpoint
    VPCBackend.delete_vpc_endpoints = delete_vpc_endpoints
