//! `[iam]`: who besides this account may assume the application roles.

use serde::Deserialize;

use crate::config::ConfigError;

/// Who may assume the two application roles: IAM principal ARNs or service principals
/// (`lambda.amazonaws.com`). Empty means this account (its own IAM policies then decide).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Iam {
    pub kinesis_producer_principals: Vec<String>,
    pub secrets_reader_principals: Vec<String>,
}

impl Iam {
    pub(super) fn validate(&self, field: &dyn Fn(&str) -> String) -> Result<(), ConfigError> {
        for (key, principals) in [
            (
                "iam.kinesis_producer_principals",
                &self.kinesis_producer_principals,
            ),
            (
                "iam.secrets_reader_principals",
                &self.secrets_reader_principals,
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
        Ok(())
    }
}
