"""ElastiCache (Redis/Valkey, cluster mode disabled): what real ElastiCache does.

Real-AWS behaviour reproduced (moto 5.2.5 differs):

Cache subnet groups
* ``DeleteCacheSubnetGroup`` exists (moto: HTML 500).  A group that a
  replication group or cache cluster still uses fails with
  ``CacheSubnetGroupInUse``; an unknown one with ``CacheSubnetGroupNotFoundFault``.
* ``CreateReplicationGroup`` with a ``CacheSubnetGroupName`` that does not
  exist fails with ``CacheSubnetGroupNotFoundFault``.

CreateReplicationGroup
* ``NumCacheClusters`` is honoured (moto: one node unless
  ``ReplicasPerNodeGroup``): that many member cache clusters
  ``<id>-001``, ``<id>-002``, ... are created, listed in ``MemberClusters`` and
  in ``NodeGroups[0].NodeGroupMembers`` (the first ``primary``, the others
  ``replica``), placed in ``PreferredCacheClusterAZs`` or else round-robin
  over the AZs of the cache subnet group.
* ``NodeGroups[0]`` carries ``PrimaryEndpoint`` and ``ReaderEndpoint`` (moto:
  no reader endpoint).  With in-transit encryption the names are
  ``master.<id>.<xxxxxx>.<reg>.cache.amazonaws.com`` /
  ``replica.<id>...``; without, ``<id>.<xxxxxx>.ng.0001.<reg>...`` /
  ``<id>-ro.<xxxxxx>.ng.0001.<reg>...``, ``<reg>`` being e.g. ``use1``.
* The member clusters (``DescribeCacheClusters``) report the group's engine,
  version, node type, ``CacheSubnetGroupName``, ``SecurityGroups``,
  ``PreferredMaintenanceWindow``, ``SnapshotWindow``/``SnapshotRetentionLimit``,
  ``TransitEncryptionEnabled``, ``AtRestEncryptionEnabled``,
  ``AuthTokenEnabled``, ``CacheParameterGroup`` and ``ReplicationGroupId``.
* Validation: ``AutomaticFailoverEnabled`` needs at least 2 nodes
  ("When using automatic failover, there must be at least 2 cache clusters
  in the replication group.", ``InvalidParameterCombination``);
  ``MultiAZEnabled`` needs automatic failover and 2 nodes
  (``InvalidParameterCombination``); ``AuthToken`` needs
  ``TransitEncryptionEnabled=true`` and must be 16-128 printable characters
  from letters, digits and ``! & # $ ^ < > -`` (``InvalidParameterValue``);
  ``PreferredMaintenanceWindow`` must be ``ddd:hh24:mi-ddd:hh24:mi`` and at
  least 60 minutes long (the ElastiCache API reference: "The minimum
  maintenance window is a 60 minute period", ``InvalidParameterValue``).

ModifyReplicationGroup
* Also applies ``SnapshotWindow``, ``PreferredMaintenanceWindow`` and
  ``SecurityGroupIds`` (moto ignores them), with the same failover/Multi-AZ
  and maintenance-window validation.

AUTH tokens (moto keeps none, and ignores ``AuthToken`` on modify)
* A group accepts one or two AUTH tokens (credentials.py keeps them): the
  ``AuthToken`` it was created with, then what ``ModifyReplicationGroup``
  with ``AuthToken`` and ``AuthTokenUpdateStrategy`` makes of them.  ``ROTATE``
  (the default when no strategy is given) adds the new token to the current
  one; a group with two already drops the older.  ``SET`` keeps only the new
  one, and needs a group that has AUTH already (SET is "allowed only after
  ROTATE").  ``DELETE`` ends AUTH, only together with ``UserGroupIdsToAdd``
  (the move to RBAC) and without ``AuthToken``.  The token must have the
  format and the group in-transit encryption, as on create.
  ``AuthTokenLastModifiedDate`` (group and members) is when the tokens last
  changed.  Adding user groups to a group with AUTH without ``DELETE`` is
  AWS's ``InvalidParameterCombination`` "User group can't be associated with
  auth token enabled. Pass AuthStrategy delete to proceed."  With the latency
  model on, lifecycle.py applies the new tokens when the modification ends.

TestFailover (moto: not implemented)
* Promotes the first replica of the node group (``NodeGroupId``, ``0001`` for
  cluster mode disabled) and demotes the primary: ``CurrentRole`` in
  ``NodeGroups[].NodeGroupMembers`` swaps at once (real ElastiCache takes a
  few minutes, reporting the group ``modifying`` meanwhile); ``MemberClusters``,
  the cluster ids and the endpoints stay.  An unknown group is
  ``ReplicationGroupNotFoundFault``, an unknown node group
  ``NodeGroupNotFoundFault``; a group without automatic failover or without a
  replica, or not ``available``, is ``InvalidReplicationGroupState``.

Network interfaces
* Each node (member cache cluster) has a requester-managed network interface
  (``RequesterId`` ``amazon-elasticache``, ``InterfaceType`` ``interface``, described
  ``ElastiCache <cluster-id>``) in the cache subnet group's subnet of its AZ, carrying the
  group's security groups, also after ``ModifyReplicationGroup`` changes them; it goes with
  the node (moto makes none, so ``DescribeNetworkInterfaces`` showed the groups unused).

DeleteReplicationGroup
* The group (and its member clusters) reports ``deleting`` on the first
  describe after the delete and is gone afterwards
  (``ReplicationGroupNotFoundFault``), so its id can be reused; moto leaves it
  ``deleting`` forever.  ``FinalSnapshotIdentifier`` creates that snapshot;
  ``RetainPrimaryCluster`` keeps the primary as a standalone cluster.
  Deleting a group that is already being deleted is
  ``InvalidReplicationGroupState``.
"""
from __future__ import annotations

import functools
import inspect
import random
import re
import string
import threading
import time

from . import credentials
from .patches_ec2 import close_interfaces, open_interface

_lock = threading.RLock()
# What a group created without SnapshotWindow reports: AWS picks an hour from an 8-hour block
# of the region (us-east-1: 03:00-11:00 UTC); any hour but medtech's default does here.
DEFAULT_SNAPSHOT_WINDOW = "08:30-09:30"
_AUTH_TOKEN = re.compile(r"^[A-Za-z0-9!&#$^<>\-]{16,128}$")
AUTH_STRATEGIES = ("ROTATE", "SET", "DELETE")
_MAINTENANCE_WINDOW = re.compile(
    r"^(sun|mon|tue|wed|thu|fri|sat):([01]\d|2[0-3]):([0-5]\d)-"
    r"(sun|mon|tue|wed|thu|fri|sat):([01]\d|2[0-3]):([0-5]\d)$")
_DIRECTIONS = {"east": "e", "west": "w", "north": "n", "south": "s", "central": "c",
               "northeast": "ne", "northwest": "nw", "southeast": "se", "southwest": "sw"}


def region_short(region: str) -> str:
    """``us-east-1`` -> ``use1``, ``ap-southeast-2`` -> ``apse2`` (ElastiCache host names)."""
    parts = region.split("-")
    if len(parts) < 3:
        return region.replace("-", "")
    return parts[0] + "".join(_DIRECTIONS.get(p, p[:1]) for p in parts[1:-1]) + parts[-1]


def apply() -> None:
    from moto.elasticache.exceptions import (
        CacheSubnetGroupNotFound,
        ElastiCacheException,
        InvalidParameterCombinationException,
        InvalidParameterValueException,
        ReplicationGroupNotFound,
    )
    from moto.elasticache.models import CacheCluster, ElastiCacheBackend
    from moto.elasticache.responses import ElastiCacheResponse

    class CacheSubnetGroupInUse(ElastiCacheException):
        code = "CacheSubnetGroupInUse"

    class InvalidReplicationGroupState(ElastiCacheException):
        code = "InvalidReplicationGroupState"

    class NodeGroupNotFound(ElastiCacheException):
        code = "NodeGroupNotFoundFault"

    # ------------------------------------------------------------ helpers
    def purge(backend) -> None:
        """Forget groups whose ``deleting`` state a describe has already shown.

        The latency model (lifecycle.py) sets ``_medtech_hold_until`` to keep a
        deleting group for its modeled duration; without it (the default) the
        attribute is absent and nothing changes.
        """
        now = time.time()
        for rg_id, rg in list(backend.replication_groups.items()):
            if (rg.status == "deleting" and getattr(rg, "_medtech_delete_reported", False)
                    and getattr(rg, "_medtech_hold_until", 0.0) <= now):
                retained = getattr(rg, "_medtech_retained_primary", None)
                for member in rg.member_clusters:
                    if member != retained:
                        cluster = backend.cache_clusters.pop(member, None)
                        if cluster is not None:
                            backend.tagging_service.delete_all_tags_for_resource(cluster.arn)
                backend.tagging_service.delete_all_tags_for_resource(rg.arn)
                del backend.replication_groups[rg_id]

    def primary_member(rg) -> str | None:
        for group in rg.node_groups:
            for member in group.get("node_group_members", []):
                if member.get("current_role") == "primary":
                    return member["cache_cluster_id"]
        return rg.member_clusters[0] if rg.member_clusters else None

    def subnet_group_azs(backend, name) -> list[str]:
        group = backend.cache_subnet_groups.get(name) if name else None
        if group is None:
            return []
        azs = []
        for subnet in group.subnets:
            az = subnet.get("subnet_availability_zone") or subnet.get("Subnet_availability_zone")
            if isinstance(az, dict):
                az = az.get("Name")
            if az and az not in azs:
                azs.append(az)
        return sorted(azs)

    def node_count(a) -> int:
        if a.get("num_cache_clusters"):
            return int(a["num_cache_clusters"])
        if a.get("replicas_per_node_group") is not None:
            return int(a["replicas_per_node_group"]) + 1
        return len(a.get("preferred_cache_cluster_azs") or []) or 1

    def check_failover(automatic_failover, multi_az, nodes) -> None:
        if automatic_failover and nodes < 2:
            raise InvalidParameterCombinationException(
                "When using automatic failover, there must be at least 2 cache clusters in "
                "the replication group.")
        if multi_az and not automatic_failover:
            raise InvalidParameterCombinationException(
                "Multi-AZ requires automatic failover to be enabled.")
        if multi_az and nodes < 2:
            raise InvalidParameterCombinationException(
                "Multi-AZ requires at least 2 cache clusters in the replication group.")

    def check_auth_token(token, transit) -> None:
        if token is None:
            return
        if not transit:
            raise InvalidParameterValueException(
                "The AUTH token is only supported when encryption in-transit is enabled.")
        if not _AUTH_TOKEN.match(token):
            raise InvalidParameterValueException(
                "Invalid AUTH token: it must be 16 to 128 printable characters; the only "
                "special characters allowed are !, &, #, $, ^, <, > and -.")

    def check_maintenance_window(window) -> None:
        if window is None:
            return
        days = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
        match = _MAINTENANCE_WINDOW.match(str(window).lower())
        if not match:
            raise InvalidParameterValueException(
                f"Invalid maintenance window format: {window}. Use ddd:hh24:mi-ddd:hh24:mi.")
        d1, h1, m1, d2, h2, m2 = match.groups()
        start = days.index(d1) * 1440 + int(h1) * 60 + int(m1)
        end = days.index(d2) * 1440 + int(h2) * 60 + int(m2)
        if (end - start) % (7 * 1440) < 60:
            raise InvalidParameterValueException(
                f"The maintenance window {window} is shorter than the minimum of 60 minutes.")

    # ------------------------------------------------------ cache clusters
    def security_groups(self):
        return [{"SecurityGroupId": sg, "Status": "active"} for sg in (self.security_group_ids or [])]

    def cache_parameter_group(self):
        name = self.cache_parameter_group_name
        if not name:
            major = str(self.engine_version or "7").split(".")[0]
            name = f"default.{self.engine or 'redis'}{major}"
        return {"CacheParameterGroupName": name, "ParameterApplyStatus": "in-sync",
                "CacheNodeIdsToReboot": []}

    CacheCluster.security_groups = property(security_groups)
    CacheCluster.cache_parameter_group = property(cache_parameter_group)
    CacheCluster.at_rest_encryption_enabled = False

    # ------------------------------------------------- replication groups
    orig_create = ElastiCacheBackend.create_replication_group
    create_sig = inspect.signature(orig_create)

    @functools.wraps(orig_create)
    def create_replication_group(self, *args, **kwargs):
        bound = create_sig.bind(self, *args, **kwargs)
        a = bound.arguments
        with _lock:
            purge(self)
            cluster_mode = (a.get("cluster_mode") or "disabled").lower()
            disabled = cluster_mode == "disabled" and (a.get("num_node_groups") or 1) <= 1
            nodes = node_count(a) if disabled else (a.get("replicas_per_node_group") or 0) + 1
            if disabled and not 1 <= nodes <= 6:
                raise InvalidParameterValueException(
                    "NumCacheClusters must be between 1 and 6 for a replication group with "
                    "cluster mode disabled.")
            check_failover(a.get("automatic_failover_enabled"), a.get("multi_az_enabled"), nodes)
            check_auth_token(a.get("auth_token"), a.get("transit_encryption_enabled"))
            check_maintenance_window(a.get("preferred_maintenance_window"))
            subnet_group = a.get("cache_subnet_group_name")
            if subnet_group and subnet_group not in self.cache_subnet_groups:
                raise CacheSubnetGroupNotFound(subnet_group)
            if disabled:
                azs = list(a.get("preferred_cache_cluster_azs") or [])
                pool = subnet_group_azs(self, subnet_group) or [f"{self.region_name}a",
                                                                f"{self.region_name}b"]
                while len(azs) < nodes:
                    azs.append(pool[len(azs) % len(pool)])
                a["preferred_cache_cluster_azs"] = azs
                a["replicas_per_node_group"] = nodes - 1
                a["num_cache_clusters"] = nodes
            rg = orig_create(*bound.args, **bound.kwargs)
            if disabled:
                _finish_group(self, rg, a)
                open_node_interfaces(self, rg)
            token = a.get("auth_token")
            credentials.set_redis_tokens(self, rg, (token,) if token else ())
            return rg

    def _finish_group(backend, rg, a) -> None:
        rid = rg.replication_group_id
        token = "".join(random.choices(string.ascii_lowercase + string.digits, k=6))
        short = region_short(backend.region_name)
        tls = bool(rg.transit_encryption_enabled)
        if tls:
            primary = f"master.{rid}.{token}.{short}.cache.amazonaws.com"
            reader = f"replica.{rid}.{token}.{short}.cache.amazonaws.com"
        else:
            primary = f"{rid}.{token}.ng.0001.{short}.cache.amazonaws.com"
            reader = f"{rid}-ro.{token}.ng.0001.{short}.cache.amazonaws.com"
        group = rg.node_groups[0]
        group["primary_endpoint"] = {"address": primary, "port": rg.port}
        group["reader_endpoint"] = {"address": reader, "port": rg.port}
        group["primary_endpoint_address"] = primary
        group["reader_endpoint_address"] = reader
        if not a.get("snapshot_window"):
            # AWS picks a window itself when none is sent; moto's "05:00-6:00" is malformed,
            # and medtech's own default ("05:00-06:00") must not come out of here either, or a
            # request without the window would look configured.
            rg.snapshot_window = DEFAULT_SNAPSHOT_WINDOW
        engine_version = a.get("engine_version") or "7.1.0"
        rg.engine_version = engine_version
        maintenance = (a.get("preferred_maintenance_window") or "sun:05:00-sun:06:00").lower()
        rg.preferred_maintenance_window = maintenance
        for member in group["node_group_members"]:
            cid = member["cache_cluster_id"]
            member["read_endpoint"] = {
                "address": (f"{cid}.{rid}.{token}.{short}.cache.amazonaws.com" if tls
                            else f"{cid}.{token}.0001.{short}.cache.amazonaws.com"),
                "port": rg.port,
            }
            cluster = CacheCluster(
                account_id=backend.account_id, region_name=backend.region_name,
                cache_cluster_id=cid, cache_node_type=rg.cache_node_type,
                replication_group_id=rid, az_mode="single-az",
                preferred_availability_zone=member.get("preferred_availability_zone"),
                num_cache_nodes=1, engine=rg.engine, engine_version=engine_version,
                cache_parameter_group_name=a.get("cache_parameter_group_name"),
                cache_subnet_group_name=a.get("cache_subnet_group_name"),
                transit_encryption_enabled=tls, network_type=rg.network_type,
                ip_discovery=rg.ip_discovery, snapshot_name=None,
                preferred_maintenance_window=maintenance, port=rg.port,
                notification_topic_arn=a.get("notification_topic_arn"),
                auto_minor_version_upgrade=(True if a.get("auto_minor_version_upgrade") is None
                                            else a.get("auto_minor_version_upgrade")),
                snapshot_retention_limit=rg.snapshot_retention_limit,
                snapshot_window=rg.snapshot_window, auth_token=a.get("auth_token"),
                outpost_mode=None, preferred_outpost_arn=None, preferred_availability_zones=None,
                cache_security_group_names=a.get("cache_security_group_names"),
                security_group_ids=a.get("security_group_ids"), tags=None, snapshot_arns=None,
                preferred_outpost_arns=None, log_delivery_configurations=[],
                cache_node_ids_to_remove=None, cache_node_ids_to_reboot=None,
            )
            cluster.replication_group_id = rid
            cluster.num_cache_nodes = 1
            cluster.snapshot_window = rg.snapshot_window
            cluster.at_rest_encryption_enabled = bool(rg.at_rest_encryption_enabled)
            cluster.auth_token_enabled = bool(a.get("auth_token"))
            cluster.transit_encryption_mode = rg.transit_encryption_mode if tls else None
            backend.cache_clusters[cid] = cluster

    def open_node_interfaces(backend, rg) -> None:
        """One interface per node, in the cache subnet group's subnet of the node's AZ."""
        group = backend.cache_subnet_groups.get(rg.cache_subnet_group_name or "")
        subnet_ids = list(getattr(group, "subnet_ids", None) or [])
        for cid in rg.member_clusters:
            cluster = backend.cache_clusters.get(cid)
            if cluster is not None:
                open_interface(cluster, backend, "elasticache", subnet_ids, f"ElastiCache {cid}",
                               lambda cluster=cluster: cluster.security_group_ids,
                               az=cluster.preferred_availability_zone)

    orig_describe = ElastiCacheBackend.describe_replication_groups

    @functools.wraps(orig_describe)
    def describe_replication_groups(self, replication_group_id=None):
        with _lock:
            purge(self)
            groups = orig_describe(self, replication_group_id)
            for rg in groups:
                if rg.status == "deleting":
                    rg._medtech_delete_reported = True
            return groups

    orig_describe_clusters = ElastiCacheBackend.describe_cache_clusters

    @functools.wraps(orig_describe_clusters)
    def describe_cache_clusters(self, cache_cluster_id=None):
        with _lock:
            purge(self)
            return orig_describe_clusters(self, cache_cluster_id)

    def delete_replication_group(self, replication_group_id, retain_primary_cluster=None,
                                 final_snapshot_identifier=None):
        with _lock:
            purge(self)
            if replication_group_id not in self.replication_groups:
                raise ReplicationGroupNotFound(replication_group_id)
            rg = self.replication_groups[replication_group_id]
            if rg.status == "deleting":
                raise InvalidReplicationGroupState(
                    f"Replication group {replication_group_id} is not in available state.")
            if final_snapshot_identifier:
                self.create_snapshot(snapshot_name=final_snapshot_identifier,
                                     replication_group_id=replication_group_id,
                                     cache_cluster_id=None, kms_key_id=rg.kms_key_id, tags=None)
            retained = primary_member(rg) if retain_primary_cluster else None
            rg._medtech_retained_primary = retained
            rg.status = "deleting"
            for member in rg.member_clusters:
                cluster = self.cache_clusters.get(member)
                if cluster is None:
                    continue
                if member == retained:
                    cluster.replication_group_id = None
                else:
                    cluster.cache_cluster_status = "deleting"
                    close_interfaces(cluster)
            return rg

    def auth_change(rg, token, strategy, user_groups) -> tuple[str, ...] | None:
        """The tokens the group accepts after this modify (None: AUTH is not touched)."""
        current = credentials.redis_tokens(rg)
        if strategy is not None and strategy not in AUTH_STRATEGIES:
            raise InvalidParameterValueException(
                f"Invalid AuthTokenUpdateStrategy {strategy}: valid values are "
                f"{', '.join(AUTH_STRATEGIES)}.")
        if user_groups and current and strategy != "DELETE":
            raise InvalidParameterCombinationException(
                "User group can't be associated with auth token enabled. Pass AuthStrategy "
                "delete to proceed.")
        if strategy == "DELETE":
            if token is not None:
                raise InvalidParameterCombinationException(
                    "AuthToken can't be given with AuthTokenUpdateStrategy DELETE.")
            if not current:
                raise InvalidParameterValueException(
                    "Auth token update strategy delete is not supported currently")
            if not user_groups:
                raise InvalidParameterCombinationException(
                    "AuthTokenUpdateStrategy DELETE is allowed only when moving to RBAC, "
                    "with UserGroupIdsToAdd.")
            return ()
        if token is None:
            if strategy is not None:
                raise InvalidParameterCombinationException(
                    f"AuthTokenUpdateStrategy {strategy} must be given with AuthToken.")
            return None
        check_auth_token(token, rg.transit_encryption_enabled)
        if strategy == "SET" and not current:
            raise InvalidParameterValueException(
                "AuthTokenUpdateStrategy SET is allowed only after ROTATE: the replication "
                "group has no AUTH token to replace.")
        return credentials.next_tokens(current, strategy or "ROTATE", token)

    orig_modify = ElastiCacheBackend.modify_replication_group

    @functools.wraps(orig_modify)
    def modify_replication_group(self, replication_group_id, replication_group_description,
                                 engine, cache_node_type, automatic_failover_enabled,
                                 multi_az_enabled, snapshot_retention_limit, snapshot_window=None,
                                 preferred_maintenance_window=None, security_group_ids=None,
                                 auth_token=None, auth_token_update_strategy=None,
                                 user_group_ids_to_add=None):
        with _lock:
            purge(self)
            if replication_group_id not in self.replication_groups:
                raise ReplicationGroupNotFound(replication_group_id)
            rg = self.replication_groups[replication_group_id]
            check_maintenance_window(preferred_maintenance_window)
            tokens = auth_change(rg, auth_token, auth_token_update_strategy,
                                 user_group_ids_to_add)
            failover = (automatic_failover_enabled if automatic_failover_enabled is not None
                        else rg.automatic_failover == "enabled")
            multi_az = multi_az_enabled if multi_az_enabled is not None else rg.multi_az == "enabled"
            if automatic_failover_enabled is not None or multi_az_enabled is not None:
                check_failover(failover, multi_az, len(rg.member_clusters))
            rg = orig_modify(self, replication_group_id, replication_group_description, engine,
                             cache_node_type, automatic_failover_enabled, multi_az_enabled,
                             snapshot_retention_limit)
            members = [self.cache_clusters[m] for m in rg.member_clusters if m in self.cache_clusters]
            if snapshot_window is not None:
                rg.snapshot_window = snapshot_window
            if preferred_maintenance_window is not None:
                rg.preferred_maintenance_window = preferred_maintenance_window.lower()
            if security_group_ids is not None:
                rg.security_group_ids = list(security_group_ids)
            for cluster in members:
                if snapshot_window is not None:
                    cluster.snapshot_window = snapshot_window
                if snapshot_retention_limit is not None:
                    cluster.snapshot_retention_limit = snapshot_retention_limit
                if preferred_maintenance_window is not None:
                    cluster.preferred_maintenance_window = preferred_maintenance_window.lower()
                if security_group_ids is not None:
                    cluster.security_group_ids = list(security_group_ids)
                if cache_node_type is not None:
                    cluster.cache_node_type = cache_node_type
            if user_group_ids_to_add:
                rg.user_group_ids = [*rg.user_group_ids,
                                     *(g for g in user_group_ids_to_add
                                       if g not in rg.user_group_ids)]
            if tokens is not None:
                credentials.set_redis_tokens(self, rg, tokens)
            return rg

    def test_failover(self, replication_group_id, node_group_id):
        with _lock:
            purge(self)
            if replication_group_id not in self.replication_groups:
                raise ReplicationGroupNotFound(replication_group_id)
            rg = self.replication_groups[replication_group_id]
            group = next((g for g in rg.node_groups if g.get("node_group_id") == node_group_id),
                         None)
            if group is None:
                raise NodeGroupNotFound(
                    f"The node group {node_group_id} was not found in replication group "
                    f"{replication_group_id}.")
            members = group.get("node_group_members", [])
            primary = next((m for m in members if m.get("current_role") == "primary"), None)
            replica = next((m for m in members if m.get("current_role") == "replica"), None)
            if rg.status != "available" or rg.automatic_failover != "enabled" \
                    or primary is None or replica is None:
                raise InvalidReplicationGroupState(
                    f"Replication group {replication_group_id} must be available, with "
                    "automatic failover enabled and a replica, to test failover.")
            primary["current_role"], replica["current_role"] = "replica", "primary"
            return rg

    def delete_cache_subnet_group(self, cache_subnet_group_name):
        with _lock:
            purge(self)
            if cache_subnet_group_name not in self.cache_subnet_groups:
                raise CacheSubnetGroupNotFound(cache_subnet_group_name)
            users = [rg.replication_group_id for rg in self.replication_groups.values()
                     if rg.cache_subnet_group_name == cache_subnet_group_name]
            users += [c.cache_cluster_id for c in self.cache_clusters.values()
                      if c.cache_subnet_group_name == cache_subnet_group_name]
            if users:
                raise CacheSubnetGroupInUse(
                    f"Cache subnet group {cache_subnet_group_name} is currently in use by a "
                    "cache cluster.")
            group = self.cache_subnet_groups.pop(cache_subnet_group_name)
            self.tagging_service.delete_all_tags_for_resource(group.arn)
            return group

    ElastiCacheBackend.create_replication_group = create_replication_group
    ElastiCacheBackend.describe_replication_groups = describe_replication_groups
    ElastiCacheBackend.describe_cache_clusters = describe_cache_clusters
    ElastiCacheBackend.delete_replication_group = delete_replication_group
    ElastiCacheBackend.modify_replication_group = modify_replication_group
    ElastiCacheBackend.delete_cache_subnet_group = delete_cache_subnet_group
    ElastiCacheBackend.test_failover = test_failover

    # ------------------------------------------------------------ responses
    from moto.core.responses import ActionResult, EmptyResult

    def r_delete_cache_subnet_group(self):
        self.elasticache_backend.delete_cache_subnet_group(self._get_param("CacheSubnetGroupName"))
        return EmptyResult()

    def r_delete_replication_group(self):
        rg = self.elasticache_backend.delete_replication_group(
            replication_group_id=self._get_param("ReplicationGroupId"),
            retain_primary_cluster=self._get_bool_param("RetainPrimaryCluster"),
            final_snapshot_identifier=self._get_param("FinalSnapshotIdentifier"),
        )
        return ActionResult({"ReplicationGroup": rg})

    def r_modify_replication_group(self):
        rg = self.elasticache_backend.modify_replication_group(
            replication_group_id=self._get_param("ReplicationGroupId"),
            replication_group_description=self._get_param("ReplicationGroupDescription"),
            engine=self._get_param("Engine"),
            cache_node_type=self._get_param("CacheNodeType"),
            automatic_failover_enabled=self._get_bool_param("AutomaticFailoverEnabled"),
            multi_az_enabled=self._get_bool_param("MultiAZEnabled"),
            snapshot_retention_limit=self._get_int_param("SnapshotRetentionLimit"),
            snapshot_window=self._get_param("SnapshotWindow"),
            preferred_maintenance_window=self._get_param("PreferredMaintenanceWindow"),
            security_group_ids=self._get_param("SecurityGroupIds"),
            auth_token=self._get_param("AuthToken"),
            auth_token_update_strategy=self._get_param("AuthTokenUpdateStrategy"),
            user_group_ids_to_add=self._get_param("UserGroupIdsToAdd"),
        )
        return ActionResult({"ReplicationGroup": rg})

    def r_test_failover(self):
        rg = self.elasticache_backend.test_failover(
            replication_group_id=self._get_param("ReplicationGroupId"),
            node_group_id=self._get_param("NodeGroupId"),
        )
        return ActionResult({"ReplicationGroup": rg})

    for fn, name in ((r_test_failover, "test_failover"),
                     (r_delete_cache_subnet_group, "delete_cache_subnet_group"),
                     (r_delete_replication_group, "delete_replication_group"),
                     (r_modify_replication_group, "modify_replication_group")):
        fn.__name__ = name
        setattr(ElastiCacheResponse, name, fn)
