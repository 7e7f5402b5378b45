"""RDS: validation, KMS resolution and the fields real RDS reports.

Real-AWS behaviour reproduced (moto 5.2.5 differs):

DB subnet groups
* ``CreateDBSubnetGroup`` with a name that exists fails with
  ``DBSubnetGroupAlreadyExists`` (moto silently replaces the group).
* A DB subnet group must cover at least two Availability Zones
  (``DBSubnetGroupDoesNotCoverEnoughAZs``).
* ``ModifyDBSubnetGroup`` keeps the group (moto drops it from the backend).
* ``DeleteDBSubnetGroup`` of a group a DB instance still uses fails with
  ``InvalidDBSubnetGroupStateFault``.

Resource Groups Tagging API
* ``GetResources`` lists DB parameter groups (``rds:pg``) and DB subnet groups
  (``rds:subgrp``) with their tags, as real AWS does (moto lists only
  instances, clusters, snapshots and proxies).

DB parameter groups
* ``CreateDBParameterGroup`` with a family RDS does not know (``postgres99``)
  fails with ``InvalidParameterValue``; known: ``postgres9.3``..``postgres18``,
  ``mysql5.7/8.0/8.4``, ``mariadb10.x/11.x``, ``aurora-*``, ``oracle-*``,
  ``sqlserver-*``, ``db2-*``.
* ``DeleteDBParameterGroup`` of a group a DB instance still uses fails with
  ``InvalidDBParameterGroupState``.

DB instances
* ``MasterUserPassword`` must be 8..128 (PostgreSQL; MySQL/MariaDB 8..41)
  printable ASCII characters other than ``/``, ``@``, ``"`` and space, else
  ``InvalidParameterValue`` (CreateDBInstance and ModifyDBInstance).
* ``KmsKeyId`` (with ``StorageEncrypted``) and ``PerformanceInsightsKMSKeyId``
  may be a key id, key ARN, alias name or alias ARN; RDS stores and reports
  the *key ARN*.  A key that does not exist, is not enabled, or lives in
  another region fails with ``KMSKeyNotAccessibleFault``.  Without a key,
  encryption uses the account's AWS managed key ``alias/aws/rds``.
* ``PerformanceInsightsEnabled``, ``PerformanceInsightsKMSKeyId`` and
  ``PerformanceInsightsRetentionPeriod`` (default 7 days; allowed 7, 31*N for
  N in 1..23, 731) are stored and returned (moto drops them), also through
  ``ModifyDBInstance``.
* The instance is placed in an AZ of its DB subnet group (moto always says
  ``<region>a``), and a Multi-AZ instance reports ``SecondaryAvailabilityZone``:
  another AZ of its subnet group.  Multi-AZ together with an explicit
  ``AvailabilityZone`` is ``InvalidParameterCombination``.
* ``DeleteDBInstance`` of a standalone instance needs ``FinalDBSnapshotIdentifier``
  or ``SkipFinalSnapshot=true`` (``InvalidParameterCombination`` otherwise).
"""
from __future__ import annotations

import functools
import re

from ._kms import default_service_key_arn, find_key, usable

_FAMILY = re.compile(
    r"^(postgres(9\.[3-6]|1[0-8])"
    r"|mysql(5\.5|5\.6|5\.7|8\.0|8\.4)"
    r"|mariadb(10\.[0-9]+|11\.[0-9]+)"
    r"|aurora(5\.6)?|aurora-mysql(5\.7|8\.0)|aurora-postgresql(9\.6|1[0-7])"
    r"|oracle-(ee|se|se1|se2|ee-cdb|se2-cdb)-(11\.2|12\.1|12\.2|18|19|21)"
    r"|sqlserver-(ee|se|ex|web)-1[0-6]\.0"
    r"|db2-(ae|se)-11\.5"
    r"|custom-(oracle-ee|oracle-ee-cdb|oracle-se2|oracle-se2-cdb)-19"
    r"|custom-sqlserver-(ee|se|web|dev)-1[5-6]\.0"
    r"|neptune1(\.[0-9]+)?|docdb[0-9.]+)$"
)
PI_RETENTION = {7, 731} | {31 * n for n in range(1, 24)}
_PASSWORD_FORBIDDEN = set('/@" ')


def _password_problem(password: str, engine: str | None) -> str | None:
    engine = (engine or "").lower()
    max_len = 41 if engine in ("mysql", "mariadb") else 128
    if len(password) < 8:
        return ("The parameter MasterUserPassword is not a valid password because it is "
                "shorter than 8 characters.")
    if len(password) > max_len:
        return (f"The parameter MasterUserPassword is not a valid password because it is "
                f"longer than {max_len} characters.")
    if any(c in _PASSWORD_FORBIDDEN or not (32 <= ord(c) <= 126) for c in password):
        return ("The parameter MasterUserPassword is not a valid password. Only printable "
                "ASCII characters besides '/', '@', '\"', ' ' may be used.")
    return None


def apply() -> None:
    from moto.core.resource_tagging import TaggedResource
    from moto.rds.exceptions import (
        DBParameterGroupNotFoundError,
        DBSubnetGroupNotFoundError,
        InvalidParameterCombination,
        InvalidParameterValue,
        KMSKeyNotAccessibleFault,
        RDSClientError,
    )
    from moto.rds.models import DBInstance, RDSBackend
    from moto.rds.responses import RDSResponse

    # ------------------------------------------------------------ helpers
    def resolve_key(backend, ref) -> str:
        key = find_key(backend.account_id, backend.region_name, str(ref), allow_alias=True)
        if not usable(key):
            raise KMSKeyNotAccessibleFault(str(ref))
        return key.arn

    def check_password(db_kwargs, engine):
        password = db_kwargs.get("master_user_password")
        if password is not None:
            problem = _password_problem(str(password), engine)
            if problem:
                raise InvalidParameterValue(problem)

    def check_az_coverage(subnets):
        azs = sorted({s.availability_zone for s in subnets})
        if len(azs) < 2:
            raise RDSClientError(
                "DBSubnetGroupDoesNotCoverEnoughAZs",
                "The DB subnet group doesn't meet Availability Zone (AZ) coverage requirement. "
                f"Current AZ coverage: {', '.join(azs)}. Add subnets to cover at least 2 AZs.")

    def subnet_group_azs(db) -> list[str]:
        group = getattr(db, "db_subnet_group", None)
        subnets = getattr(group, "_subnets", None) or []
        return sorted({s.availability_zone for s in subnets})

    def pi_settings(backend, db_kwargs, current=None):
        """(enabled, kms_arn, retention) from request kwargs, or None if PI not mentioned."""
        enabled = db_kwargs.get("enable_performance_insights")
        if enabled is None:
            return None
        if not enabled:
            return (False, None, None)
        kms = db_kwargs.get("performance_insights_kms_key_id")
        if kms:
            kms_arn = resolve_key(backend, kms)
        elif current and current[1]:
            kms_arn = current[1]
        else:
            kms_arn = default_service_key_arn(backend.account_id, backend.region_name, "alias/aws/rds")
        retention = db_kwargs.get("performance_insights_retention_period")
        if retention is None:
            retention = current[2] if current and current[2] else 7
        if int(retention) not in PI_RETENTION:
            raise InvalidParameterValue(
                f"Invalid Performance Insights retention period: {retention}. Valid values are "
                "7, month * 31 (where month is a number of months from 1-23), and 731.")
        return (True, kms_arn, int(retention))

    def set_pi(db, settings):
        db.performance_insights_enabled, db.performance_insights_kms_key_id, \
            db.performance_insights_retention_period = settings

    # ----------------------------------------------------- DBInstance model
    DBInstance.performance_insights_enabled = False
    DBInstance.performance_insights_kms_key_id = None
    DBInstance.performance_insights_retention_period = None

    def secondary_availability_zone(self):
        if not getattr(self, "multi_az", False) or getattr(self, "db_cluster_identifier", None):
            return None
        others = [az for az in subnet_group_azs(self) if az != self.availability_zone]
        if others:
            return others[0]
        fallback = f"{self.region}b"
        return fallback if fallback != self.availability_zone else f"{self.region}a"

    DBInstance.secondary_availability_zone = property(secondary_availability_zone)

    # -------------------------------------------------------- backend: DBs
    orig_create_db = RDSBackend.create_db_instance
    orig_modify_db = RDSBackend.modify_db_instance

    @functools.wraps(orig_create_db)
    def create_db_instance(self, db_kwargs):
        standalone = db_kwargs.get("db_cluster_identifier") is None
        if standalone:
            check_password(db_kwargs, db_kwargs.get("engine"))
            if db_kwargs.get("multi_az") and db_kwargs.get("availability_zone"):
                raise InvalidParameterCombination(
                    "Requesting a specific availability zone is not valid for Multi-AZ instances.")
            if db_kwargs.get("storage_encrypted"):
                if db_kwargs.get("kms_key_id"):
                    db_kwargs["kms_key_id"] = resolve_key(self, db_kwargs["kms_key_id"])
                else:
                    db_kwargs["kms_key_id"] = default_service_key_arn(
                        self.account_id, self.region_name, "alias/aws/rds")
        pi = pi_settings(self, db_kwargs)
        database = orig_create_db(self, db_kwargs)
        if pi is not None:
            set_pi(database, pi)
        if standalone and not db_kwargs.get("availability_zone"):
            azs = subnet_group_azs(database)
            if azs:
                database.availability_zone = azs[0]
        return database

    @functools.wraps(orig_modify_db)
    def modify_db_instance(self, db_instance_identifier, db_kwargs):
        database = self.describe_db_instances(db_instance_identifier)[0]
        check_password(db_kwargs, database.engine)
        current = (database.performance_insights_enabled, database.performance_insights_kms_key_id,
                   database.performance_insights_retention_period)
        pi = pi_settings(self, db_kwargs, current)
        if pi is None and current[0] and db_kwargs.get("performance_insights_retention_period"):
            pi = pi_settings(self, {**dict(db_kwargs), "enable_performance_insights": True}, current)
        for key in ("enable_performance_insights", "performance_insights_kms_key_id",
                    "performance_insights_retention_period"):
            if key in db_kwargs:
                del db_kwargs[key]
        database = orig_modify_db(self, db_instance_identifier, db_kwargs)
        if pi is not None:
            set_pi(database, pi)
        return database

    RDSBackend.create_db_instance = create_db_instance
    RDSBackend.modify_db_instance = modify_db_instance

    orig_r_delete = RDSResponse.delete_db_instance

    @functools.wraps(orig_r_delete)
    def r_delete_db_instance(self):
        db_id = self.params.get("DBInstanceIdentifier")
        database = self.backend.databases.get(db_id) if db_id else None
        if (database is not None and not getattr(database, "db_cluster_identifier", None)
                and not getattr(database, "is_replica", False)
                and not self.params.get("SkipFinalSnapshot")
                and not self.params.get("FinalDBSnapshotIdentifier")):
            raise InvalidParameterCombination(
                "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.")
        return orig_r_delete(self)

    RDSResponse.delete_db_instance = r_delete_db_instance

    # ------------------------------------------------- backend: subnet groups
    orig_create_subnet_group = RDSBackend.create_subnet_group

    @functools.wraps(orig_create_subnet_group)
    def create_subnet_group(self, subnet_name, description, subnets, tags):
        if subnet_name in self.subnet_groups:
            raise RDSClientError("DBSubnetGroupAlreadyExists",
                                 f"The DB subnet group '{subnet_name}' already exists.")
        check_az_coverage(subnets)
        return orig_create_subnet_group(self, subnet_name, description, subnets, tags)

    def modify_db_subnet_group(self, subnet_name, description, subnets):
        if subnet_name not in self.subnet_groups:
            raise DBSubnetGroupNotFoundError(subnet_name)
        group = self.subnet_groups[subnet_name]
        if subnets:
            check_az_coverage(subnets)
            group.subnets = subnets
        if description is not None:
            group.description = description
        return group

    orig_delete_subnet_group = RDSBackend.delete_subnet_group

    @functools.wraps(orig_delete_subnet_group)
    def delete_subnet_group(self, subnet_name):
        for db in self.databases.values():
            if (getattr(db, "_db_subnet_group_name", None) or "").lower() == subnet_name.lower():
                raise RDSClientError(
                    "InvalidDBSubnetGroupStateFault",
                    f"Cannot delete the subnet group '{subnet_name}' because at least one "
                    f"database instance: {db.db_instance_identifier} is still using it.")
        return orig_delete_subnet_group(self, subnet_name)

    RDSBackend.create_subnet_group = create_subnet_group
    RDSBackend.modify_db_subnet_group = modify_db_subnet_group
    RDSBackend.delete_subnet_group = delete_subnet_group

    # ---------------------------------------------- backend: parameter groups
    orig_create_pg = RDSBackend.create_db_parameter_group
    orig_delete_pg = RDSBackend.delete_db_parameter_group

    @functools.wraps(orig_create_pg)
    def create_db_parameter_group(self, kwargs):
        family = kwargs.get("db_parameter_group_family")
        if family and not _FAMILY.match(str(family)):
            raise InvalidParameterValue(f"Invalid DB parameter group family: {family}")
        return orig_create_pg(self, kwargs)

    @functools.wraps(orig_delete_pg)
    def delete_db_parameter_group(self, db_parameter_group_name):
        if db_parameter_group_name not in self.db_parameter_groups:
            raise DBParameterGroupNotFoundError(db_parameter_group_name)
        for db in self.databases.values():
            if (getattr(db, "db_parameter_group_name", None) or "").lower() == \
                    db_parameter_group_name.lower():
                raise RDSClientError(
                    "InvalidDBParameterGroupState",
                    "One or more database instances are still members of this parameter "
                    f"group {db_parameter_group_name}, so the group cannot be deleted")
        return orig_delete_pg(self, db_parameter_group_name)

    RDSBackend.create_db_parameter_group = create_db_parameter_group
    RDSBackend.delete_db_parameter_group = delete_db_parameter_group

    orig_iter_tagged = RDSBackend.iter_tagged_resources

    def iter_tagged_resources(self):
        yield from orig_iter_tagged(self)
        for resource_type, resources in (("rds:pg", self.db_parameter_groups.values()),
                                         ("rds:subgrp", self.subnet_groups.values())):
            for resource in resources:
                yield TaggedResource(
                    arn=resource.arn,
                    tags={tag["Key"]: tag["Value"] for tag in resource.get_tags()},
                    resource_type=resource_type,
                )

    RDSBackend.iter_tagged_resources = iter_tagged_resources
