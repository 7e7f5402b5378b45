"""EC2 NAT gateways: filters, idempotency and deletion as in real EC2.

Real-AWS behaviour reproduced (moto 5.2.5 differs):

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
"""
from __future__ import annotations

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
        for name, values in (filters or {}).items():
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

    r_create_nat_gateway.__name__ = "create_nat_gateway"
    NatGatewayBackend.describe_nat_gateways = describe_nat_gateways
    NatGatewayBackend.create_nat_gateway = create_nat_gateway
    NatGatewayBackend.delete_nat_gateway = delete_nat_gateway
    NatGateways.create_nat_gateway = r_create_nat_gateway
