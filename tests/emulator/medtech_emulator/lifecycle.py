"""Latency model: AWS's intermediate states, lingering dependencies and IAM propagation.

Active only while the behaviour's ``time_scale`` is > 0 (see behaviour.py);
with the default behaviour every hook below calls straight through to moto.

How it works
------------
moto creates, modifies and deletes everything at once.  The hooks installed
here (thin wrappers around moto's backend methods, applied after the patches)
put the moto object itself into AWS's intermediate state -- ``creating``,
``modifying``, ``deleting``, ``pending``, ``CREATING``, ``UPDATING``,
``DELETING`` -- and register a *job* that applies the final state when the
scaled duration is over.  Deletes are deferred: the object stays in moto,
visible as ``deleting``, and is really removed when its job runs.  Jobs run
lazily: the WSGI front (behaviour_front.py) calls :meth:`Model.tick` at the
start of every request, before moto sees it, so every response reflects the
model at that instant.

Changing moto's own state (rather than rewriting serialized responses) keeps
every view consistent: Describe filters (``state=pending``), the Create
response itself (``creating``, no RDS endpoint), moto's own checks (a
deleting DB instance still blocks ``DeleteDBSubnetGroup``, a deleting
replication group still blocks ``DeleteCacheSubnetGroup``, a deleting NAT
gateway still maps its Elastic IP), and errors come out of moto in the
service's own wire format.

What each rule does, and AWS's behaviour behind it, is documented in
tests/emulator/README.md ("Latency and faults").

Observation
-----------
Describe hooks report what a response shows (per request, thread-local); the
front commits these only for a Describe/List request whose response reached
the client, which gives the stats timeline its ``first_seen_ready_at`` /
``first_seen_gone_at``: how late a client noticed completion.
"""
from __future__ import annotations

import copy
import functools
import inspect
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import credentials
from .behaviour import Behaviour
from .patches_ec2 import drop_interfaces, keep_interfaces

# Which Describe/List operation shows which kind, and the request parameters
# naming one resource (a request without any of them lists them all).
DESCRIBE_OPERATIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "rds": {"DescribeDBInstances": ("DBInstanceIdentifier",)},
    "redis": {"DescribeReplicationGroups": ("ReplicationGroupId",)},
    "nat": {"DescribeNatGateways": ("NatGatewayId", "NatGatewayIds")},
    "vpce": {"DescribeVpcEndpoints": ("VpcEndpointId", "VpcEndpointIds")},
    "kinesis": {"DescribeStream": ("StreamName", "StreamARN"),
                "DescribeStreamSummary": ("StreamName", "StreamARN"),
                "ListStreams": ()},
}
# Kinds that stay listed once gone (NAT gateways: state ``deleted``).
GONE_VISIBLE = {"nat"}
FINAL = {"rds": "available", "redis": "available", "nat": "available", "vpce": "available",
         "kinesis": "ACTIVE"}
GONE_STATE = {"nat": "deleted"}
# A ModifyDBInstance that only sets these applies without a `modifying` cycle: deletion
# protection is a flag on the instance, not a change to its storage, class or engine.
FLAG_ONLY_MODIFY = {"db_instance_identifier", "apply_immediately", "deletion_protection"}
# A ModifyDBInstance that only sets a new master password: `resetting-master-credentials`
# instead of `modifying`, as RDS reports it.
CREDENTIALS_ONLY_MODIFY = FLAG_ONLY_MODIFY | {"master_user_password"}
# What PendingModifiedValues shows for a new master password (RDS never returns it).
MASKED = "****"
# What a modification may change that its PendingModifiedValues reports, by moto attribute
# (the rest of the shapes' members are settings medtech never changes).
RDS_PENDING = {"db_instance_class": "DBInstanceClass", "allocated_storage": "AllocatedStorage",
               "backup_retention_period": "BackupRetentionPeriod", "multi_az": "MultiAZ",
               "engine_version": "EngineVersion", "storage_type": "StorageType",
               "iops": "Iops", "storage_throughput": "StorageThroughput",
               "enable_iam_database_authentication": "IAMDatabaseAuthenticationEnabled"}
REDIS_PENDING = {"automatic_failover": "AutomaticFailoverStatus"}
# Attributes that are the model's own bookkeeping, never held back by `modify_lag`.
UNHELD = {"status", "cache_cluster_status", "pending_modified_values"}


def snapshot(obj) -> dict:
    """``obj``'s attributes, containers copied, to tell afterwards what a call changed.
    moto keeps many behind properties (``_backup_retention_period``): those count too."""
    return {k: copy.copy(v) if isinstance(v, (list, dict, set)) else v
            for k, v in vars(obj).items() if not k.startswith("_medtech") and k not in UNHELD}


def hold(obj, before: dict, pending_names: dict) -> None:
    """``modify_lag``: put back what the call changed on ``obj``, kept to apply later, and
    report the new values that AWS's PendingModifiedValues shows."""
    held = getattr(obj, "_medtech_held", {})
    for name, old in before.items():
        new = getattr(obj, name, None)
        if new != old:
            held[name] = new
            setattr(obj, name, old)
    obj._medtech_held = held
    obj.pending_modified_values = {pending_names[k.lstrip("_")]: v for k, v in held.items()
                                   if k.lstrip("_") in pending_names}


def pend(obj, name: str, value) -> None:
    """``name`` shows in the object's PendingModifiedValues until :func:`unpend`."""
    obj.pending_modified_values = {**(getattr(obj, "pending_modified_values", None) or {}),
                                   name: value}


def unpend(obj, name: str) -> None:
    obj.pending_modified_values = {k: v for k, v in obj.pending_modified_values.items()
                                   if k != name}


def release(obj) -> None:
    """The held modification is carried out: its values are described, nothing pends."""
    for name, value in getattr(obj, "_medtech_held", {}).items():
        setattr(obj, name, value)
    obj._medtech_held = {}
    obj.pending_modified_values = {}


@dataclass
class Job:
    key: tuple
    due: float
    event: dict
    final: str  # "ready" or "gone"
    apply: Callable[[], None]


@dataclass
class Linger:
    """Network interfaces of a deleted owner that still hold subnets / security groups."""
    account: str
    region: str
    owner: str  # e.g. "RDS DB instance medtech-rds-x"
    subnets: frozenset
    groups: frozenset
    until: float


@dataclass
class RequestContext:
    observations: list = field(default_factory=list)
    refused: list = field(default_factory=list)
    rewritten: bool = False


class Model:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.behaviour = Behaviour()
        self.jobs: dict[tuple, Job] = {}
        self.lingering: list[Linger] = []
        self.timeline: list[dict] = []
        self.latest: dict[tuple, dict] = {}  # (account, region, kind, id) -> last timeline event
        self.role_created: dict[str, float] = {}  # role ARN -> epoch seconds
        self.key_created: dict[str, float] = {}  # KMS key id -> epoch seconds
        self.tokens: dict[tuple, tuple] = {}  # (account, region, op, token) -> (fingerprint, ids)
        self.gone_endpoints: dict[str, object] = {}  # deleted VPC endpoints, which tokens still name
        self._local = threading.local()
        self._applying_due: float | None = None  # set while tick() applies a due job
        # The model's clock: the wall clock less the seconds it was stopped (see ``stop``), as
        # (stopped at, seconds lost): one tuple, replaced whole, so ``now`` needs no lock.
        self._clock: tuple[float | None, float] = (None, 0.0)
        self._stop_when_done: set[tuple] = set()  # (kind, id): stop when its transition ends

    # ----------------------------------------------------------- switches
    @property
    def active(self) -> bool:
        return self.behaviour.latency

    @property
    def enhanced(self) -> bool:
        """Anything non-default on: also honour ClientToken where moto ignores it."""
        return not self.behaviour.is_default

    def set_behaviour(self, behaviour: Behaviour) -> None:
        with self.lock:
            self.behaviour = behaviour
        self.tick()  # latency switched off: finish everything now

    # -------------------------------------------------------------- clock
    def now(self) -> float:
        """What the model counts durations by: wall-clock seconds, less any stopped time."""
        stopped_at, lost = self._clock
        return (time.time() if stopped_at is None else stopped_at) - lost

    def stop(self, at: float | None = None) -> None:
        """Stop the clock (at model time ``at``, default now): every state under way lasts
        until ``start_clock``.

        A test asserting what a state looks like while it lasts cannot then fail because the
        machine was slow; one asserting that it ends starts the clock again first.
        """
        with self.lock:
            stopped_at, lost = self._clock
            if stopped_at is None:
                self._clock = (time.time() if at is None else at + lost, lost)

    def start_clock(self) -> None:
        with self.lock:
            stopped_at, lost = self._clock
            if stopped_at is not None:
                self._clock = (None, lost + time.time() - stopped_at)

    def stop_when_done(self, kind: str, rid: str) -> None:
        """Stop the clock at the instant the transition of ``kind``/``rid`` under way is due:
        what it starts (an ENI linger, an address's lag) then lasts until ``start_clock``."""
        with self.lock:
            self._stop_when_done.add((kind, rid))

    def clock(self) -> dict:
        with self.lock:
            stopped_at, lost = self._clock
            return {"now": self.now(), "stopped": stopped_at is not None,
                    "stopped_seconds": round(lost, 6),
                    "stop_when_done": [{"kind": k, "id": i} for k, i in sorted(self._stop_when_done)]}

    def forget_resources(self) -> None:
        """moto's state was reset: pending jobs point at objects that no longer exist."""
        with self.lock:
            now = self.now()
            for job in self.jobs.values():
                job.event["abandoned_at"] = now
            self.jobs.clear()
            self.lingering.clear()
            self.latest.clear()
            self.role_created.clear()
            self.key_created.clear()
            self.tokens.clear()
            self.gone_endpoints.clear()
            self._stop_when_done.clear()
        self.start_clock()

    def reset_timeline(self) -> None:
        """Start a new timeline (transitions under way keep running, unlisted)."""
        with self.lock:
            self.timeline = []

    # --------------------------------------------------------------- jobs
    def start(self, kind: str, backend: Any, rid: str, event: str, duration: str,
              apply: Callable[[], None], final: str = "ready") -> dict:
        """Register a transition of ``kind``/``rid`` that completes after ``duration``."""
        # Started by a due job (``modify_lag`` ending): from when that one was due, as on AWS.
        now = self.now() if self._applying_due is None else self._applying_due
        seconds = self.behaviour.seconds(duration)
        account, region = backend.account_id, backend.region_name
        key = (account, region, kind, rid)
        entry = {"kind": kind, "id": rid, "region": region, "account": account, "event": event,
                 "started_at": now, "modeled_seconds": round(seconds, 6)}
        if final == "ready":
            entry.update(ready_at=None, first_seen_ready_at=None)
        else:
            entry.update(gone_at=None, first_seen_gone_at=None)
        with self.lock:
            previous = self.jobs.pop(key, None)
            if previous is not None:
                previous.event["superseded_at"] = now
            self.jobs[key] = Job(key, now + seconds, entry, final, apply)
            self.timeline.append(entry)
            self.latest[key] = entry
        self.mark_rewritten()
        return entry

    def pending(self, kind: str, backend: Any, rid: str) -> Job | None:
        return self.jobs.get((backend.account_id, backend.region_name, kind, rid))

    def tick(self, now: float | None = None) -> None:
        """Apply every transition that is due (all of them when latency is off)."""
        if not self.jobs:
            return
        with self.lock:
            now = self.now() if now is None else now
            flush = not self.behaviour.latency
            due = sorted((j for j in self.jobs.values() if flush or j.due <= now),
                         key=lambda j: j.due)
            for job in due:
                if self.jobs.get(job.key) is not job:
                    continue
                if not flush and job.due > self.now():
                    break  # the clock stopped at an earlier job's end: this one is not due
                del self.jobs[job.key]
                # Applied on the first request after it was due; what it starts (an ENI
                # linger) runs from when it was due, as on AWS.
                self._applying_due = min(job.due, now)
                try:
                    job.apply()
                except Exception:  # noqa: BLE001 - a model bug must not kill the server
                    traceback.print_exc(file=sys.stderr)
                finally:
                    self._applying_due = None
                job.event["ready_at" if job.final == "ready" else "gone_at"] = min(job.due, now)
                if job.key[2:] in self._stop_when_done and not flush:
                    self._stop_when_done.discard(job.key[2:])
                    self.stop(at=job.due)

    # ------------------------------------------------------------- linger
    def linger(self, backend: Any, owner: str, subnets, groups, interfaces=()) -> None:
        """The deleted ``owner``'s network ``interfaces`` (patches_ec2) stay listed, and hold
        ``subnets`` and ``groups``, for ``eni_linger``."""
        seconds = self.behaviour.seconds("eni_linger")
        if seconds <= 0 or not (subnets or groups):
            drop_interfaces(interfaces)
            return
        with self.lock:
            since = self._applying_due if self._applying_due is not None else self.now()
            self.lingering.append(Linger(backend.account_id, backend.region_name, owner,
                                         frozenset(subnets or ()), frozenset(groups or ()),
                                         since + seconds))
            if interfaces:
                key = (backend.account_id, backend.region_name, "eni",
                       ",".join(eni.id for eni in interfaces))
                self.jobs[key] = Job(key, since + seconds, {}, "gone",
                                     functools.partial(drop_interfaces, interfaces))

    def lingering_users(self, account: str, region: str) -> list[Linger]:
        now = self.now()
        with self.lock:
            self.lingering = [x for x in self.lingering if x.until > now]
            return [x for x in self.lingering if x.account == account and x.region == region]

    # ---------------------------------------------------------------- IAM
    def role_created_now(self, arn: str) -> None:
        with self.lock:
            self.role_created[arn] = self.now()

    def role_too_young(self, arn: str | None) -> bool:
        if not arn or not self.active:
            return False
        created = self.role_created.get(arn)
        return created is not None and self.now() - created < self.behaviour.seconds("iam_propagation")

    # ---------------------------------------------------------------- KMS
    def key_created_now(self, key_id: str) -> None:
        with self.lock:
            self.key_created[key_id] = self.now()

    def key_too_young(self, key_id: str | None) -> bool:
        if not key_id or not self.active:
            return False
        created = self.key_created.get(key_id)
        return created is not None and self.now() - created < self.behaviour.seconds("kms_propagation")

    # ------------------------------------------------- per-request context
    def begin(self) -> RequestContext:
        ctx = RequestContext()
        self._local.ctx = ctx
        return ctx

    def end(self) -> RequestContext | None:
        ctx = getattr(self._local, "ctx", None)
        self._local.ctx = None
        return ctx

    def _ctx(self) -> RequestContext | None:
        return getattr(self._local, "ctx", None)

    def observe(self, kind: str, backend: Any, rid: str, state: str | None) -> None:
        ctx = self._ctx()
        if ctx is None:
            return
        key = (backend.account_id, backend.region_name, kind, rid)
        modeled = key in self.jobs
        ctx.observations.append((key, state, modeled))
        if modeled:
            ctx.rewritten = True

    def refuse(self, rule: str) -> None:
        ctx = self._ctx()
        if ctx is not None:
            ctx.refused.append(rule)

    def mark_rewritten(self) -> None:
        ctx = self._ctx()
        if ctx is not None:
            ctx.rewritten = True

    def commit(self, operation: str | None, params: dict, account: str, region: str,
               ctx: RequestContext, status: int) -> None:
        """The response reached the client: note what it showed (first_seen_* stamps)."""
        if not operation:
            return
        now = self.now()
        with self.lock:
            seen = set()
            for key, state, modeled in ctx.observations:
                seen.add(key)
                event = self.latest.get(key)
                if event is None or modeled:
                    continue
                kind = key[2]
                if ("ready_at" in event and event.get("ready_at") is not None
                        and event.get("first_seen_ready_at") is None and state == FINAL[kind]):
                    event["first_seen_ready_at"] = now
                if ("gone_at" in event and event.get("gone_at") is not None
                        and event.get("first_seen_gone_at") is None
                        and GONE_STATE.get(kind) is not None and state == GONE_STATE[kind]):
                    event["first_seen_gone_at"] = now
            # Absence: a Describe naming the resource (or listing all) that did not show it.
            for kind, ops in DESCRIBE_OPERATIONS.items():
                if operation not in ops or kind in GONE_VISIBLE:
                    continue
                names = ops[operation]
                for key, event in self.latest.items():
                    if (key[2] != kind or key[0] != account or key[1] != region
                            or "gone_at" not in event or event.get("gone_at") is None
                            or event.get("first_seen_gone_at") is not None or key in seen):
                        continue
                    if status >= 400 and not _names(params, names, key[3]):
                        continue
                    if _covers(params, names, key[3]):
                        event["first_seen_gone_at"] = now


def _param_values(params: dict, name: str) -> list[str]:
    values = []
    for key, value in params.items():
        base = key.split(".", 1)[0]
        if base != name:
            continue
        if isinstance(value, list):
            values += [str(v) for v in value]
        else:
            values.append(str(value))
    return values


def _names(params: dict, names: tuple[str, ...], rid: str) -> bool:
    for name in names:
        for value in _param_values(params, name):
            if value == rid or value.endswith("/" + rid):
                return True
    return False


def _covers(params: dict, names: tuple[str, ...], rid: str) -> bool:
    if not any(_param_values(params, n) for n in names):
        return True  # a listing
    return _names(params, names, rid)


MODEL = Model()

# ===================================================================== hooks
_installed = False
_install_lock = threading.Lock()


def install(model: Model = MODEL) -> None:
    """Wrap moto's backend methods (idempotent; call after the patches are applied)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        _install_rds(model)
        _install_elasticache(model)
        _install_ec2(model)
        _install_kinesis(model)
        _install_iam(model)
        _install_kms(model)
        _installed = True


def _wrap(cls: type, name: str, make: Callable[[Callable], Callable]) -> None:
    orig = getattr(cls, name)
    wrapper = make(orig)
    functools.update_wrapper(wrapper, orig)
    setattr(cls, name, wrapper)


# ----------------------------------------------------------------------- RDS
def _install_rds(m: Model) -> None:
    from moto.rds.exceptions import InvalidParameterValue, RDSClientError
    from moto.rds.models import DBInstance, RDSBackend

    monitoring_refused = ("IAM role ARN value is invalid or does not include the required "
                          "permissions for: ENHANCED_MONITORING")

    # No endpoint while creating (real RDS has none until the instance is up).
    orig_endpoint = DBInstance.endpoint

    def endpoint(self):
        if getattr(self, "_medtech_no_endpoint", False):
            return None
        return orig_endpoint.fget(self)

    DBInstance.endpoint = property(endpoint)

    def not_available(db, action: str):
        return RDSClientError("InvalidDBInstanceState",
                              f"Database instance is not in available state (status: {db.status}); "
                              f"cannot {action} DB instance {db.db_instance_identifier}.")

    def settle(db):
        def apply():
            if db.status in ("creating", "modifying", "resetting-master-credentials"):
                db.status = "available"
            db._medtech_no_endpoint = False
        return apply

    def users_of(db) -> tuple[set, set]:
        group = getattr(db, "db_subnet_group", None)
        subnets = {s.id for s in (getattr(group, "_subnets", None) or [])}
        return subnets, set(getattr(db, "vpc_security_group_ids", None) or [])

    def make_create(orig):
        def create_db_instance(self, db_kwargs):
            if not m.active:
                return orig(self, db_kwargs)
            if m.role_too_young(db_kwargs.get("monitoring_role_arn")):
                m.refuse("iam_propagation")
                raise InvalidParameterValue(monitoring_refused)
            db = orig(self, db_kwargs)
            if getattr(db, "db_cluster_identifier", None):
                return db  # Aurora members are not modeled
            db.status = "creating"
            db._medtech_no_endpoint = True
            m.start("rds", self, db.db_instance_identifier, "create", "rds_create", settle(db))
            return db
        return create_db_instance

    def make_modify(orig):
        def modify_db_instance(self, db_instance_identifier, db_kwargs):
            if not m.active:
                return orig(self, db_instance_identifier, db_kwargs)
            db = self.databases.get(db_instance_identifier)
            if db is not None and db.status != "available":
                m.refuse("not_available")
                raise not_available(db, "modify")
            if m.role_too_young(db_kwargs.get("monitoring_role_arn")):
                m.refuse("iam_propagation")
                raise InvalidParameterValue(monitoring_refused)
            before = snapshot(db) if db is not None else {}
            db = orig(self, db_instance_identifier, db_kwargs)
            given = {k for k, v in db_kwargs.items() if v is not None}
            if given <= FLAG_ONLY_MODIFY:
                return db  # a flag RDS flips without a modification cycle: still available
            rid = db.db_instance_identifier
            status = ("resetting-master-credentials" if given <= CREDENTIALS_ONLY_MODIFY
                      else "modifying")
            new_password = "master_user_password" in given
            if m.behaviour.seconds("modify_lag") > 0:
                hold(db, before, RDS_PENDING)  # the new password among the held values
                if new_password:
                    pend(db, "MasterUserPassword", MASKED)

                def begin():
                    db.status = status
                    m.start("rds", self, rid, "modify", "rds_modify", finish)

                def finish():
                    release(db)
                    settle(db)()
                m.start("rds", self, rid, "modify_lag", "modify_lag", begin)
                return db
            # The old password is the one accepted until the modification is over.
            password = getattr(db, "_master_user_password", None)
            old_password = before.get("_master_user_password")

            def apply():
                if new_password:
                    db._master_user_password = password
                    unpend(db, "MasterUserPassword")
                settle(db)()
            if new_password:
                db._master_user_password = old_password
                pend(db, "MasterUserPassword", MASKED)
            db.status = status
            m.start("rds", self, rid, "modify", "rds_modify", apply)
            return db
        return modify_db_instance

    def make_delete(orig):
        signature = inspect.signature(orig)

        def delete_db_instance(self, *args, **kwargs):
            if not m.active:
                return orig(self, *args, **kwargs)
            given = signature.bind(self, *args, **kwargs)
            given.apply_defaults()
            a = given.arguments
            db_instance_identifier = a["db_instance_identifier"]
            db = self.databases.get(db_instance_identifier)
            if db is not None and db.status == "deleting":
                m.refuse("not_available")
                raise RDSClientError("InvalidDBInstanceState",
                                     f"Instance {db_instance_identifier} is already being deleted.")
            if db is not None and db.status != "available":
                m.refuse("not_available")
                if a.get("final_db_snapshot_identifier") and not a.get("skip_final_snapshot"):
                    raise RDSClientError(
                        "InvalidDBInstanceState",
                        f"Instance is currently {db.status} - a final snapshot cannot be taken.")
                raise not_available(db, "delete")
            subnets, groups = users_of(db) if db is not None else (set(), set())
            with keep_interfaces() as interfaces:
                deleted = orig(self, *args, **kwargs)  # final snapshot, status deleting, gone from moto ...
            rid = deleted.db_instance_identifier
            self.databases[rid] = deleted  # ... but still there (and in use) while deleting
            deleted.status = "deleting"

            def apply():
                if self.databases.get(rid) is deleted:
                    del self.databases[rid]
                m.linger(self, f"RDS DB instance {rid}", subnets, groups, interfaces)
            m.start("rds", self, rid, "delete", "rds_delete", apply, final="gone")
            return deleted
        return delete_db_instance

    def make_describe(orig):
        def describe_db_instances(self, db_instance_identifier=None, filters=None):
            result = orig(self, db_instance_identifier, filters)
            if m.active:
                for db in result:
                    m.observe("rds", self, db.db_instance_identifier, db.status)
            return result
        return describe_db_instances

    _wrap(RDSBackend, "create_db_instance", make_create)
    _wrap(RDSBackend, "modify_db_instance", make_modify)
    _wrap(RDSBackend, "delete_db_instance", make_delete)
    _wrap(RDSBackend, "describe_db_instances", make_describe)


# ---------------------------------------------------------------- ElastiCache
def _install_elasticache(m: Model) -> None:
    from moto.elasticache.exceptions import ElastiCacheException
    from moto.elasticache.models import ElastiCacheBackend

    class InvalidReplicationGroupState(ElastiCacheException):
        code = "InvalidReplicationGroupState"

    def members(backend, rg):
        return [backend.cache_clusters[c] for c in rg.member_clusters if c in backend.cache_clusters]

    def set_status(backend, rg, status):
        rg.status = status
        for cluster in members(backend, rg):
            cluster.cache_cluster_status = status

    # Real ElastiCache describes a group it is still creating without endpoints (so no port):
    # they appear when it becomes available.
    ENDPOINTS = ("primary_endpoint", "reader_endpoint", "primary_endpoint_address",
                 "reader_endpoint_address")

    def hide_endpoints(rg):
        rg._medtech_endpoints = [{k: group.pop(k) for k in ENDPOINTS if k in group}
                                 for group in rg.node_groups]

    def settle(backend, rg):
        def apply():
            if rg.status in ("creating", "modifying"):
                set_status(backend, rg, "available")
            for group, hidden in zip(rg.node_groups, getattr(rg, "_medtech_endpoints", [])):
                group.update(hidden)
            rg._medtech_endpoints = []
        return apply

    def users_of(backend, rg) -> tuple[set, set]:
        group = backend.cache_subnet_groups.get(rg.cache_subnet_group_name or "")
        subnets = set(getattr(group, "subnet_ids", None) or [])
        return subnets, set(rg.security_group_ids or [])

    def make_create(orig):
        def create_replication_group(self, *args, **kwargs):
            rg = orig(self, *args, **kwargs)
            if m.active:
                set_status(self, rg, "creating")
                hide_endpoints(rg)
                m.start("redis", self, rg.replication_group_id, "create", "redis_create",
                        settle(self, rg))
            return rg
        return create_replication_group

    def make_modify(orig):
        def modify_replication_group(self, replication_group_id, *args, **kwargs):
            if not m.active:
                return orig(self, replication_group_id, *args, **kwargs)
            rg = self.replication_groups.get(replication_group_id)
            if rg is not None and rg.status != "available":
                m.refuse("not_available")
                raise InvalidReplicationGroupState(
                    "Replication group must be in available state to modify.")
            held = [rg, *members(self, rg)] if rg is not None else []
            before = [snapshot(o) for o in held]
            auth_before = credentials.redis_auth(self, rg) if rg is not None else None
            rg = orig(self, replication_group_id, *args, **kwargs)
            # New AUTH tokens are accepted once the modification is over, the old ones until.
            tokens = credentials.redis_tokens(rg)
            new_tokens = auth_before is not None and tokens != auth_before.tokens
            strategy = kwargs.get("auth_token_update_strategy") or "ROTATE"
            if new_tokens:
                credentials.restore_redis_auth(auth_before, rg)

            def pend_tokens():
                if new_tokens:
                    pend(rg, "AuthTokenStatus", "ROTATING" if strategy == "ROTATE" else "SETTING")

            def apply_tokens():
                if new_tokens:
                    credentials.set_redis_tokens(self, rg, tokens)
                    unpend(rg, "AuthTokenStatus")

            if m.behaviour.seconds("modify_lag") > 0:
                for obj, was in zip(held, before):
                    hold(obj, was, REDIS_PENDING if obj is rg else {})
                pend_tokens()

                def begin():
                    set_status(self, rg, "modifying")
                    m.start("redis", self, replication_group_id, "modify", "redis_modify",
                            finish)

                def finish():
                    for obj in held:
                        release(obj)
                    apply_tokens()
                    settle(self, rg)()
                m.start("redis", self, replication_group_id, "modify_lag", "modify_lag", begin)
                return rg

            def finish_now():
                apply_tokens()
                settle(self, rg)()
            pend_tokens()
            set_status(self, rg, "modifying")
            m.start("redis", self, rg.replication_group_id, "modify", "redis_modify",
                    finish_now)
            return rg
        return modify_replication_group

    def make_delete(orig):
        def delete_replication_group(self, replication_group_id, retain_primary_cluster=None,
                                     final_snapshot_identifier=None):
            args = (self, replication_group_id, retain_primary_cluster, final_snapshot_identifier)
            if not m.active:
                return orig(*args)
            rg = self.replication_groups.get(replication_group_id)
            if rg is None or rg.status == "deleting":
                return orig(*args)  # not found / already deleting: the patch's errors
            subnets, groups = users_of(self, rg)
            # Hold the patch's purge (it forgets a deleting group after one describe).
            rg._medtech_hold_until = float("inf")
            try:
                with keep_interfaces() as interfaces:
                    rg = orig(*args)
            except Exception:
                rg._medtech_hold_until = 0.0
                raise

            def apply():
                rg._medtech_hold_until = 0.0
                rg._medtech_delete_reported = True  # purged at the next ElastiCache call
                m.linger(self, f"ElastiCache replication group {replication_group_id}",
                         subnets, groups, interfaces)
            m.start("redis", self, replication_group_id, "delete", "redis_delete", apply,
                    final="gone")
            return rg
        return delete_replication_group

    def make_describe(orig):
        def describe_replication_groups(self, replication_group_id=None):
            groups = orig(self, replication_group_id)
            if m.active:
                for rg in groups:
                    m.observe("redis", self, rg.replication_group_id, rg.status)
            return groups
        return describe_replication_groups

    def group_of_arn(backend, arn: str):
        parts = str(arn).split(":")
        if len(parts) < 7:
            return None
        kind, name = parts[5], parts[6]
        if kind == "replicationgroup":
            return backend.replication_groups.get(name)
        if kind == "cluster":
            cluster = backend.cache_clusters.get(name)
            rg_id = getattr(cluster, "replication_group_id", None)
            return backend.replication_groups.get(rg_id) if rg_id else None
        return None

    def make_tagging(orig):
        def tagging(self, arn, *args, **kwargs):
            if m.active:
                rg = group_of_arn(self, arn)
                if rg is not None and rg.status != "available":
                    m.refuse("not_available")
                    raise InvalidReplicationGroupState(
                        "Cluster not in available state to perform tagging operations.")
            return orig(self, arn, *args, **kwargs)
        return tagging

    _wrap(ElastiCacheBackend, "create_replication_group", make_create)
    _wrap(ElastiCacheBackend, "modify_replication_group", make_modify)
    _wrap(ElastiCacheBackend, "delete_replication_group", make_delete)
    _wrap(ElastiCacheBackend, "describe_replication_groups", make_describe)
    for name in ("list_tags_for_resource", "add_tags_to_resource", "remove_tags_from_resource"):
        _wrap(ElastiCacheBackend, name, make_tagging)


# ------------------------------------------------------------------------ EC2
def _auth_failure():
    """EC2's `AuthFailure` (HTTP 401, EC2 XML), as ReleaseAddress answers it for a while after
    the address's NAT gateway is `deleted`: the credentials are fine, the address is not yet
    free (an EC2 quirk that terraform-provider-aws retries)."""
    from werkzeug.exceptions import HTTPException

    class AuthFailure(HTTPException):
        code = 401

        def get_headers(self, environ=None, scope=None):
            return [("Content-Type", "text/xml;charset=UTF-8")]

    body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>"
            "<Code>AuthFailure</Code><Message>You do not have permission to access the specified "
            "resource.</Message></Error></Errors><RequestID>medtech-eip-after-nat</RequestID>"
            "</Response>")
    return AuthFailure(description=body)


def _install_ec2(m: Model) -> None:
    from moto.core.responses import ActionResult
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.models.elastic_ip_addresses import ElasticAddressBackend
    from moto.ec2.models.flow_logs import FlowLogsBackend
    from moto.ec2.models.internet_gateways import InternetGatewayBackend
    from moto.ec2.models.nat_gateways import NatGatewayBackend
    from moto.ec2.models.security_groups import SecurityGroupBackend
    from moto.ec2.models.subnets import SubnetBackend
    from moto.ec2.models.vpcs import VPCBackend
    from moto.ec2.responses.flow_logs import FlowLogs as FlowLogsResponse

    # ----------------------------------------------------------- NAT gateways
    def make_nat_create(orig):
        def create_nat_gateway(self, *args, **kwargs):
            before = set(self.nat_gateways)
            nat = orig(self, *args, **kwargs)
            if m.active and nat.id not in before:
                nat.state = "pending"

                def apply():
                    if nat.state == "pending":
                        nat.state = "available"
                m.start("nat", self, nat.id, "create", "nat_create", apply)
            return nat
        return create_nat_gateway

    def make_nat_delete(orig):
        def delete_nat_gateway(self, nat_gateway_id):
            if not m.active:
                return orig(self, nat_gateway_id)
            gateway = self.nat_gateways.get(nat_gateway_id)
            if gateway is None or gateway.state in ("deleted", "failed"):
                return orig(self, nat_gateway_id)
            if gateway.state != "deleting":
                gateway.state = "deleting"

                def apply():
                    allocations = [a.get("allocationId") for a in gateway.address_set]
                    orig(self, nat_gateway_id)  # deleted; EIP unmapped; ENI removed
                    # EC2 keeps the address's NAT mapping for a while after `deleted`.
                    gone_at = m._applying_due if m._applying_due is not None else m.now()
                    for eip in self.address_by_allocation([a for a in allocations if a]):
                        eip.medtech_nat_gone_at = gone_at
                m.start("nat", self, nat_gateway_id, "delete", "nat_delete", apply, final="gone")
            return gateway
        return delete_nat_gateway

    def make_nat_describe(orig):
        def describe_nat_gateways(self, filters, nat_gateway_ids):
            gateways = orig(self, filters, nat_gateway_ids)
            if m.active:
                for g in gateways:
                    m.observe("nat", self, g.id, g.state)
            return gateways
        return describe_nat_gateways

    def nats_mapping(backend, vpc_id=None, eni=None):
        out = []
        for nat in list(backend.nat_gateways.values()):
            if nat.state in ("deleted", "failed") or nat.connectivity_type == "private":
                continue
            if vpc_id is not None and nat.vpc_id != vpc_id:
                continue
            if eni is not None and getattr(nat, "_eni", None) is not eni:
                continue
            out.append(nat)
        return out

    def make_detach(orig):
        def detach_internet_gateway(self, internet_gateway_id, vpc_id):
            if m.active:
                blocking = nats_mapping(self, vpc_id=vpc_id)
                if blocking:
                    m.refuse("dependency")
                    names = ", ".join(f"{n.id} ({n.state})" for n in blocking)
                    raise EC2ClientError(
                        "DependencyViolation",
                        f"Network {vpc_id} has some mapped public address(es). Please unmap those "
                        f"public address(es) before detaching the gateway. Mapped by NAT gateway "
                        f"{names}.")
            return orig(self, internet_gateway_id, vpc_id)
        return detach_internet_gateway

    def make_release(orig):
        def release_address(self, address=None, allocation_id=None):
            if m.active:
                eips = (self.address_by_ip([address]) if address
                        else self.address_by_allocation([allocation_id]))
                eni = getattr(eips[0], "eni", None) if eips else None
                blocking = nats_mapping(self, eni=eni) if eni is not None else []
                if blocking:
                    m.refuse("dependency")
                    raise EC2ClientError(
                        "InvalidIPAddress.InUse",
                        f"Address {eips[0].public_ip} is in use by NAT gateway {blocking[0].id} "
                        f"({blocking[0].state}).")
                gone_at = getattr(eips[0], "medtech_nat_gone_at", None) if eips else None
                if (gone_at is not None
                        and m.now() - gone_at < m.behaviour.seconds("eip_release_after_nat")):
                    m.refuse("eip_after_nat")
                    raise _auth_failure()
            return orig(self, address=address, allocation_id=allocation_id)
        return release_address

    # ---------------------------------------------------------- VPC endpoints
    def make_vpce_create(orig):
        def create_vpc_endpoint(self, vpc_id, service_name, endpoint_type, policy_document,
                                route_table_ids, subnet_ids=None, network_interface_ids=None,
                                dns_entries=None, client_token=None, security_group_ids=None,
                                tags=None, private_dns_enabled=None):
            fingerprint = (vpc_id, service_name, (endpoint_type or "").lower(),
                           tuple(sorted(route_table_ids or [])), tuple(sorted(subnet_ids or [])),
                           tuple(sorted(security_group_ids or [])))
            token_key = (self.account_id, self.region_name, "CreateVpcEndpoint", client_token)
            if m.enhanced and client_token and token_key in m.tokens:
                seen, vpce_id = m.tokens[token_key]
                if seen != fingerprint:
                    raise EC2ClientError("IdempotentParameterMismatch",
                                         f"Client token {client_token} was already used with "
                                         "different parameters.")
                if vpce_id in self.vpc_end_points:
                    return self.vpc_end_points[vpce_id]
                # EC2 answers a token with its endpoint even once that is deleted.
                gone = m.gone_endpoints.get(vpce_id)
                if gone is not None:
                    gone.state = "deleted"
                    return gone
            endpoint = orig(self, vpc_id, service_name, endpoint_type, policy_document,
                            route_table_ids, subnet_ids, network_interface_ids, dns_entries,
                            client_token, security_group_ids, tags, private_dns_enabled)
            if m.enhanced and client_token:
                with m.lock:
                    m.tokens[token_key] = (fingerprint, endpoint.id)
            if m.active:
                endpoint.state = "pending"
                interface = (endpoint.vpc_endpoint_type or "").lower() == "interface"

                def apply():
                    if endpoint.state == "pending":
                        endpoint.state = "available"
                m.start("vpce", self, endpoint.id, "create",
                        "vpce_create" if interface else "vpce_gateway_create", apply)
            return endpoint
        return create_vpc_endpoint

    def make_vpce_delete(orig):
        def delete_vpc_endpoints(self, vpce_ids=None):
            if not m.active:
                return orig(self, vpce_ids)
            passthrough = []
            for vpce_id in vpce_ids or []:
                endpoint = self.vpc_end_points.get(vpce_id)
                if endpoint is None or endpoint.state == "deleted":
                    passthrough.append(vpce_id)
                    continue
                if endpoint.state == "deleting":
                    continue
                endpoint.state = "deleting"
                interface = (endpoint.vpc_endpoint_type or "").lower() == "interface"
                subnets = set(endpoint.subnet_ids or []) if interface else set()
                groups = set(endpoint.security_group_ids or []) if interface else set()

                def apply(vpce_id=vpce_id, endpoint=endpoint, subnets=subnets, groups=groups):
                    with keep_interfaces() as interfaces:
                        orig(self, [vpce_id])  # routes removed; the ENIs linger
                    if self.vpc_end_points.get(vpce_id) is endpoint:
                        del self.vpc_end_points[vpce_id]
                    m.gone_endpoints[vpce_id] = endpoint
                    m.linger(self, f"VPC endpoint {vpce_id}", subnets, groups, interfaces)
                m.start("vpce", self, vpce_id, "delete", "vpce_delete", apply, final="gone")
            if passthrough:
                orig(self, passthrough)
        return delete_vpc_endpoints

    def make_vpce_describe(orig):
        def describe_vpc_endpoints(self, vpc_end_point_ids, filters=None):
            endpoints = orig(self, vpc_end_point_ids, filters)
            if m.active:
                for endpoint in endpoints:
                    m.observe("vpce", self, endpoint.id, endpoint.state)
            return endpoints
        return describe_vpc_endpoints

    # --------------------------------------------- subnets / security groups
    def users(backend) -> list[tuple[str, set, set]]:
        """(what, subnets, security groups) of everything holding network interfaces."""
        account, region = backend.account_id, backend.region_name
        found: list[tuple[str, set, set]] = []
        try:
            from moto.rds.models import rds_backends

            rds = rds_backends[account][region]
            for db in list(rds.databases.values()):
                group = getattr(db, "db_subnet_group", None)
                subnets = {s.id for s in (getattr(group, "_subnets", None) or [])}
                found.append((f"RDS DB instance {db.db_instance_identifier} ({db.status})",
                              subnets, set(getattr(db, "vpc_security_group_ids", None) or [])))
        except Exception:  # noqa: BLE001
            traceback.print_exc(file=sys.stderr)
        try:
            from moto.elasticache.models import elasticache_backends

            cache = elasticache_backends[account][region]
            for rg in list(cache.replication_groups.values()):
                group = cache.cache_subnet_groups.get(rg.cache_subnet_group_name or "")
                found.append((f"ElastiCache replication group {rg.replication_group_id} "
                              f"({rg.status})", set(getattr(group, "subnet_ids", None) or []),
                              set(rg.security_group_ids or [])))
        except Exception:  # noqa: BLE001
            traceback.print_exc(file=sys.stderr)
        for endpoint in list(backend.vpc_end_points.values()):
            if endpoint.state == "deleted" or (endpoint.vpc_endpoint_type or "").lower() != "interface":
                continue
            found.append((f"VPC endpoint {endpoint.id} ({endpoint.state})",
                          set(endpoint.subnet_ids or []), set(endpoint.security_group_ids or [])))
        for nat in list(backend.nat_gateways.values()):
            if nat.state not in ("deleted", "failed"):
                found.append((f"NAT gateway {nat.id} ({nat.state})", {nat.subnet_id}, set()))
        now = m.now()
        for left in m.lingering_users(account, region):
            found.append((f"network interfaces of deleted {left.owner}, released in "
                          f"{max(0.0, left.until - now):.1f} s", set(left.subnets),
                          set(left.groups)))
        return found

    def make_delete_subnet(orig):
        def delete_subnet(self, subnet_id):
            if m.active:
                blocking = [what for what, subnets, _ in users(self) if subnet_id in subnets]
                if blocking:
                    m.refuse("dependency")
                    raise EC2ClientError(
                        "DependencyViolation",
                        f"The subnet '{subnet_id}' has dependencies and cannot be deleted. "
                        f"In use by: {'; '.join(blocking)}.")
            return orig(self, subnet_id)
        return delete_subnet

    def make_delete_sg(orig):
        def delete_security_group(self, name=None, group_id=None):
            if m.active:
                gid = group_id
                if not gid and name:
                    group = self.get_security_group_by_name_or_id(name)
                    gid = group.id if group is not None else None
                blocking = [what for what, _, groups in users(self) if gid and gid in groups]
                if blocking:
                    m.refuse("dependency")
                    raise EC2ClientError(
                        "DependencyViolation",
                        f"resource {gid} has a dependent object. In use by: {'; '.join(blocking)}.")
            return orig(self, name=name, group_id=group_id)
        return delete_security_group

    # -------------------------------------------------------------- flow logs
    def make_flow_create(orig):
        def create_flow_logs(self, resource_type, resource_ids, traffic_type,
                             deliver_logs_permission_arn, *args, **kwargs):
            if m.role_too_young(deliver_logs_permission_arn):
                m.refuse("iam_propagation")
                raise EC2ClientError("InvalidParameter",
                                     f"Unable to assume given IAM role: '{deliver_logs_permission_arn}'")
            return orig(self, resource_type, resource_ids, traffic_type,
                        deliver_logs_permission_arn, *args, **kwargs)
        return create_flow_logs

    def make_flow_response(orig):
        def create_flow_logs(self):
            token = self._get_param("ClientToken")
            if not (m.enhanced and token):
                return orig(self)
            backend = self.ec2_backend
            fingerprint = (self._get_param("ResourceType"),
                           tuple(sorted(self._get_param("ResourceIds", []) or [])),
                           self._get_param("TrafficType"), self._get_param("LogGroupName"),
                           self._get_param("LogDestination"),
                           self._get_param("DeliverLogsPermissionArn"))
            key = (backend.account_id, backend.region_name, "CreateFlowLogs", token)
            if key in m.tokens:
                seen, ids = m.tokens[key]
                if seen != fingerprint:
                    raise EC2ClientError("IdempotentParameterMismatch",
                                         f"Client token {token} was already used with different "
                                         "parameters.")
                return ActionResult({"ClientToken": token, "FlowLogIds": list(ids),
                                     "Unsuccessful": []})
            before = set(backend.flow_logs)
            result = orig(self)
            with m.lock:
                m.tokens[key] = (fingerprint, sorted(set(backend.flow_logs) - before))
            return result
        return create_flow_logs

    _wrap(NatGatewayBackend, "create_nat_gateway", make_nat_create)
    _wrap(NatGatewayBackend, "delete_nat_gateway", make_nat_delete)
    _wrap(NatGatewayBackend, "describe_nat_gateways", make_nat_describe)
    _wrap(InternetGatewayBackend, "detach_internet_gateway", make_detach)
    _wrap(ElasticAddressBackend, "release_address", make_release)
    _wrap(VPCBackend, "create_vpc_endpoint", make_vpce_create)
    _wrap(VPCBackend, "delete_vpc_endpoints", make_vpce_delete)
    _wrap(VPCBackend, "describe_vpc_endpoints", make_vpce_describe)
    _wrap(SubnetBackend, "delete_subnet", make_delete_subnet)
    _wrap(SecurityGroupBackend, "delete_security_group", make_delete_sg)
    _wrap(FlowLogsBackend, "create_flow_logs", make_flow_create)
    _wrap(FlowLogsResponse, "create_flow_logs", make_flow_response)


# -------------------------------------------------------------------- Kinesis
def _install_kinesis(m: Model) -> None:
    from moto.core.exceptions import JsonRESTError
    from moto.kinesis.models import KinesisBackend

    def in_use(backend, stream):
        return JsonRESTError(
            "ResourceInUseException",
            f"Stream {stream.stream_name} under account {backend.account_id} not ACTIVE, "
            f"instead in state {stream.status}")

    def settle(stream):
        def apply():
            if stream.status in ("CREATING", "UPDATING"):
                stream.status = "ACTIVE"
        return apply

    def make_create(orig):
        def create_stream(self, *args, **kwargs):
            stream = orig(self, *args, **kwargs)
            if m.active:
                stream.status = "CREATING"
                m.start("kinesis", self, stream.stream_name, "create", "kinesis_create",
                        settle(stream))
            return stream
        return create_stream

    def make_update(orig):
        def update(self, stream_arn, stream_name, *args, **kwargs):
            if not m.active:
                return orig(self, stream_arn, stream_name, *args, **kwargs)
            stream = self.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
            if stream.status != "ACTIVE":
                m.refuse("not_available")
                raise in_use(self, stream)
            result = orig(self, stream_arn, stream_name, *args, **kwargs)
            stream.status = "UPDATING"
            m.start("kinesis", self, stream.stream_name, "update", "kinesis_update", settle(stream))
            return result
        return update

    def make_delete(orig):
        def delete_stream(self, stream_arn, stream_name):
            if not m.active:
                return orig(self, stream_arn, stream_name)
            stream = self.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
            if stream.status != "ACTIVE":
                m.refuse("not_available")
                raise in_use(self, stream)
            stream.status = "DELETING"
            name = stream.stream_name

            def apply():
                if self.streams.get(name) is stream:
                    del self.streams[name]
            m.start("kinesis", self, name, "delete", "kinesis_delete", apply, final="gone")
            return stream
        return delete_stream

    def make_describe(orig):
        def describe_stream(self, stream_arn, stream_name):
            stream = orig(self, stream_arn, stream_name)
            if m.active:
                m.observe("kinesis", self, stream.stream_name, stream.status)
            return stream
        return describe_stream

    def make_list(orig):
        def list_streams(self):
            streams = orig(self)
            if m.active:
                streams = list(streams)
                for stream in streams:
                    m.observe("kinesis", self, stream.stream_name, stream.status)
            return streams
        return list_streams

    _wrap(KinesisBackend, "create_stream", make_create)
    for name in ("update_shard_count", "increase_stream_retention_period",
                 "decrease_stream_retention_period", "start_stream_encryption",
                 "stop_stream_encryption"):
        _wrap(KinesisBackend, name, make_update)
    _wrap(KinesisBackend, "delete_stream", make_delete)
    _wrap(KinesisBackend, "describe_stream", make_describe)
    _wrap(KinesisBackend, "list_streams", make_list)


# ------------------------------------------------------------------------ IAM
def _install_iam(m: Model) -> None:
    from moto.iam.models import IAMBackend

    def make_create_role(orig):
        def create_role(self, *args, **kwargs):
            role = orig(self, *args, **kwargs)
            m.role_created_now(role.arn)
            return role
        return create_role

    _wrap(IAMBackend, "create_role", make_create_role)


# ------------------------------------------------------------------------ KMS
def _install_kms(m: Model) -> None:
    """A new key is unknown to the calls that configure it for ``kms_propagation``."""
    from moto.kms.exceptions import NotFoundException
    from moto.kms.models import KmsBackend

    def make_create_key(orig):
        def create_key(self, *args, **kwargs):
            key = orig(self, *args, **kwargs)
            m.key_created_now(key.id)
            return key
        return create_key

    def make_refusing(position: int):
        def make(orig):
            def call(self, *args, **kwargs):
                if args and len(args) > position:
                    key_id = self.get_key_id(args[position])
                    if m.key_too_young(key_id):
                        m.refuse("kms_propagation")
                        raise NotFoundException(f"Key '{args[position]}' does not exist")
                return orig(self, *args, **kwargs)
            return call
        return make

    _wrap(KmsBackend, "create_key", make_create_key)
    # The key named by the first argument (create_alias: target_key_id, then alias_name).
    for name in ("enable_key_rotation", "put_key_policy", "tag_resource", "create_alias"):
        _wrap(KmsBackend, name, make_refusing(0))
