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
