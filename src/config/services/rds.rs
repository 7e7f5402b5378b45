//! `[rds]`: the PostgreSQL instance's version, size, backups, windows, CA and port, and the
//! names and values RDS refuses.

use serde::Deserialize;

use super::checks::{
    daily_window, identifier, is_version, major_version, no_overlap, one_of, prefixed, range,
    weekly_window,
};
use crate::config::ConfigError;

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
pub(super) const RDS_CAS: [&str; 3] =
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
    /// Returns the backup window, (start, length) in minutes, which AWS Backup's schedule must
    /// stay out of.
    pub(super) fn validate(
        &self,
        field: &dyn Fn(&str) -> String,
    ) -> Result<(u32, u32), ConfigError> {
        if !is_version(&self.engine_version) || self.engine_version.split('.').count() > 2 {
            return Err(ConfigError::new(
                field("rds.engine_version"),
                format!(
                    "{:?} is not a PostgreSQL version; write a major version like \"16\" (RDS picks its default minor) or a full one like \"16.8\"",
                    self.engine_version
                ),
            ));
        }
        if !POSTGRES_MAJORS.contains(&major_version(&self.engine_version)) {
            return Err(ConfigError::new(
                field("rds.engine_version"),
                format!(
                    "{:?}: RDS offers PostgreSQL {} to {}; use a major version like \"16\"",
                    self.engine_version,
                    POSTGRES_MAJORS.start(),
                    POSTGRES_MAJORS.end()
                ),
            ));
        }
        prefixed(
            field("rds.instance_class"),
            &self.instance_class,
            "db.",
            "db.t4g.medium",
        )?;
        range(
            field("rds.allocated_storage_gb"),
            self.allocated_storage_gb,
            20,
            65536,
        )?;
        range(
            field("rds.backup_retention_days"),
            self.backup_retention_days,
            30,
            35,
        )?;
        identifier(field("rds.database_name"), &self.database_name, 63)?;
        identifier(field("rds.master_username"), &self.master_username, 63)?;
        let user = self.master_username.to_ascii_lowercase();
        if RESERVED_MASTER_USERS.contains(&user.as_str()) || user.starts_with("pg_") {
            return Err(ConfigError::new(
                field("rds.master_username"),
                format!(
                    "{:?} is reserved by RDS for PostgreSQL (as are SQL key words and names starting with pg_); choose another, like medtech_admin",
                    self.master_username
                ),
            ));
        }
        one_of(
            field("rds.monitoring_interval_seconds"),
            self.monitoring_interval_seconds,
            &[1, 5, 10, 15, 30, 60],
            "enhanced monitoring must stay on",
        )?;
        let pi = self.performance_insights_retention_days;
        if !(pi == 7 || (pi % 31 == 0 && (31..=713).contains(&pi)) || pi == 731) {
            return Err(ConfigError::new(
                field("rds.performance_insights_retention_days"),
                format!("{pi} is not allowed; use 7, a multiple of 31 up to 713, or 731"),
            ));
        }
        if !RDS_CAS.contains(&self.ca_certificate.as_str()) {
            return Err(ConfigError::new(
                field("rds.ca_certificate"),
                format!(
                    "{:?} is not a CA RDS offers; use one of {}",
                    self.ca_certificate,
                    RDS_CAS.join(", ")
                ),
            ));
        }
        if !RDS_PORTS.contains(&self.port) {
            return Err(ConfigError::new(
                field("rds.port"),
                format!(
                    "{} is out of range; RDS for PostgreSQL takes {} to {}",
                    self.port,
                    RDS_PORTS.start(),
                    RDS_PORTS.end()
                ),
            ));
        }
        let backup = daily_window(&field("rds.backup_window"), &self.backup_window)?;
        let maintenance =
            weekly_window(&field("rds.maintenance_window"), &self.maintenance_window)?;
        no_overlap(&field("rds.maintenance_window"), backup, maintenance)?;
        Ok(backup)
    }
}
