//! CloudTrail: a multi-region trail that is logging, and every such trail validating and
//! encrypting its log files (CIS 3.1, 3.2, 3.7).

use futures::future::try_join_all;
use serde_json::{Value, json};

use crate::aws::{AwsError, AwsResultExt, Clients, ErrorKind, Required};
use crate::control::{AUDIT, Control, Severity, control};
use crate::verify::Check;

const MULTI_REGION: (&str, Control) = (
    "cloudtrail_multi_region",
    control(
        "A multi-region CloudTrail trail is logging",
        Severity::High,
        AUDIT,
        "`aws cloudtrail create-trail --name NAME --s3-bucket-name BUCKET --is-multi-region-trail`, then `aws cloudtrail start-logging --name NAME`",
        Some("cloudtrail_multi_region_enabled"),
        Some("MULTI_REGION_CLOUD_TRAIL_ENABLED"),
    ),
);
const VALIDATION: (&str, Control) = (
    "cloudtrail_log_file_validation",
    control(
        "Every multi-region trail that is logging validates its log files (digest files)",
        Severity::Medium,
        AUDIT,
        "`aws cloudtrail update-trail --name NAME --enable-log-file-validation`",
        Some("cloudtrail_log_file_validation_enabled"),
        Some("CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED"),
    ),
);
const KMS: (&str, Control) = (
    "cloudtrail_kms_encryption",
    control(
        "Every multi-region trail that is logging encrypts its log files with a KMS key",
        Severity::Medium,
        AUDIT,
        "`aws cloudtrail update-trail --name NAME --kms-key-id KEY_ARN` (a key whose policy lets cloudtrail.amazonaws.com encrypt)",
        Some("cloudtrail_kms_encryption_enabled"),
        Some("CLOUD_TRAIL_ENCRYPTION_ENABLED"),
    ),
);

pub(super) const CONTROLS: [(&str, Control); 3] = [MULTI_REGION, VALIDATION, KMS];

/// What the baseline needs and no trail gives.
pub(super) const NO_TRAIL: &str = "no multi-region trail is logging";

/// A trail, as the checks read it.
pub(super) struct Trail {
    name: String,
    multi_region: bool,
    /// `None`: the trail is another account's (an organization's trail), whose status only that
    /// account may read.
    logging: Option<bool>,
    validation: bool,
    kms_key: Option<String>,
    /// The CloudWatch Logs group it also delivers to (`arn:…:log-group:NAME:*`).
    pub(super) log_group: Option<String>,
}

impl Trail {
    /// A trail the baseline counts: every region's events, being logged now.
    pub(super) fn counts(&self) -> bool {
        self.multi_region && self.logging == Some(true)
    }

    fn state(&self) -> &'static str {
        match (self.multi_region, self.logging) {
            (false, _) => "single-region",
            (true, Some(false)) => "multi-region, not logging",
            (true, Some(true)) => "multi-region, logging",
            (true, None) => "multi-region, another account's: check its status there",
        }
    }
}

/// Every trail the region sees: its own, and the multi-region trails of other regions (shadow
/// trails, the organization's included).
pub(super) async fn trails(clients: &Clients) -> Result<Vec<Trail>, AwsError> {
    let listed = clients
        .cloudtrail
        .describe_trails()
        .include_shadow_trails(true)
        .send()
        .await
        .op("cloudtrail:DescribeTrails")?;
    try_join_all(listed.trail_list().iter().map(|t| trail(clients, t))).await
}

async fn trail(
    clients: &Clients,
    listed: &aws_sdk_cloudtrail::types::Trail,
) -> Result<Trail, AwsError> {
    let multi_region = listed.is_multi_region_trail().unwrap_or(false);
    // Only a multi-region trail can count, so only its status is read; by ARN, the one name
    // that finds a trail of another region.
    let logging = if multi_region {
        let arn = listed
            .trail_arn()
            .required("cloudtrail:DescribeTrails", "TrailARN")?;
        is_logging(clients, arn).await?
    } else {
        Some(false)
    };
    Ok(Trail {
        name: listed
            .name()
            .required("cloudtrail:DescribeTrails", "Name")?
            .to_owned(),
        multi_region,
        logging,
        validation: listed.log_file_validation_enabled().unwrap_or(false),
        kms_key: given(listed.kms_key_id()),
        log_group: given(listed.cloud_watch_logs_log_group_arn()),
    })
}

async fn is_logging(clients: &Clients, arn: &str) -> Result<Option<bool>, AwsError> {
    let status = clients
        .cloudtrail
        .get_trail_status()
        .name(arn)
        .send()
        .await
        .op("cloudtrail:GetTrailStatus");
    match status {
        Ok(status) => Ok(Some(status.is_logging().unwrap_or(false))),
        // An organization's trail, seen from a member account, which may not read its status.
        Err(e)
            if arn.split(':').nth(4) != Some(clients.account_id.as_str())
                && (e.is(ErrorKind::NotFound)
                    || e.code.as_deref() == Some("CloudTrailARNInvalidException")) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// A setting that is there: an empty string is none.
fn given(value: Option<&str>) -> Option<String> {
    value.filter(|v| !v.is_empty()).map(str::to_owned)
}

pub(super) fn checks(trails: &[Trail]) -> Vec<Check> {
    let counted: Vec<&Trail> = trails.iter().filter(|t| t.counts()).collect();
    let overview = if trails.is_empty() {
        json!("no trail")
    } else {
        Value::Object(
            trails
                .iter()
                .map(|t| (t.name.clone(), json!(t.state())))
                .collect(),
        )
    };
    vec![
        Check::account(
            MULTI_REGION,
            json!("a multi-region trail that is logging"),
            overview,
            !counted.is_empty(),
        ),
        each(
            VALIDATION,
            &counted,
            "on, for every multi-region trail that is logging",
            |t| (json!(t.validation), t.validation),
        ),
        each(
            KMS,
            &counted,
            "a KMS key, for every multi-region trail that is logging",
            |t| (json!(t.kms_key), t.kms_key.is_some()),
        ),
    ]
}

/// A setting every counted trail must have (`read` gives its value and whether it passes);
/// without a counted trail, the check fails for want of one.
fn each(
    check: (&str, Control),
    counted: &[&Trail],
    expected: &str,
    read: impl Fn(&Trail) -> (Value, bool),
) -> Check {
    if counted.is_empty() {
        return Check::account(check, json!(expected), json!(NO_TRAIL), false);
    }
    let read: Vec<(&str, (Value, bool))> =
        counted.iter().map(|t| (t.name.as_str(), read(t))).collect();
    let passed = read.iter().all(|(_, (_, ok))| *ok);
    let observed = read
        .into_iter()
        .map(|(name, (value, _))| (name.to_owned(), value))
        .collect();
    Check::account(check, json!(expected), Value::Object(observed), passed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trail(name: &str, multi_region: bool, logging: bool, validation: bool) -> Trail {
        Trail {
            name: name.to_owned(),
            multi_region,
            logging: Some(logging),
            validation,
            kms_key: None,
            log_group: None,
        }
    }

    fn passed(checks: &[Check]) -> Vec<bool> {
        checks.iter().map(|c| c.passed).collect()
    }

    #[test]
    fn without_a_logging_multi_region_trail_every_trail_check_fails() {
        let foreign = Trail {
            logging: None,
            ..trail("org", true, false, true)
        };
        let checks = checks(&[
            trail("local", false, true, true),
            trail("off", true, false, true),
            foreign,
        ]);
        assert_eq!(passed(&checks), [false, false, false]);
        assert_eq!(checks[1].observed, json!(NO_TRAIL));
        assert_eq!(
            checks[0].observed,
            json!({
                "local": "single-region",
                "off": "multi-region, not logging",
                "org": "multi-region, another account's: check its status there",
            })
        );
    }

    #[test]
    fn every_counted_trail_must_validate() {
        let checks = checks(&[trail("a", true, true, true), trail("b", true, true, false)]);
        assert_eq!(passed(&checks), [true, false, false]);
        assert_eq!(checks[1].observed, json!({"a": true, "b": false}));
        assert_eq!(checks[2].observed, json!({"a": null, "b": null}));
    }
}
