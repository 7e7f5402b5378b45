//! `[secrets]`: how old the generated credentials may grow, and who keeps access to them.

use serde::Deserialize;

use super::checks::range;
use crate::config::ConfigError;

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

impl Secrets {
    pub(super) fn validate(&self, field: &dyn Fn(&str) -> String) -> Result<(), ConfigError> {
        range(field("secrets.rotation_days"), self.rotation_days, 1, 365)?;
        range(
            field("secrets.redis_grace_hours"),
            self.redis_grace_hours,
            0,
            720,
        )?;
        for p in &self.admin_principals {
            if !is_exact_iam_arn(p) {
                return Err(ConfigError::new(
                    field("secrets.admin_principals"),
                    format!(
                        "{p:?} is not an exact IAM role or user ARN (arn:aws:iam::123456789012:role/NAME, no wildcards)"
                    ),
                ));
            }
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
