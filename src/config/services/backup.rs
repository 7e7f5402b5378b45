//! `[backup]`: AWS Backup's retention, schedule and vault lock for the RDS instance.

use serde::Deserialize;

use super::checks::{overlaps_daily, range};
use crate::config::ConfigError;

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
    pub(super) fn validate(
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
