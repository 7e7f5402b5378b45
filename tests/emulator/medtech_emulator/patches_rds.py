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

Engine versions
* ``DescribeDBEngineVersions`` exists (moto: HTML 500) and serves a PostgreSQL
  version list shaped like a region's: majors 13 to 17, several minors each,
  one default per major (not always the newest), a few retired minors with
  ``Status`` ``deprecated`` (``16.4`` among them), ``DBParameterGroupFamily``,
  ``MajorEngineVersion`` and ``ValidUpgradeTarget``.  Filters as AWS applies
  them: ``Engine``; ``EngineVersion`` exact or by leading components (``16``
  matches every 16.x); ``DBParameterGroupFamily``; ``DefaultOnly`` (the
  default of the engine, or of the major when ``EngineVersion`` names one);
  ``IncludeAll`` (also versions that are not available).  Other engines
  answer an empty list.
* ``CreateDBInstance`` and ``ModifyDBInstance`` with a PostgreSQL
  ``EngineVersion`` that is not available fail with
  ``InvalidParameterCombination`` "Cannot find version X for postgres"; a
  major version given alone (``16``) takes that major's default, as RDS does;
  without ``EngineVersion`` the engine's default is used.
* The DB parameter group of a PostgreSQL instance must be of its version's
  family (``InvalidParameterCombination`` "The parameter group X with
  DBParameterGroupFamily postgres15 can't be used for this instance...") on
  create, and on a modify that changes the major version, which also needs
  ``AllowMajorVersionUpgrade``; a downgrade is refused.
* ``MasterUsername`` of a PostgreSQL instance may not be a reserved word
  (``admin``, ``rdsadmin``, the SQL words PostgreSQL reserves such as ``user``)
  or start with ``pg_`` (``InvalidParameterValue``); ``postgres`` is allowed.

CAs, ports and enhanced monitoring
* ``DescribeCertificates`` exists (moto: 501) and lists the region's three CAs with their
  real ``ValidFrom``/``ValidTill`` (us-east-1's, from the API reference's example):
  ``rds-ca-rsa2048-g1`` till 2061, ``rds-ca-rsa4096-g1`` and ``rds-ca-ecc384-g1`` till 2121;
  ``DefaultCertificateForNewLaunches`` is ``rds-ca-rsa2048-g1``.  ``CertificateIdentifier``
  (case-insensitive) narrows the list; an unknown one is ``CertificateNotFound`` (404), a
  ``MaxRecords`` outside 20..100 ``InvalidParameterValue``.
* ``CACertificateIdentifier`` defaults to ``rds-ca-rsa2048-g1``, RDS's default since January
  2024 (moto: ``rds-ca-default``, which no region offers); one that is not offered fails
  ``CreateDBInstance`` and ``ModifyDBInstance`` with ``CertificateNotFound``.
* ``CertificateDetails`` is reported (moto: never): ``CAIdentifier`` and the ``ValidTill`` of
  the server certificate, a year after the instance was created or last changed CA (RDS
  rotates it before then, which no test lives to see).
* ``ModifyDBInstance`` with ``DBPortNumber`` moves the instance's port (``Endpoint.Port``,
  ``DbInstancePort``); moto accepted and ignored it.  A PostgreSQL port outside 1150..65535
  fails ``CreateDBInstance`` and ``ModifyDBInstance`` with ``InvalidParameterValue``.
* ``EnhancedMonitoringResourceArn`` is reported while ``MonitoringInterval`` > 0, as
  ``arn:aws:logs:<region>:<account>:log-group:RDSOSMetrics:log-stream:<DbiResourceId>``
  (moto: never), and each instance has its own ``DbiResourceId`` (moto: one for all).

Network interfaces
* A DB instance has a requester-managed network interface (``RequesterId`` ``amazon-rds``,
  ``InterfaceType`` ``interface``, described ``RDSNetworkInterface``) in the subnet of its DB
  subnet group in its AZ, and a Multi-AZ one a second in its standby's AZ, carrying the
  instance's VPC security groups, also after ``ModifyDBInstance`` changes them; they go with
  the instance (moto makes none, so ``DescribeNetworkInterfaces`` showed the groups unused).

Event subscriptions
* ``CreateEventSubscription`` checks what RDS checks: the topic exists
  (``SNSTopicArnNotFound``), the source type is one RDS has (``InvalidParameterValue``),
  each category is one of the source type's (``SubscriptionCategoryNotFound``; for the
  instance, parameter group, security group, snapshot and cluster snapshot types), each
  source id names a source of the type (``SourceNotFound``), and no categories or ids come
  without a source type (``InvalidParameterCombination``).  ``Enabled`` defaults to true
  (moto: false).
* ``ModifyEventSubscription``, ``AddSourceIdentifierToSubscription`` and
  ``RemoveSourceIdentifierFromSubscription`` exist (moto: 501), with the same checks; removing
  an id the subscription does not have is ``SourceNotFound``.
* ``Status`` says whether RDS can deliver (moto: always ``active``): ``topic-not-exist`` once
  the topic is gone; ``no-permission`` while the topic policy does not let
  ``events.rds.amazonaws.com`` publish, or, for a topic encrypted with a KMS key, the key
  policy does not let it ``kms:GenerateDataKey`` and ``kms:Decrypt``; else ``active``.  RDS
  accepts such a subscription and drops its events.  The policies are evaluated for the
  service principal (``*``, ``{"AWS": "*"}`` or ``{"Service": ...}``), with ``aws:SourceAccount``,
  ``aws:SourceOwner``, ``aws:SourceArn`` (the ARN of each source, or ``<type>:*`` without
  one) and ``kms:EncryptionContext:aws:sns:topicArn`` under the positive ``String``/``Arn``
  operators (and ``IfExists``); a statement with another operator is not applied.
* ``GetResources`` lists event subscriptions (``rds:es``) with their tags.
"""
from __future__ import annotations

import fnmatch
import functools
import json
import re

from ._kms import default_service_key_arn, find_key, usable
from .patches_ec2 import close_interfaces, open_interface

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

# PostgreSQL on RDS as a region lists it: (major, available minors, default minor,
# retired minors).  The default is not always the newest, as on AWS.
_POSTGRES = [
    ("13", ["13.18", "13.20", "13.21", "13.22"], "13.20", ["13.16"]),
    ("14", ["14.15", "14.17", "14.18", "14.19"], "14.17", ["14.13"]),
    ("15", ["15.10", "15.12", "15.13", "15.14"], "15.12", ["15.8"]),
    ("16", ["16.6", "16.8", "16.9", "16.10"], "16.8", ["16.3", "16.4"]),
    ("17", ["17.2", "17.4", "17.5", "17.6"], "17.4", []),
]
# What DefaultOnly answers for the engine as a whole.
_POSTGRES_DEFAULT = "17.4"
# Words RDS refuses as a PostgreSQL master user name: its own, and the SQL key words
# PostgreSQL reserves.  ``postgres`` itself is allowed (the console's default).
_PG_RESERVED_USERS = {"admin", "rdsadmin"} | set("""
    all analyse analyze and any array as asc asymmetric both case cast check collate
    column constraint create current_catalog current_date current_role current_time
    current_timestamp current_user default deferrable desc distinct do else end except
    false fetch for foreign from grant group having in initially intersect into lateral
    leading limit localtime localtimestamp not null offset on only or order placing
    primary references returning select session_user some symmetric system_user table
    then to trailing true union unique user using variadic when where window with
    """.split())


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def _postgres_versions() -> list[dict]:
    """Every PostgreSQL version, oldest first, as DescribeDBEngineVersions reports it."""
    rows = []
    for major, available, default, retired in _POSTGRES:
        for version, status in sorted([(v, "available") for v in available]
                                      + [(v, "deprecated") for v in retired],
                                      key=lambda r: _version_key(r[0])):
            rows.append({"major": major, "version": version, "status": status,
                         "default": version == default})
    entries = []
    for row in rows:
        targets = [
            {"Engine": "postgres", "EngineVersion": other["version"],
             "Description": f"PostgreSQL {other['version']}-R1", "AutoUpgrade": False,
             "IsMajorVersionUpgrade": other["major"] != row["major"]}
            for other in rows
            if other["status"] == "available"
            and _version_key(other["version"]) > _version_key(row["version"])
            # Major upgrades go to the next two majors only, as on AWS.
            and int(other["major"]) - int(row["major"]) <= 2
        ]
        entries.append({
            "_default": row["default"],
            "Engine": "postgres",
            "EngineVersion": row["version"],
            "MajorEngineVersion": row["major"],
            "DBParameterGroupFamily": f"postgres{row['major']}",
            "DBEngineDescription": "PostgreSQL",
            "DBEngineVersionDescription": f"PostgreSQL {row['version']}-R1",
            "ExportableLogTypes": ["postgresql", "upgrade"],
            "SupportsLogExportsToCloudwatchLogs": True,
            "SupportsReadReplica": True,
            "SupportedEngineModes": ["provisioned"],
            "SupportedFeatureNames": ["Lambda", "s3Export", "s3Import"],
            "Status": row["status"],
            "SupportsParallelQuery": False,
            "SupportsGlobalDatabases": False,
            "SupportsBabelfish": False,
            "SupportsCertificateRotationWithoutRestart": True,
            "SupportsLocalWriteForwarding": False,
            "SupportsIntegrations": False,
            "ValidUpgradeTarget": targets,
        })
    return entries


_ENGINE_VERSIONS = _postgres_versions()


def _matches_version(requested: str, version: str) -> bool:
    """``16`` matches 16.x; ``16.8`` matches 16.8 only."""
    wanted = requested.split(".")
    return version.split(".")[:len(wanted)] == wanted


def describe_engine_versions(engine=None, engine_version=None, family=None,
                             default_only=False, include_all=False) -> list[dict]:
    """The versions DescribeDBEngineVersions lists for these filters (internal keys kept)."""
    rows = [r for r in _ENGINE_VERSIONS
            if (engine is None or r["Engine"] == engine)
            and (include_all or r["Status"] == "available")
            and (family is None or r["DBParameterGroupFamily"] == family)
            and (engine_version is None or _matches_version(engine_version, r["EngineVersion"]))]
    if default_only:
        if engine_version is None and family is None:
            rows = [r for r in rows if r["EngineVersion"] == _POSTGRES_DEFAULT]
        else:
            rows = [r for r in rows if r["_default"]]
    return rows


def available_postgres(engine_version: str | None) -> dict | None:
    """The version CreateDBInstance would run for ``engine_version``, or None if RDS has none."""
    if engine_version is None:
        return describe_engine_versions("postgres", default_only=True)[0]
    exact = [r for r in describe_engine_versions("postgres", engine_version)
             if r["EngineVersion"] == engine_version]
    if exact:
        return exact[0]
    if "." not in engine_version:
        defaults = describe_engine_versions("postgres", engine_version, default_only=True)
        return defaults[0] if defaults else None
    return None


def _reserved_user_problem(username: str) -> str | None:
    lowered = username.lower()
    if lowered.startswith("pg_"):
        return (f"MasterUsername {username} cannot be used because role names starting with "
                '"pg_" are reserved by the PostgreSQL engine')
    if lowered in _PG_RESERVED_USERS:
        return f"MasterUsername {username} cannot be used as it is a reserved word used by the engine"
    return None
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
    from moto.core.responses import ActionResult
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

    def postgres_version(requested):
        version = available_postgres(str(requested) if requested is not None else None)
        if version is None:
            raise InvalidParameterCombination(f"Cannot find version {requested} for postgres")
        return version

    def check_family(backend, group_name, version):
        group = backend.db_parameter_groups.get(group_name) if group_name else None
        family = version["DBParameterGroupFamily"]
        if group is not None and group.family != family:
            raise InvalidParameterCombination(
                f"The parameter group {group_name} with DBParameterGroupFamily {group.family} "
                f"can't be used for this instance. Use a parameter group with "
                f"DBParameterGroupFamily {family}.")

    def check_username(db_kwargs):
        username = db_kwargs.get("master_username")
        problem = _reserved_user_problem(str(username)) if username else None
        if problem:
            raise InvalidParameterValue(problem)

    @functools.wraps(orig_create_db)
    def create_db_instance(self, db_kwargs):
        standalone = db_kwargs.get("db_cluster_identifier") is None
        if standalone and str(db_kwargs.get("engine") or "").lower() == "postgres":
            check_username(db_kwargs)
            version = postgres_version(db_kwargs.get("engine_version"))
            check_family(self, db_kwargs.get("db_parameter_group_name"), version)
            db_kwargs["engine_version"] = version["EngineVersion"]
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

    def check_version_change(backend, database, db_kwargs):
        current = available_postgres(database.engine_version) or {
            "MajorEngineVersion": str(database.engine_version).split(".")[0]}
        version = postgres_version(db_kwargs["engine_version"])
        if _version_key(version["EngineVersion"]) < _version_key(str(database.engine_version)):
            raise InvalidParameterCombination(
                f"Cannot upgrade postgres from {database.engine_version} to "
                f"{version['EngineVersion']}")
        if version["MajorEngineVersion"] != current["MajorEngineVersion"]:
            if not db_kwargs.get("allow_major_version_upgrade"):
                raise InvalidParameterCombination(
                    "The AllowMajorVersionUpgrade flag must be present when upgrading to a new "
                    "major version.")
            group = db_kwargs.get("db_parameter_group_name") or getattr(
                database, "db_parameter_group_name", None)
            check_family(backend, group, version)
        db_kwargs["engine_version"] = version["EngineVersion"]

    @functools.wraps(orig_modify_db)
    def modify_db_instance(self, db_instance_identifier, db_kwargs):
        database = self.describe_db_instances(db_instance_identifier)[0]
        if str(database.engine).lower() == "postgres" and db_kwargs.get("engine_version"):
            check_version_change(self, database, db_kwargs)
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

    def r_describe_db_engine_versions(self):
        filters = {f["Name"]: f["Values"] for f in self.params.get("Filters", [])}
        engine = self.params.get("Engine") or (filters.get("engine") or [None])[0]
        rows = describe_engine_versions(
            engine=engine,
            engine_version=self.params.get("EngineVersion"),
            family=self.params.get("DBParameterGroupFamily")
            or (filters.get("db-parameter-group-family") or [None])[0],
            default_only=bool(self.params.get("DefaultOnly")),
            include_all=bool(self.params.get("IncludeAll")),
        )
        if engine is not None and engine != "postgres":
            rows = []
        public = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
        return ActionResult({"DBEngineVersions": public})

    RDSResponse.describe_db_engine_versions = r_describe_db_engine_versions

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
    _install_event_subscriptions()
    _install_certificates_ports_and_monitoring()
    _install_network_interfaces()


# ------------------------------------------------------------ event subscriptions
# The categories RDS lists for each source type it notifies of (RDS User Guide, "Amazon RDS
# event categories and event messages"). Other source types RDS takes are not checked here.
_EVENT_CATEGORIES = {
    "db-instance": {"availability", "backup", "configuration change", "creation", "deletion",
                    "failover", "failure", "low storage", "maintenance", "notification",
                    "read replica", "recovery", "restoration", "security", "security patching"},
    "db-parameter-group": {"configuration change"},
    "db-security-group": {"configuration change", "failure"},
    "db-snapshot": {"creation", "deletion", "notification", "restoration"},
    "db-cluster-snapshot": {"backup"},
}
_SOURCE_TYPES = set(_EVENT_CATEGORIES) | {
    "db-cluster", "db-proxy", "zero-etl", "custom-engine-version", "blue-green-deployment"}
# The resource type in the ARN of a source of each type (an event's `Resource` attribute).
_SOURCE_ARN_TYPE = {"db-instance": "db", "db-parameter-group": "pg", "db-security-group": "secgrp",
                    "db-snapshot": "snapshot", "db-cluster": "cluster",
                    "db-cluster-snapshot": "cluster-snapshot", "db-proxy": "db-proxy"}
_RDS_EVENTS = "events.rds.amazonaws.com"
# What RDS needs of the topic's key to publish to an encrypted topic (SNS Developer Guide,
# "Enable compatibility between event sources from AWS services and encrypted topics").
_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")


def _sources_of(backend, source_type):
    """The backend's sources of ``source_type`` by id; ``None`` for a type not checked here."""
    return {
        "db-instance": backend.databases,
        "db-parameter-group": backend.db_parameter_groups,
        "db-security-group": backend.security_groups,
        "db-snapshot": backend.database_snapshots,
        "db-cluster": backend.clusters,
        "db-cluster-snapshot": backend.cluster_snapshots,
    }.get(source_type)


def _check_subscription(backend, topic_arn, source_type, categories, source_ids):
    """The errors RDS answers a Create/ModifyEventSubscription with; moto checks none."""
    from moto.rds.exceptions import (InvalidParameterCombination, InvalidParameterValue,
                                     RDSClientError)

    if topic_arn is not None and _topic(topic_arn) is None:
        raise RDSClientError("SNSTopicArnNotFound", f"Topic ARN {topic_arn} not found.")
    if source_type is None:
        if categories:
            # The message terraform-provider-aws#1817 quotes.
            raise InvalidParameterCombination("If SourceType is null, Categories must also be null.")
        if source_ids:
            raise InvalidParameterCombination("If SourceType is null, SourceIds must also be null.")
        return
    if source_type not in _SOURCE_TYPES:
        raise InvalidParameterValue(f"Invalid source type: {source_type}")
    known = _EVENT_CATEGORIES.get(source_type)
    for category in categories or []:
        if known is not None and category not in known:
            raise RDSClientError("SubscriptionCategoryNotFound",
                                 f"Category {category} not found for source type {source_type}.")
    for source_id in source_ids or []:
        _check_source(backend, source_type, source_id)


def _check_source(backend, source_type, source_id):
    from moto.rds.exceptions import RDSClientError

    sources = _sources_of(backend, source_type)
    if sources is not None and source_id not in sources:
        raise RDSClientError("SourceNotFound", f"Source {source_id} not found.")


def _topic(topic_arn):
    """moto's SNS topic at ``topic_arn``, or ``None``."""
    from moto.sns.models import sns_backends

    parts = str(topic_arn).split(":")
    if len(parts) != 6 or parts[2] != "sns":
        return None
    try:
        return sns_backends[parts[4]][parts[3]].topics.get(topic_arn)
    except Exception:  # noqa: BLE001 - unknown account or region: no such topic
        return None


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _principal_matches(principal, service):
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    return "*" in _as_list(principal.get("AWS", [])) or service in _as_list(principal.get("Service", []))


_CONDITION_TESTS = {
    "StringEquals": lambda have, want: have == want,
    "StringLike": lambda have, want: fnmatch.fnmatchcase(have, want),
    "ArnEquals": lambda have, want: have == want,
    "ArnLike": lambda have, want: fnmatch.fnmatchcase(have, want),
}


def _conditions_hold(conditions, context):
    """Every condition of a statement, over ``context`` (keys lower-cased). Positive string
    and ARN operators only, with ``IfExists``; a statement with another operator is not
    applied."""
    for operator, tests in (conditions or {}).items():
        name = operator[:-len("IfExists")] if operator.endswith("IfExists") else operator
        test = _CONDITION_TESTS.get(name)
        if test is None:
            return False
        for key, wanted in tests.items():
            have = context.get(key.lower())
            if have is None:
                if name == operator:
                    return False
                continue
            if not any(test(have, str(w)) for w in _as_list(wanted)):
                return False
    return True


def _policy_allows(policy, service, action, context):
    """Whether the resource policy document ``policy`` lets ``service`` do ``action`` in
    ``context``: an Allow statement that matches, and no Deny that does."""
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError:
            return False
    allowed = False
    for statement in _as_list((policy or {}).get("Statement", [])):
        if not isinstance(statement, dict):
            continue
        actions = [str(a).lower() for a in _as_list(statement.get("Action", []))]
        if not (_principal_matches(statement.get("Principal"), service)
                and any(fnmatch.fnmatchcase(action.lower(), a) for a in actions)
                and _conditions_hold(statement.get("Condition"), context)):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed |= statement.get("Effect") == "Allow"
    return allowed


def _source_arns(subscription):
    """The ARNs RDS publishes the subscription's events from: its sources', else any source of
    its type in its account and region."""
    arn_type = _SOURCE_ARN_TYPE.get(subscription.source_type or "", "*")
    prefix = f"arn:{subscription.partition}:rds:{subscription.region}:{subscription.account_id}"
    return [f"{prefix}:{arn_type}:{source}" for source in subscription.source_ids or ["*"]]


def _delivery_status(subscription):
    """``Status`` as RDS reports it: ``topic-not-exist`` once the topic is gone,
    ``no-permission`` while the topic's policy does not let RDS publish or the topic's KMS
    key's policy does not let RDS use the key (RDS accepts the subscription and drops its
    events), else ``active``."""
    topic = _topic(subscription.sns_topic_arn)
    if topic is None:
        return "topic-not-exist"
    key = None
    if topic.kms_master_key_id:
        key = find_key(topic.account_id, topic.sns_backend.region_name, topic.kms_master_key_id)
        if key is None:
            return "no-permission"
    for source_arn in _source_arns(subscription):
        context = {"aws:sourceaccount": subscription.account_id,
                   "aws:sourceowner": subscription.account_id,
                   "aws:sourcearn": source_arn,
                   "kms:encryptioncontext:aws:sns:topicarn": topic.arn}
        if not _policy_allows(topic.policy, _RDS_EVENTS, "sns:Publish", context):
            return "no-permission"
        if key is not None and not all(_policy_allows(key.policy, _RDS_EVENTS, action, context)
                                       for action in _KEY_ACTIONS):
            return "no-permission"
    return "active"


def _install_event_subscriptions() -> None:
    """Event subscriptions as RDS keeps them: see the module docstring."""
    from moto.core.resource_tagging import TaggedResource
    from moto.core.responses import ActionResult
    from moto.rds.exceptions import SubscriptionNotFoundError
    from moto.rds.models import EventSubscription, RDSBackend
    from moto.rds.responses import RDSResponse

    EventSubscription.status = property(_delivery_status, lambda self, value: None)

    orig_create = RDSBackend.create_event_subscription

    @functools.wraps(orig_create)
    def create_event_subscription(self, kwargs):
        _check_subscription(self, kwargs.get("sns_topic_arn"), kwargs.get("source_type"),
                            kwargs.get("event_categories"), kwargs.get("source_ids"))
        if kwargs.get("enabled") is None:
            kwargs["enabled"] = True
        return orig_create(self, kwargs)

    def subscription(backend, name):
        found = backend.event_subscriptions.get(name)
        if found is None:
            raise SubscriptionNotFoundError(name)
        return found

    def r_modify_event_subscription(self):
        sub = subscription(self.backend, self.params.get("SubscriptionName"))
        topic_arn = self.params.get("SnsTopicArn")
        source_type = self.params.get("SourceType") or sub.source_type
        categories = self.params.get("EventCategories")
        _check_subscription(self.backend, topic_arn, source_type,
                            sub.event_categories if categories is None else categories, None)
        sub.sns_topic_arn = topic_arn or sub.sns_topic_arn
        sub.source_type = source_type
        if categories is not None:
            sub.event_categories = list(categories)
        if self.params.get("Enabled") is not None:
            sub.enabled = bool(self.params.get("Enabled"))
        return ActionResult({"EventSubscription": sub})

    def r_add_source_identifier_to_subscription(self):
        sub = subscription(self.backend, self.params.get("SubscriptionName"))
        source_id = self.params.get("SourceIdentifier")
        _check_source(self.backend, sub.source_type, source_id)
        if source_id not in sub.source_ids:
            sub.source_ids = [*sub.source_ids, source_id]
        return ActionResult({"EventSubscription": sub})

    def r_remove_source_identifier_from_subscription(self):
        from moto.rds.exceptions import RDSClientError

        sub = subscription(self.backend, self.params.get("SubscriptionName"))
        source_id = self.params.get("SourceIdentifier")
        if source_id not in sub.source_ids:
            raise RDSClientError("SourceNotFound", f"Source {source_id} not found.")
        sub.source_ids = [s for s in sub.source_ids if s != source_id]
        return ActionResult({"EventSubscription": sub})

    orig_iter_tagged = RDSBackend.iter_tagged_resources

    def iter_tagged_resources(self):
        yield from orig_iter_tagged(self)
        for sub in self.event_subscriptions.values():
            yield TaggedResource(arn=sub.arn,
                                 tags={tag["Key"]: tag["Value"] for tag in sub.get_tags()},
                                 resource_type="rds:es")

    RDSBackend.create_event_subscription = create_event_subscription
    RDSBackend.iter_tagged_resources = iter_tagged_resources
    RDSResponse.modify_event_subscription = r_modify_event_subscription
    RDSResponse.add_source_identifier_to_subscription = r_add_source_identifier_to_subscription
    RDSResponse.remove_source_identifier_from_subscription = (
        r_remove_source_identifier_from_subscription)


# ------------------------------------------------------ CAs, ports, enhanced monitoring
# The CAs a region offers, as DescribeCertificates lists them in us-east-1 (the API
# reference's example): (identifier, ValidFrom, ValidTill).
_CERTIFICATES = [
    ("rds-ca-rsa2048-g1", "2021-05-25T22:34:57+00:00", "2061-05-25T23:34:57+00:00"),
    ("rds-ca-rsa4096-g1", "2021-05-25T22:38:35+00:00", "2121-05-25T23:38:35+00:00"),
    ("rds-ca-ecc384-g1", "2021-05-25T22:41:55+00:00", "2121-05-25T23:41:55+00:00"),
]
_DEFAULT_CA = "rds-ca-rsa2048-g1"
# A server certificate's life from its issue; RDS rotates it before the end.
_SERVER_CERTIFICATE_DAYS = 365
_POSTGRES_PORTS = range(1150, 65536)


def _certificates(region: str) -> list[dict]:
    """DescribeCertificates' entries for ``region``."""
    import datetime as dt
    import hashlib

    return [{
        "CertificateIdentifier": ca,
        "CertificateType": "CA",
        "Thumbprint": hashlib.sha1(ca.encode()).hexdigest(),
        "ValidFrom": dt.datetime.fromisoformat(valid_from),
        "ValidTill": dt.datetime.fromisoformat(valid_till),
        "CertificateArn": f"arn:aws:rds:{region}::cert:{ca}",
        "CustomerOverride": False,
    } for ca, valid_from, valid_till in _CERTIFICATES]


def _offered_ca(requested) -> str:
    """The CA ``requested`` names, as RDS spells it; ``CertificateNotFound`` if none."""
    from moto.rds.exceptions import RDSClientError

    for ca, _, _ in _CERTIFICATES:
        if ca == str(requested).lower():
            return ca
    raise RDSClientError("CertificateNotFound",
                         f"Certificate {requested} not found; this region offers "
                         f"{', '.join(ca for ca, _, _ in _CERTIFICATES)}.")


def _check_port(engine, port) -> None:
    from moto.rds.exceptions import InvalidParameterValue

    if str(engine or "").lower() == "postgres" and int(port) not in _POSTGRES_PORTS:
        raise InvalidParameterValue(
            f"Invalid port {port}: use {_POSTGRES_PORTS.start} to {_POSTGRES_PORTS.stop - 1}.")


def _new_resource_id() -> str:
    """A DbiResourceId shaped like RDS's: ``db-`` and 26 base32 characters."""
    import base64
    import os

    return "db-" + base64.b32encode(os.urandom(20)).decode()[:26]


def _install_certificates_ports_and_monitoring() -> None:
    import datetime as dt

    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from moto.rds.exceptions import InvalidParameterValue
    from moto.rds.models import DBInstance, RDSBackend
    from moto.rds.responses import RDSResponse

    def certificate_details(self):
        issued = getattr(self, "server_certificate_issued", None) or self.created
        return {"CAIdentifier": self.ca_certificate_identifier,
                "ValidTill": issued + dt.timedelta(days=_SERVER_CERTIFICATE_DAYS)}

    def enhanced_monitoring_resource_arn(self):
        if not self.monitoring_interval:
            return None
        return (f"arn:aws:logs:{self.region}:{self.account_id}:log-group:RDSOSMetrics:"
                f"log-stream:{self.dbi_resource_id}")

    DBInstance.certificate_details = property(certificate_details)
    DBInstance.enhanced_monitoring_resource_arn = property(enhanced_monitoring_resource_arn)

    orig_create = RDSBackend.create_db_instance
    orig_modify = RDSBackend.modify_db_instance

    @functools.wraps(orig_create)
    def create_db_instance(self, db_kwargs):
        db_kwargs["ca_certificate_identifier"] = _offered_ca(
            db_kwargs.get("ca_certificate_identifier") or _DEFAULT_CA)
        if db_kwargs.get("port") is not None:
            _check_port(db_kwargs.get("engine"), db_kwargs["port"])
        database = orig_create(self, db_kwargs)
        database.dbi_resource_id = _new_resource_id()
        database.server_certificate_issued = utcnow()
        return database

    @functools.wraps(orig_modify)
    def modify_db_instance(self, db_instance_identifier, db_kwargs):
        database = self.describe_db_instances(db_instance_identifier)[0]
        ca = db_kwargs.get("ca_certificate_identifier")
        if ca is not None:
            ca = db_kwargs["ca_certificate_identifier"] = _offered_ca(ca)
        port = db_kwargs.pop("db_port_number", None)
        if port is not None:
            _check_port(database.engine, port)
            db_kwargs["port"] = int(port)
        reissue = ca is not None and ca != database.ca_certificate_identifier
        database = orig_modify(self, db_instance_identifier, db_kwargs)
        if reissue:
            database.server_certificate_issued = utcnow()
        return database

    RDSBackend.create_db_instance = create_db_instance
    RDSBackend.modify_db_instance = modify_db_instance

    def r_describe_certificates(self):
        wanted = self.params.get("CertificateIdentifier")
        records = self.params.get("MaxRecords")
        if records is not None and not 20 <= int(records) <= 100:
            raise InvalidParameterValue(
                f"Invalid value {records} for MaxRecords. Must be between 20 and 100.")
        certificates = _certificates(self.region)
        if wanted is not None:
            ca = _offered_ca(wanted)
            certificates = [c for c in certificates if c["CertificateIdentifier"] == ca]
        return ActionResult({"Certificates": certificates,
                             "DefaultCertificateForNewLaunches": _DEFAULT_CA})

    RDSResponse.describe_certificates = r_describe_certificates


def _install_network_interfaces() -> None:
    from moto.rds.models import RDSBackend

    orig_create = RDSBackend.create_db_instance
    orig_delete = RDSBackend.delete_db_instance

    @functools.wraps(orig_create)
    def create_db_instance(self, db_kwargs):
        database = orig_create(self, db_kwargs)
        group = getattr(database, "db_subnet_group", None)
        subnet_ids = [s.id for s in (getattr(group, "_subnets", None) or [])]
        # The primary's AZ, and a Multi-AZ instance's standby's.
        azs = dict.fromkeys([database.availability_zone, database.secondary_availability_zone])
        for az in filter(None, azs):
            open_interface(database, self, "rds", subnet_ids, "RDSNetworkInterface",
                           lambda: database.vpc_security_group_ids, az=az)
        return database

    @functools.wraps(orig_delete)
    def delete_db_instance(self, *args, **kwargs):
        database = orig_delete(self, *args, **kwargs)
        close_interfaces(database)
        return database

    RDSBackend.create_db_instance = create_db_instance
    RDSBackend.delete_db_instance = delete_db_instance
