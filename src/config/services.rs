//! Sizes and settings of the data services (logs, Kinesis, RDS, ElastiCache, alarms, IAM
//! trust, timeouts, what `destroy` keeps), with the defaults documented in
//! docs/configuration.md and the limits AWS enforces, checked before any call.

use serde::Deserialize;

use super::ConfigError;
use crate::cli::{Given, StackArgs};

/// Retention values CloudWatch Logs accepts; anything else is refused by the API.
pub(super) const LOG_RETENTION_DAYS: [i32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];
/// HIPAA audit controls: at least this much history stays searchable.
pub(super) const MIN_LOG_RETENTION_DAYS: i32 = 90;

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Services {
    pub logs: Logs,
    pub kinesis: Kinesis,
    pub rds: Rds,
    pub redis: Redis,
    pub alarms: Alarms,
    pub iam: Iam,
    pub timeouts: Timeouts,
    pub destroy: Retirement,
    pub secrets: Secrets,
    pub backup: Backup,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Logs {
    /// Audit and flow-log groups.
    pub retention_days: i32,
}

impl Default for Logs {
    fn default() -> Self {
        Self {
            retention_days: 365,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Kinesis {
    pub shard_count: i32,
    pub retention_hours: i32,
}

impl Default for Kinesis {
    fn default() -> Self {
        Self {
            shard_count: 2,
            // A week: a consumer down over a long weekend can still replay every PHI event,
            // and Prowler's kinesis_stream_data_retention_period asks no less.
            retention_hours: 168,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Rds {
    /// A major version (`16`: RDS's default minor of it when created) or a full one (`16.8`).
    pub engine_version: String,
    pub instance_class: String,
    pub allocated_storage_gb: i32,
    pub backup_retention_days: i32,
    pub database_name: String,
    pub master_username: String,
    pub monitoring_interval_seconds: i32,
    pub performance_insights_retention_days: i32,
    /// UTC, `hh24:mi-hh24:mi`.
    pub backup_window: String,
    /// UTC, `ddd:hh24:mi-ddd:hh24:mi`.
    pub maintenance_window: String,
    /// The CA that signs the instance's server certificate: one of `RDS_CAS`.
    pub ca_certificate: String,
    /// PostgreSQL's own 5432 by default: another port only hides the database from scanners
    /// that try the usual one, while the security group (the VPC only), TLS and IAM
    /// authentication are what protect it; and moving it reboots the instance
    /// (docs/configuration.md, "Database port").
    pub port: u16,
}

impl Default for Rds {
    fn default() -> Self {
        Self {
            engine_version: "16".into(),
            instance_class: "db.t4g.medium".into(),
            allocated_storage_gb: 100,
            backup_retention_days: 30,
            database_name: "medtech".into(),
            master_username: "medtech_admin".into(),
            monitoring_interval_seconds: 60,
            performance_insights_retention_days: 7,
            backup_window: "03:00-04:00".into(),
            maintenance_window: "sun:04:30-sun:05:30".into(),
            ca_certificate: "rds-ca-rsa2048-g1".into(),
            port: 5432,
        }
    }
}

/// The CAs RDS signs server certificates with (DescribeCertificates); rds-ca-2019 expired in
/// August 2024. RSA 2048 is valid until 2061 and what every PostgreSQL client accepts.
pub(crate) const RDS_CAS: [&str; 3] =
    ["rds-ca-rsa2048-g1", "rds-ca-rsa4096-g1", "rds-ca-ecc384-g1"];

/// The ports RDS accepts for PostgreSQL (SQL Server alone also refuses some inside it).
const RDS_PORTS: std::ops::RangeInclusive<u16> = 1150..=65535;

/// PostgreSQL majors RDS has offered; the minors come from RDS itself.
const POSTGRES_MAJORS: std::ops::RangeInclusive<u32> = 11..=18;

/// Master user names RDS refuses for PostgreSQL: its own and the SQL key words PostgreSQL
/// reserves (`user` among them). `postgres`, the console's default, is allowed.
const RESERVED_MASTER_USERS: [&str; 80] = [
    "admin",
    "rdsadmin",
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "column",
    "constraint",
    "create",
    "current_catalog",
    "current_date",
    "current_role",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "from",
    "grant",
    "group",
    "having",
    "in",
    "initially",
    "intersect",
    "into",
    "lateral",
    "leading",
    "limit",
    "localtime",
    "localtimestamp",
    "not",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "placing",
    "primary",
    "references",
    "returning",
    "select",
    "session_user",
    "some",
    "symmetric",
    "system_user",
    "table",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "when",
    "where",
    "window",
    "with",
];

impl Rds {
    /// `16` for both `16` and `16.8`; 0 when it is not a number.
    fn major(&self) -> u32 {
        self.engine_version
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0)
    }
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Redis {
    pub engine_version: String,
    pub node_type: String,
    /// Primary plus replicas; automatic failover and Multi-AZ need at least two.
    pub num_cache_clusters: i32,
    pub snapshot_retention_days: i32,
    pub snapshot_window: String,
    pub maintenance_window: String,
}

impl Default for Redis {
    fn default() -> Self {
        Self {
            engine_version: "7.1".into(),
            node_type: "cache.t4g.medium".into(),
            num_cache_clusters: 2,
            snapshot_retention_days: 7,
            snapshot_window: "05:00-06:00".into(),
            maintenance_window: "sun:06:30-sun:07:30".into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Alarms {
    /// Optional e-mail subscription to the alarm topic.
    pub email: Option<String>,
    pub kinesis_iterator_age_ms: f64,
    pub kinesis_write_throttled_records: f64,
    pub rds_cpu_percent: f64,
    pub rds_free_storage_gb: f64,
    pub redis_cpu_percent: f64,
    pub redis_replication_lag_seconds: f64,
}

impl Default for Alarms {
    fn default() -> Self {
        Self {
            email: None,
            kinesis_iterator_age_ms: 60_000.0,
            kinesis_write_throttled_records: 1.0,
            rds_cpu_percent: 80.0,
            rds_free_storage_gb: 10.0,
            redis_cpu_percent: 75.0,
            redis_replication_lag_seconds: 30.0,
        }
    }
}

/// Who may assume the two application roles: IAM principal ARNs or service principals
/// (`lambda.amazonaws.com`). Empty means this account (its own IAM policies then decide).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Iam {
    pub kinesis_producer_principals: Vec<String>,
    pub secrets_reader_principals: Vec<String>,
}

/// How old the credentials may grow, and who besides the secrets-reader role and the runner
/// may touch the secrets (their resource policy denies everyone else).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Secrets {
    /// `verify` fails a secret whose current value is older (HIPAA §164.308(a)(5)(ii)(D)).
    pub rotation_days: i64,
    /// How long a Redis AUTH token rotation may wait for its `SET` (both tokens accepted
    /// meanwhile) before `verify` fails it.
    pub redis_grace_hours: i64,
    /// Exact IAM role or user ARNs that keep access to the secrets (break-glass admins,
    /// every CI role that runs medtech).
    pub admin_principals: Vec<String>,
}

impl Default for Secrets {
    fn default() -> Self {
        Self {
            rotation_days: 90,
            redis_grace_hours: 24,
            admin_principals: Vec::new(),
        }
    }
}

/// AWS Backup of the RDS instance (HIPAA §164.308(a)(7)(ii)(A)): daily recovery points kept
/// beyond RDS's 35-day automated backups, optionally monthly ones kept longer, in a vault whose
/// lock is off unless configured (docs/configuration.md, "Backup").
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Backup {
    pub daily_retention_days: i32,
    /// 0: no monthly rule.
    pub monthly_retention_days: i32,
    /// The UTC hour both rules start their job in; outside `rds.backup_window`.
    pub schedule_hour_utc: i32,
    /// `[backup.vault_lock]`; absent, the vault has no lock.
    pub vault_lock: Option<VaultLock>,
}

impl Default for Backup {
    fn default() -> Self {
        Self {
            daily_retention_days: 35,
            monthly_retention_days: 0,
            schedule_hour_utc: 5,
            vault_lock: None,
        }
    }
}

/// AWS Backup Vault Lock: governance mode, or compliance mode once `changeable_for_days` have
/// passed, after which nobody can lift it, shorten retention or delete the vault early.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VaultLock {
    pub min_retention_days: i32,
    #[serde(default)]
    pub max_retention_days: Option<i32>,
    #[serde(default)]
    pub changeable_for_days: Option<i32>,
}

/// The longest retention AWS Backup takes (100 years).
const MAX_BACKUP_DAYS: i32 = 36_500;

impl Backup {
    /// `rds_window`: `rds.backup_window` as (start, length) in minutes; a job started inside
    /// it would meet RDS's own snapshot.
    fn validate(
        &self,
        field: &dyn Fn(&str) -> String,
        rds_window: (u32, u32),
    ) -> Result<(), ConfigError> {
        let daily = self.daily_retention_days;
        range(
            field("backup.daily_retention_days"),
            daily,
            1,
            MAX_BACKUP_DAYS,
        )?;
        let monthly = self.monthly_retention_days;
        if monthly != 0 && !(daily < monthly && monthly <= MAX_BACKUP_DAYS) {
            return Err(ConfigError::new(
                field("backup.monthly_retention_days"),
                format!(
                    "{monthly} is out of range; use 0 for no monthly backups, or more days than backup.daily_retention_days ({daily}) up to {MAX_BACKUP_DAYS}"
                ),
            ));
        }
        range(
            field("backup.schedule_hour_utc"),
            self.schedule_hour_utc,
            0,
            23,
        )?;
        let start = u32::try_from(self.schedule_hour_utc).unwrap_or(0) * 60;
        if overlaps_daily((start, BACKUP_START_WINDOW_MINUTES), rds_window) {
            return Err(ConfigError::new(
                field("backup.schedule_hour_utc"),
                format!(
                    "{hour:02}:00-{next:02}:00 overlaps rds.backup_window, when RDS takes its own snapshot; choose an hour outside it, like 5",
                    hour = self.schedule_hour_utc,
                    next = (self.schedule_hour_utc + 1) % 24
                ),
            ));
        }
        let Some(lock) = &self.vault_lock else {
            return Ok(());
        };
        let min = lock.min_retention_days;
        if !(1..=daily).contains(&min) {
            return Err(ConfigError::new(
                field("backup.vault_lock.min_retention_days"),
                format!(
                    "{min} is out of range; use 1 to backup.daily_retention_days ({daily}): AWS Backup fails every job whose retention is shorter than the lock's minimum"
                ),
            ));
        }
        let longest = daily.max(monthly);
        if let Some(max) = lock.max_retention_days
            && !(longest..=MAX_BACKUP_DAYS).contains(&max)
        {
            return Err(ConfigError::new(
                field("backup.vault_lock.max_retention_days"),
                format!(
                    "{max} is out of range; use {longest} (the longest retention of the backup rules) to {MAX_BACKUP_DAYS}, or leave it out"
                ),
            ));
        }
        if let Some(days) = lock.changeable_for_days
            && !(3..=MAX_BACKUP_DAYS).contains(&days)
        {
            return Err(ConfigError::new(
                field("backup.vault_lock.changeable_for_days"),
                format!(
                    "{days} is out of range; use 3 (AWS's minimum grace time) to {MAX_BACKUP_DAYS}, or leave it out for governance mode"
                ),
            ));
        }
        Ok(())
    }
}

/// How long after its scheduled hour a backup rule's job may start: AWS Backup's minimum, so
/// the job runs in the hour `backup.schedule_hour_utc` names.
pub(crate) const BACKUP_START_WINDOW_MINUTES: u32 = 60;

/// Whether two daily windows, (start, length) in minutes of the day, share a minute.
fn overlaps_daily(a: (u32, u32), b: (u32, u32)) -> bool {
    const DAY: u32 = 24 * 60;
    (b.0 + DAY - a.0) % DAY < a.1 || (a.0 + DAY - b.0) % DAY < b.1
}

/// How long to wait for each slow resource; real AWS takes 15–25 min for a Multi-AZ RDS
/// instance and 10–15 min for a replication group, deletions about as long.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Timeouts {
    pub rds_minutes: u64,
    pub redis_minutes: u64,
    pub nat_minutes: u64,
    pub endpoint_minutes: u64,
    pub kinesis_minutes: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            rds_minutes: 60,
            redis_minutes: 45,
            nat_minutes: 15,
            endpoint_minutes: 15,
            kinesis_minutes: 15,
        }
    }
}

/// What `destroy` leaves recoverable.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Retirement {
    pub kms_deletion_window_days: i32,
    pub secret_recovery_window_days: i64,
    /// `destroy --skip-final-snapshot`: a flag only, never a standing config.
    #[serde(skip)]
    pub skip_final_snapshot: bool,
    /// `destroy --force-delete-secrets`: a flag only.
    #[serde(skip)]
    pub force_delete_secrets: bool,
    /// `destroy --delete-recovery-points`: a flag only; without it the backup vault is kept
    /// with its recovery points.
    #[serde(skip)]
    pub delete_recovery_points: bool,
}

impl Default for Retirement {
    fn default() -> Self {
        Self {
            kms_deletion_window_days: 30,
            secret_recovery_window_days: 30,
            skip_final_snapshot: false,
            force_delete_secrets: false,
            delete_recovery_points: false,
        }
    }
}

impl Services {
    /// Applies the flags over the file's values and checks every limit. `file` names the
    /// config file, for the keys read from it.
    pub(super) fn resolve(
        mut self,
        flags: &StackArgs,
        given: &Given,
        file: &str,
    ) -> Result<Self, ConfigError> {
        // (file key, the argument that overrode it)
        let mut from_flag: Vec<(&str, &str)> = Vec::new();
        if let Some(v) = flags.log_retention_days {
            self.logs.retention_days = v;
            from_flag.push(("logs.retention_days", "log_retention_days"));
        }
        if let Some(v) = flags.kinesis_shards {
            self.kinesis.shard_count = v;
            from_flag.push(("kinesis.shard_count", "kinesis_shards"));
        }
        if let Some(v) = flags.kinesis_retention_hours {
            self.kinesis.retention_hours = v;
            from_flag.push(("kinesis.retention_hours", "kinesis_retention_hours"));
        }
        if let Some(v) = &flags.rds_instance_class {
            self.rds.instance_class = v.clone();
            from_flag.push(("rds.instance_class", "rds_instance_class"));
        }
        if let Some(v) = flags.rds_storage_gb {
            self.rds.allocated_storage_gb = v;
            from_flag.push(("rds.allocated_storage_gb", "rds_storage_gb"));
        }
        if let Some(v) = &flags.redis_node_type {
            self.redis.node_type = v.clone();
            from_flag.push(("redis.node_type", "redis_node_type"));
        }
        // Name the flag or variable when the value came from one, the file key otherwise.
        let field = |key: &str| -> String {
            match from_flag.iter().find(|(k, _)| *k == key) {
                Some((_, arg)) => given.field(arg, format!("--{}", arg.replace('_', "-"))),
                None => format!("{file}:{key}"),
            }
        };
        self.validate(&field)?;
        Ok(self)
    }

    fn validate(&self, field: &dyn Fn(&str) -> String) -> Result<(), ConfigError> {
        let days = self.logs.retention_days;
        if days < MIN_LOG_RETENTION_DAYS || !LOG_RETENTION_DAYS.contains(&days) {
            let allowed: Vec<String> = LOG_RETENTION_DAYS
                .iter()
                .filter(|d| **d >= MIN_LOG_RETENTION_DAYS)
                .map(ToString::to_string)
                .collect();
            return Err(ConfigError::new(
                field("logs.retention_days"),
                format!(
                    "{days} is not allowed; HIPAA audit logs keep at least {MIN_LOG_RETENTION_DAYS} days and CloudWatch takes one of {}",
                    allowed.join(", ")
                ),
            ));
        }
        range(
            field("kinesis.shard_count"),
            self.kinesis.shard_count,
            1,
            500,
        )?;
        range(
            field("kinesis.retention_hours"),
            self.kinesis.retention_hours,
            24,
            8760,
        )?;

        let rds = &self.rds;
        if !is_version(&rds.engine_version) || rds.engine_version.split('.').count() > 2 {
            return Err(ConfigError::new(
                field("rds.engine_version"),
                format!(
                    "{:?} is not a PostgreSQL version; write a major version like \"16\" (RDS picks its default minor) or a full one like \"16.8\"",
                    rds.engine_version
                ),
            ));
        }
        if !POSTGRES_MAJORS.contains(&rds.major()) {
            return Err(ConfigError::new(
                field("rds.engine_version"),
                format!(
                    "{:?}: RDS offers PostgreSQL {} to {}; use a major version like \"16\"",
                    rds.engine_version,
                    POSTGRES_MAJORS.start(),
                    POSTGRES_MAJORS.end()
                ),
            ));
        }
        prefixed(
            field("rds.instance_class"),
            &rds.instance_class,
            "db.",
            "db.t4g.medium",
        )?;
        range(
            field("rds.allocated_storage_gb"),
            rds.allocated_storage_gb,
            20,
            65536,
        )?;
        range(
            field("rds.backup_retention_days"),
            rds.backup_retention_days,
            30,
            35,
        )?;
        identifier(field("rds.database_name"), &rds.database_name, 63)?;
        identifier(field("rds.master_username"), &rds.master_username, 63)?;
        let user = rds.master_username.to_ascii_lowercase();
        if RESERVED_MASTER_USERS.contains(&user.as_str()) || user.starts_with("pg_") {
            return Err(ConfigError::new(
                field("rds.master_username"),
                format!(
                    "{:?} is reserved by RDS for PostgreSQL (as are SQL key words and names starting with pg_); choose another, like medtech_admin",
                    rds.master_username
                ),
            ));
        }
        one_of(
            field("rds.monitoring_interval_seconds"),
            rds.monitoring_interval_seconds,
            &[1, 5, 10, 15, 30, 60],
            "enhanced monitoring must stay on",
        )?;
        let pi = rds.performance_insights_retention_days;
        if !(pi == 7 || (pi % 31 == 0 && (31..=713).contains(&pi)) || pi == 731) {
            return Err(ConfigError::new(
                field("rds.performance_insights_retention_days"),
                format!("{pi} is not allowed; use 7, a multiple of 31 up to 713, or 731"),
            ));
        }
        if !RDS_CAS.contains(&rds.ca_certificate.as_str()) {
            return Err(ConfigError::new(
                field("rds.ca_certificate"),
                format!(
                    "{:?} is not a CA RDS offers; use one of {}",
                    rds.ca_certificate,
                    RDS_CAS.join(", ")
                ),
            ));
        }
        if !RDS_PORTS.contains(&rds.port) {
            return Err(ConfigError::new(
                field("rds.port"),
                format!(
                    "{} is out of range; RDS for PostgreSQL takes {} to {}",
                    rds.port,
                    RDS_PORTS.start(),
                    RDS_PORTS.end()
                ),
            ));
        }
        let backup = daily_window(&field("rds.backup_window"), &rds.backup_window)?;
        let maintenance = weekly_window(&field("rds.maintenance_window"), &rds.maintenance_window)?;
        no_overlap(&field("rds.maintenance_window"), backup, maintenance)?;
        self.backup.validate(field, backup)?;

        let redis = &self.redis;
        let redis_major: u32 = redis
            .engine_version
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        if redis_major < 6 || !is_version(&redis.engine_version) {
            return Err(ConfigError::new(
                field("redis.engine_version"),
                format!(
                    "{:?}: in-transit encryption with an AUTH token needs Redis 6 or later; use one like 7.1",
                    redis.engine_version
                ),
            ));
        }
        prefixed(
            field("redis.node_type"),
            &redis.node_type,
            "cache.",
            "cache.t4g.medium",
        )?;
        if redis.num_cache_clusters < 2 {
            return Err(ConfigError::new(
                field("redis.num_cache_clusters"),
                format!(
                    "{} node(s): automatic failover and Multi-AZ need at least 2; set 2 to 6",
                    redis.num_cache_clusters
                ),
            ));
        }
        range(
            field("redis.num_cache_clusters"),
            redis.num_cache_clusters,
            2,
            6,
        )?;
        range(
            field("redis.snapshot_retention_days"),
            redis.snapshot_retention_days,
            7,
            35,
        )?;
        let snapshot = daily_window(&field("redis.snapshot_window"), &redis.snapshot_window)?;
        let maintenance = weekly_window(
            &field("redis.maintenance_window"),
            &redis.maintenance_window,
        )?;
        // ElastiCache's minimum, twice RDS's: a shorter window fails CreateReplicationGroup.
        if maintenance.1 < 60 {
            return Err(ConfigError::new(
                field("redis.maintenance_window"),
                format!(
                    "{} is shorter than the 60 minutes ElastiCache requires; make it at least an hour, like sun:06:30-sun:07:30",
                    redis.maintenance_window
                ),
            ));
        }
        no_overlap(&field("redis.maintenance_window"), snapshot, maintenance)?;

        if let Some(email) = &self.alarms.email {
            let parts: Vec<&str> = email.split('@').collect();
            if parts.len() != 2 || parts[0].is_empty() || !parts[1].contains('.') {
                return Err(ConfigError::new(
                    field("alarms.email"),
                    format!("{email:?} is not an e-mail address"),
                ));
            }
        }
        for (key, value) in [
            (
                "alarms.kinesis_iterator_age_ms",
                self.alarms.kinesis_iterator_age_ms,
            ),
            (
                "alarms.kinesis_write_throttled_records",
                self.alarms.kinesis_write_throttled_records,
            ),
            ("alarms.rds_cpu_percent", self.alarms.rds_cpu_percent),
            (
                "alarms.rds_free_storage_gb",
                self.alarms.rds_free_storage_gb,
            ),
            ("alarms.redis_cpu_percent", self.alarms.redis_cpu_percent),
            (
                "alarms.redis_replication_lag_seconds",
                self.alarms.redis_replication_lag_seconds,
            ),
        ] {
            let percent = key.ends_with("_percent");
            if !value.is_finite() || value <= 0.0 || (percent && value > 100.0) {
                return Err(ConfigError::new(
                    field(key),
                    format!(
                        "{value} is not a usable threshold; give a positive number{}",
                        if percent { " up to 100" } else { "" }
                    ),
                ));
            }
        }
        for (key, principals) in [
            (
                "iam.kinesis_producer_principals",
                &self.iam.kinesis_producer_principals,
            ),
            (
                "iam.secrets_reader_principals",
                &self.iam.secrets_reader_principals,
            ),
        ] {
            for p in principals {
                let arn = p.starts_with("arn:aws") && p.contains(":iam::");
                let service = p.ends_with(".amazonaws.com") && !p.contains(':');
                if !(arn || service) || p.contains('*') {
                    return Err(ConfigError::new(
                        field(key),
                        format!(
                            "{p:?} is neither an IAM principal ARN nor a service principal like lambda.amazonaws.com (no wildcards)"
                        ),
                    ));
                }
            }
        }
        for (key, minutes) in [
            ("timeouts.rds_minutes", self.timeouts.rds_minutes),
            ("timeouts.redis_minutes", self.timeouts.redis_minutes),
            ("timeouts.nat_minutes", self.timeouts.nat_minutes),
            ("timeouts.endpoint_minutes", self.timeouts.endpoint_minutes),
            ("timeouts.kinesis_minutes", self.timeouts.kinesis_minutes),
        ] {
            if !(1..=240).contains(&minutes) {
                return Err(ConfigError::new(
                    field(key),
                    format!("{minutes} is out of range; use 1 to 240"),
                ));
            }
        }
        let secrets = &self.secrets;
        if !(1..=365).contains(&secrets.rotation_days) {
            return Err(ConfigError::new(
                field("secrets.rotation_days"),
                format!("{} is out of range; use 1 to 365", secrets.rotation_days),
            ));
        }
        if !(0..=720).contains(&secrets.redis_grace_hours) {
            return Err(ConfigError::new(
                field("secrets.redis_grace_hours"),
                format!(
                    "{} is out of range; use 0 to 720",
                    secrets.redis_grace_hours
                ),
            ));
        }
        for p in &secrets.admin_principals {
            if !is_exact_iam_arn(p) {
                return Err(ConfigError::new(
                    field("secrets.admin_principals"),
                    format!(
                        "{p:?} is not an exact IAM role or user ARN (arn:aws:iam::123456789012:role/NAME, no wildcards)"
                    ),
                ));
            }
        }
        range(
            field("destroy.kms_deletion_window_days"),
            self.destroy.kms_deletion_window_days,
            7,
            30,
        )?;
        let recovery = self.destroy.secret_recovery_window_days;
        if !(7..=30).contains(&recovery) {
            return Err(ConfigError::new(
                field("destroy.secret_recovery_window_days"),
                format!(
                    "{recovery} is out of range; use 7 to 30 (or destroy --force-delete-secrets)"
                ),
            ));
        }
        Ok(())
    }
}

/// `arn:PARTITION:iam::ACCOUNT:role/PATH/NAME` or `:user/…`, without wildcards: what a
/// resource policy's `aws:PrincipalArn` condition matches exactly.
fn is_exact_iam_arn(p: &str) -> bool {
    let parts: Vec<&str> = p.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && (parts[5].starts_with("role/") || parts[5].starts_with("user/"))
        && parts[5].len() > 5
        && !p.contains('*')
        && !p.contains('?')
}

fn range(field: String, value: i32, min: i32, max: i32) -> Result<(), ConfigError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            format!("{value} is out of range; use {min} to {max}"),
        ))
    }
}

fn one_of(field: String, value: i32, allowed: &[i32], why: &str) -> Result<(), ConfigError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        let list: Vec<String> = allowed.iter().map(ToString::to_string).collect();
        Err(ConfigError::new(
            field,
            format!(
                "{value} is not allowed ({why}); use one of {}",
                list.join(", ")
            ),
        ))
    }
}

fn prefixed(field: String, value: &str, prefix: &str, example: &str) -> Result<(), ConfigError> {
    let shaped = value.strip_prefix(prefix).is_some_and(|rest| {
        rest.split('.').count() == 2
            && rest.split('.').all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            })
    });
    if shaped {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            format!("{value:?} is not an instance type; use one like {example}"),
        ))
    }
}

fn identifier(field: String, value: &str, max: usize) -> Result<(), ConfigError> {
    let ok = value.len() <= max
        && value
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            format!(
                "{value:?}: start with a letter, then letters, digits or _, at most {max} characters"
            ),
        ))
    }
}

fn is_version(v: &str) -> bool {
    !v.is_empty()
        && v.split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const WEEK: u32 = 7 * 24 * 60;

/// `hh:mi` → minutes since midnight.
fn clock(text: &str) -> Option<u32> {
    let (h, m) = text.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && text.len() == 5).then_some(h * 60 + m)
}

/// A daily window `hh24:mi-hh24:mi` of at least 30 minutes, as (start, length) in minutes.
fn daily_window(field: &str, text: &str) -> Result<(u32, u32), ConfigError> {
    let parsed = text
        .split_once('-')
        .and_then(|(a, b)| Some((clock(a)?, clock(b)?)));
    let Some((start, end)) = parsed else {
        return Err(ConfigError::new(
            field,
            format!(
                "{text:?} is not a window; write it as hh24:mi-hh24:mi in UTC, like 03:00-04:00"
            ),
        ));
    };
    let length = (end + 24 * 60 - start) % (24 * 60);
    if length < 30 {
        return Err(ConfigError::new(
            field,
            format!("{text} is shorter than the 30 minutes AWS requires"),
        ));
    }
    Ok((start, length))
}

/// A weekly window `ddd:hh24:mi-ddd:hh24:mi` of at least 30 minutes, as minutes of the week.
fn weekly_window(field: &str, text: &str) -> Result<(u32, u32), ConfigError> {
    let point = |p: &str| -> Option<u32> {
        let (day, time) = p.split_once(':')?;
        let d = DAYS.iter().position(|x| *x == day.to_ascii_lowercase())? as u32;
        Some(d * 24 * 60 + clock(time)?)
    };
    let parsed = text
        .split_once('-')
        .and_then(|(a, b)| Some((point(a)?, point(b)?)));
    let Some((start, end)) = parsed else {
        return Err(ConfigError::new(
            field,
            format!(
                "{text:?} is not a window; write it as ddd:hh24:mi-ddd:hh24:mi in UTC, like sun:05:00-sun:06:00"
            ),
        ));
    };
    let length = (end + WEEK - start) % WEEK;
    if length < 30 {
        return Err(ConfigError::new(
            field,
            format!("{text} is shorter than the 30 minutes AWS requires"),
        ));
    }
    Ok((start, length))
}

/// AWS refuses a maintenance window that overlaps the daily backup/snapshot window.
fn no_overlap(field: &str, daily: (u32, u32), weekly: (u32, u32)) -> Result<(), ConfigError> {
    let (w_start, w_len) = weekly;
    for day in 0..7 {
        let d_start = day * 24 * 60 + daily.0;
        let overlaps = |a: u32, a_len: u32, b: u32, b_len: u32| {
            let ahead = (b + WEEK - a) % WEEK;
            ahead < a_len || (a + WEEK - b) % WEEK < b_len
        };
        if overlaps(d_start, daily.1, w_start, w_len) {
            return Err(ConfigError::new(
                field,
                "overlaps the daily backup/snapshot window; move one of them",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejects(body: &str, field: &str) {
        let services: Services = toml::from_str(body).expect("valid toml");
        let err = services
            .resolve(&StackArgs::default(), &Given::default(), "medtech.toml")
            .expect_err(body);
        assert_eq!(err.field, format!("medtech.toml:{field}"), "{body}: {err}");
        assert!(!err.to_string().contains('\n'));
    }

    #[test]
    fn defaults_are_valid() {
        let s = Services::default()
            .resolve(&StackArgs::default(), &Given::default(), "f")
            .unwrap();
        assert_eq!(s.rds.engine_version, "16");
        assert_eq!(s.logs.retention_days, 365);
        assert_eq!(s.kinesis.retention_hours, 168);
        assert_eq!(s.rds.ca_certificate, "rds-ca-rsa2048-g1");
        assert_eq!(s.rds.port, 5432);
    }

    #[test]
    fn limits_are_enforced_with_the_field_named() {
        rejects("[logs]\nretention_days = 30\n", "logs.retention_days");
        rejects("[logs]\nretention_days = 91\n", "logs.retention_days");
        rejects("[kinesis]\nshard_count = 0\n", "kinesis.shard_count");
        rejects(
            "[kinesis]\nretention_hours = 23\n",
            "kinesis.retention_hours",
        );
        rejects(
            "[kinesis]\nretention_hours = 8761\n",
            "kinesis.retention_hours",
        );
        for version in ["9.6", "16.4.1", "16.", "latest", "99", ""] {
            rejects(
                &format!("[rds]\nengine_version = {version:?}\n"),
                "rds.engine_version",
            );
        }
        rejects(
            "[rds]\ninstance_class = \"m5.large\"\n",
            "rds.instance_class",
        );
        rejects(
            "[rds]\nallocated_storage_gb = 10\n",
            "rds.allocated_storage_gb",
        );
        rejects(
            "[rds]\nbackup_retention_days = 7\n",
            "rds.backup_retention_days",
        );
        for user in ["admin", "rdsadmin", "user", "User", "select", "pg_dba"] {
            rejects(
                &format!("[rds]\nmaster_username = {user:?}\n"),
                "rds.master_username",
            );
        }
        rejects(
            "[rds]\nmonitoring_interval_seconds = 0\n",
            "rds.monitoring_interval_seconds",
        );
        rejects(
            "[rds]\nbackup_window = \"25:00-26:00\"\n",
            "rds.backup_window",
        );
        for ca in ["rds-ca-2019", "rds-ca-rsa2048", ""] {
            rejects(
                &format!("[rds]\nca_certificate = {ca:?}\n"),
                "rds.ca_certificate",
            );
        }
        for port in [0, 1149] {
            rejects(&format!("[rds]\nport = {port}\n"), "rds.port");
        }
        rejects(
            "[rds]\nbackup_window = \"04:00-05:00\"\nmaintenance_window = \"sun:04:30-sun:05:30\"\n",
            "rds.maintenance_window",
        );
        rejects(
            "[redis]\nnum_cache_clusters = 1\n",
            "redis.num_cache_clusters",
        );
        rejects(
            "[redis]\nengine_version = \"5.0.6\"\n",
            "redis.engine_version",
        );
        rejects(
            "[redis]\nsnapshot_retention_days = 1\n",
            "redis.snapshot_retention_days",
        );
        rejects(
            "[alarms]\nrds_cpu_percent = 150\n",
            "alarms.rds_cpu_percent",
        );
        rejects("[alarms]\nemail = \"nobody\"\n", "alarms.email");
        rejects(
            "[iam]\nkinesis_producer_principals = [\"*\"]\n",
            "iam.kinesis_producer_principals",
        );
        rejects(
            "[destroy]\nsecret_recovery_window_days = 3\n",
            "destroy.secret_recovery_window_days",
        );
    }

    #[test]
    fn a_major_or_a_full_version_and_the_postgres_user_are_accepted() {
        for body in [
            "[rds]\nengine_version = \"16\"\n",
            "[rds]\nengine_version = \"16.8\"\n",
            "[rds]\nengine_version = \"17\"\n",
            "[rds]\nmaster_username = \"postgres\"\n",
        ] {
            let services: Services = toml::from_str(body).expect("valid toml");
            services
                .resolve(&StackArgs::default(), &Given::default(), "f")
                .expect(body);
        }
    }

    /// Below a week of retention is allowed: `verify` reports it as a low finding instead.
    #[test]
    fn every_rds_ca_the_port_range_and_a_one_day_stream_are_accepted() {
        let cas = RDS_CAS.map(|ca| format!("[rds]\nca_certificate = {ca:?}\n"));
        let others = [
            "[rds]\nport = 1150\n".to_owned(),
            "[rds]\nport = 65535\n".to_owned(),
            "[kinesis]\nretention_hours = 24\n".to_owned(),
        ];
        for body in cas.iter().chain(&others) {
            let services: Services = toml::from_str(body).expect("valid toml");
            services
                .resolve(&StackArgs::default(), &Given::default(), "f")
                .expect(body);
        }
    }

    #[test]
    fn backup_limits_are_enforced_with_the_field_named() {
        for days in [0, 36501] {
            rejects(
                &format!("[backup]\ndaily_retention_days = {days}\n"),
                "backup.daily_retention_days",
            );
        }
        for days in [35, 10, 36501] {
            rejects(
                &format!("[backup]\nmonthly_retention_days = {days}\n"),
                "backup.monthly_retention_days",
            );
        }
        // 03:00-04:00 is the default RDS backup window; 02:00-03:00 only touches it.
        for hour in [-1, 24, 3] {
            rejects(
                &format!("[backup]\nschedule_hour_utc = {hour}\n"),
                "backup.schedule_hour_utc",
            );
        }
        rejects(
            "[rds]\nbackup_window = \"05:30-06:30\"\n",
            "backup.schedule_hour_utc",
        );
        let lock = "[backup.vault_lock]\nmin_retention_days";
        rejects(
            &format!("{lock} = 36\n"),
            "backup.vault_lock.min_retention_days",
        );
        rejects(
            &format!(
                "[backup]\nmonthly_retention_days = 365\n{lock} = 7\nmax_retention_days = 100\n"
            ),
            "backup.vault_lock.max_retention_days",
        );
        rejects(
            &format!("{lock} = 7\nchangeable_for_days = 2\n"),
            "backup.vault_lock.changeable_for_days",
        );
        let ok = Services::default()
            .resolve(&StackArgs::default(), &Given::default(), "f")
            .unwrap();
        assert_eq!(ok.backup, Backup::default());
        for body in [
            "[backup]\nschedule_hour_utc = 2\nmonthly_retention_days = 365\n",
            "[backup.vault_lock]\nmin_retention_days = 7\nmax_retention_days = 35\nchangeable_for_days = 3\n",
        ] {
            let services: Services = toml::from_str(body).expect("valid toml");
            services
                .resolve(&StackArgs::default(), &Given::default(), "f")
                .expect(body);
        }
    }

    #[test]
    fn flags_override_and_are_named_in_errors() {
        let flags = StackArgs {
            kinesis_shards: Some(0),
            ..Default::default()
        };
        let err = Services::default()
            .resolve(&flags, &Given::default(), "f")
            .unwrap_err();
        assert_eq!(err.field, "--kinesis-shards");
        let flags = StackArgs {
            kinesis_shards: Some(4),
            ..Default::default()
        };
        assert_eq!(
            Services::default()
                .resolve(&flags, &Given::default(), "f")
                .unwrap()
                .kinesis
                .shard_count,
            4
        );
    }
}
