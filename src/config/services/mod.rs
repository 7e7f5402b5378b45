//! Sizes and settings of the data services (logs, Kinesis, RDS, ElastiCache, alarms, IAM
//! trust, timeouts, what `destroy` keeps), with the defaults documented in
//! docs/configuration.md and the limits AWS enforces, checked before any call. Each service's
//! file holds its settings, their defaults and its limits; `checks` the generic checks and the
//! windows.

use serde::Deserialize;

use super::ConfigError;
use crate::cli::{Given, StackArgs};

mod alarms;
mod backup;
mod checks;
mod iam;
mod kinesis;
mod lifecycle;
mod logs;
mod rds;
mod redis;
mod secrets;

pub(crate) use alarms::Alarms;
pub(crate) use backup::{BACKUP_START_WINDOW_MINUTES, Backup};
pub(crate) use iam::Iam;
pub(crate) use kinesis::Kinesis;
pub(crate) use lifecycle::{Retirement, Timeouts};
pub(crate) use logs::Logs;
pub(crate) use rds::Rds;
pub(crate) use redis::Redis;
pub(crate) use secrets::Secrets;

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

    /// The first limit broken is the one reported, so this order is what a file with several
    /// mistakes names first. Backup comes straight after RDS: its schedule must miss RDS's
    /// backup window.
    fn validate(&self, field: &dyn Fn(&str) -> String) -> Result<(), ConfigError> {
        self.logs.validate(field)?;
        self.kinesis.validate(field)?;
        let rds_backup_window = self.rds.validate(field)?;
        self.backup.validate(field, rds_backup_window)?;
        self.redis.validate(field)?;
        self.alarms.validate(field)?;
        self.iam.validate(field)?;
        self.timeouts.validate(field)?;
        self.secrets.validate(field)?;
        self.destroy.validate(field)
    }
}

#[cfg(test)]
mod tests {
    use super::rds::RDS_CAS;
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
        rejects(
            "[rds]\nbackup_window = \"23:50-00:10\"\n",
            "rds.backup_window",
        );
        rejects(
            "[rds]\nmaintenance_window = \"sat:23:50-sun:00:10\"\n",
            "rds.maintenance_window",
        );
        for days in [0, 8, 30, 32, 714, 732] {
            rejects(
                &format!("[rds]\nperformance_insights_retention_days = {days}\n"),
                "rds.performance_insights_retention_days",
            );
        }
        rejects(
            "[redis]\nsnapshot_window = \"05:00-06:00\"\nmaintenance_window = \"sun:05:30-sun:06:30\"\n",
            "redis.maintenance_window",
        );
        for minutes in [0, 241] {
            rejects(
                &format!("[timeouts]\nrds_minutes = {minutes}\n"),
                "timeouts.rds_minutes",
            );
        }
        for days in [6, 31] {
            rejects(
                &format!("[destroy]\nkms_deletion_window_days = {days}\n"),
                "destroy.kms_deletion_window_days",
            );
        }
        for days in [0, 366] {
            rejects(
                &format!("[secrets]\nrotation_days = {days}\n"),
                "secrets.rotation_days",
            );
        }
        for hours in [-1, 721] {
            rejects(
                &format!("[secrets]\nredis_grace_hours = {hours}\n"),
                "secrets.redis_grace_hours",
            );
        }
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
