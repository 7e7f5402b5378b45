//! Which policy document grants which call: what a refusal points the reader to.

/// Where a person who meets a denied call finds every permission medtech needs.
pub(crate) const POLICY_DOC: &str = "docs/iam-policy.json";
/// The same for the S3 state backend's calls, which are scoped to a bucket of the user's.
const STATE_POLICY_DOC: &str = "docs/iam-policy-state.json";
/// The same for the reads of `verify --account`, granted to whoever audits the account.
const ACCOUNT_POLICY_DOC: &str = "docs/iam-policy-account.json";

/// The policy document that lists `operation`.
pub(super) fn policy_doc(operation: &str) -> &'static str {
    if operation.starts_with("s3:") {
        STATE_POLICY_DOC
    } else if ACCOUNT_ACTIONS.contains(&operation) {
        ACCOUNT_POLICY_DOC
    } else {
        POLICY_DOC
    }
}

/// Every IAM action the account checks of `verify --account` call, as
/// docs/iam-policy-account.json lists them. None is in the runner's docs/iam-policy.json, so a
/// refusal of one names the account's document.
pub(crate) const ACCOUNT_ACTIONS: [&str; 11] = [
    "cloudtrail:DescribeTrails",
    "cloudtrail:GetTrailStatus",
    "cloudwatch:DescribeAlarmsForMetric",
    "config:DescribeConfigurationRecorderStatus",
    "config:DescribeConfigurationRecorders",
    "config:DescribeDeliveryChannels",
    "guardduty:GetDetector",
    "guardduty:ListDetectors",
    "iam:GetAccountPasswordPolicy",
    "logs:DescribeMetricFilters",
    "securityhub:DescribeHub",
];
