//! `[timeouts]` and `[destroy]`: how long a run waits for each slow resource to settle, and
//! what `destroy` leaves behind to recover from.

use serde::Deserialize;

use super::checks::range;
use crate::config::ConfigError;

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

impl Timeouts {
    pub(super) fn validate(&self, field: &dyn Fn(&str) -> String) -> Result<(), ConfigError> {
        for (key, minutes) in [
            ("timeouts.rds_minutes", self.rds_minutes),
            ("timeouts.redis_minutes", self.redis_minutes),
            ("timeouts.nat_minutes", self.nat_minutes),
            ("timeouts.endpoint_minutes", self.endpoint_minutes),
            ("timeouts.kinesis_minutes", self.kinesis_minutes),
        ] {
            range(field(key), minutes, 1, 240)?;
        }
        Ok(())
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

impl Retirement {
    pub(super) fn validate(&self, field: &dyn Fn(&str) -> String) -> Result<(), ConfigError> {
        range(
            field("destroy.kms_deletion_window_days"),
            self.kms_deletion_window_days,
            7,
            30,
        )?;
        let recovery = self.secret_recovery_window_days;
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
