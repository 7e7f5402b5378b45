//! `[alarms]`: where alarms are mailed, and the thresholds they fire at.

use serde::Deserialize;

use crate::config::ConfigError;

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

impl Alarms {
    pub(super) fn validate(&self, field: &dyn Fn(&str) -> String) -> Result<(), ConfigError> {
        if let Some(email) = &self.email {
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
                self.kinesis_iterator_age_ms,
            ),
            (
                "alarms.kinesis_write_throttled_records",
                self.kinesis_write_throttled_records,
            ),
            ("alarms.rds_cpu_percent", self.rds_cpu_percent),
            ("alarms.rds_free_storage_gb", self.rds_free_storage_gb),
            ("alarms.redis_cpu_percent", self.redis_cpu_percent),
            (
                "alarms.redis_replication_lag_seconds",
                self.redis_replication_lag_seconds,
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
        Ok(())
    }
}
