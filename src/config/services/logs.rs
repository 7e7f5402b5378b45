//! `[logs]`: how long the audit and flow-log groups keep their events.

use serde::Deserialize;

use crate::config::ConfigError;

/// Retention values CloudWatch Logs accepts; anything else is refused by the API.
const LOG_RETENTION_DAYS: [i32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];
/// HIPAA audit controls: at least this much history stays searchable.
const MIN_LOG_RETENTION_DAYS: i32 = 90;

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

impl Logs {
    pub(super) fn validate(&self, field: &dyn Fn(&str) -> String) -> Result<(), ConfigError> {
        let days = self.retention_days;
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
        Ok(())
    }
}
