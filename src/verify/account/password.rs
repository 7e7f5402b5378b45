//! The account's IAM password policy (CIS 1.8, 1.9 and the requirements Prowler checks one by
//! one): the passwords of the account's IAM users, console sign-in included.

use aws_sdk_iam::types::PasswordPolicy;
use serde_json::{Value, json};

use crate::aws::{AwsError, AwsResultExt, Clients, ErrorKind};
use crate::control::{Control, PASSWORD_MGMT, Severity, control};
use crate::verify::Check;

/// One command sets the whole policy (what it leaves out goes back to IAM's default), so every
/// check has the same fix.
const FIX: &str = "`aws iam update-account-password-policy --minimum-password-length 14 --password-reuse-prevention 24 --max-password-age 90 --require-symbols --require-numbers --require-uppercase-characters --require-lowercase-characters`";

const fn rule(
    name: &'static str,
    title: &'static str,
    prowler: &'static str,
) -> (&'static str, Control) {
    (
        name,
        control(
            title,
            Severity::Medium,
            PASSWORD_MGMT,
            FIX,
            Some(prowler),
            Some("IAM_PASSWORD_POLICY"),
        ),
    )
}

/// In the order `read` gives the settings.
pub(super) const CONTROLS: [(&str, Control); 7] = [
    rule(
        "password_min_length",
        "The IAM password policy requires at least 14 characters",
        "iam_password_policy_minimum_length_14",
    ),
    rule(
        "password_reuse_prevention",
        "The IAM password policy prevents reusing any of the last 24 passwords",
        "iam_password_policy_reuse_24",
    ),
    rule(
        "password_max_age",
        "The IAM password policy expires passwords within 90 days",
        "iam_password_policy_expires_passwords_within_90_days_or_less",
    ),
    rule(
        "password_symbols",
        "The IAM password policy requires a symbol",
        "iam_password_policy_symbol",
    ),
    rule(
        "password_numbers",
        "The IAM password policy requires a number",
        "iam_password_policy_number",
    ),
    rule(
        "password_uppercase",
        "The IAM password policy requires an uppercase letter",
        "iam_password_policy_uppercase",
    ),
    rule(
        "password_lowercase",
        "The IAM password policy requires a lowercase letter",
        "iam_password_policy_lowercase",
    ),
];

pub(super) async fn checks(clients: &Clients) -> Result<Vec<Check>, AwsError> {
    let policy = match clients
        .iam
        .get_account_password_policy()
        .send()
        .await
        .op("iam:GetAccountPasswordPolicy")
    {
        Ok(out) => out.password_policy().cloned(),
        // IAM's answer for an account that never set one.
        Err(e) if e.is(ErrorKind::NotFound) => None,
        Err(e) => return Err(e),
    };
    Ok(assess(policy.as_ref()))
}

fn assess(policy: Option<&PasswordPolicy>) -> Vec<Check> {
    let expected = [
        json!("at least 14"),
        json!("at least 24"),
        json!("at most 90 days"),
        json!(true),
        json!(true),
        json!(true),
        json!(true),
    ];
    let read = policy.map_or_else(
        || std::array::from_fn(|_| (json!("no password policy"), false)),
        read,
    );
    CONTROLS
        .into_iter()
        .zip(expected)
        .zip(read)
        .map(|((check, expected), (observed, passed))| {
            Check::account(check, expected, observed, passed)
        })
        .collect()
}

/// Each rule's setting and whether it passes, in the order of `CONTROLS`.
fn read(p: &PasswordPolicy) -> [(Value, bool); 7] {
    let length = p.minimum_password_length();
    let reuse = p.password_reuse_prevention();
    let age = p.max_password_age().filter(|_| p.expire_passwords());
    [
        (json!(length), length.is_some_and(|n| n >= 14)),
        (json!(reuse), reuse.is_some_and(|n| n >= 24)),
        (
            age.map_or_else(|| json!("passwords never expire"), |days| json!(days)),
            age.is_some_and(|days| (1..=90).contains(&days)),
        ),
        (json!(p.require_symbols()), p.require_symbols()),
        (json!(p.require_numbers()), p.require_numbers()),
        (
            json!(p.require_uppercase_characters()),
            p.require_uppercase_characters(),
        ),
        (
            json!(p.require_lowercase_characters()),
            p.require_lowercase_characters(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passed(checks: &[Check]) -> Vec<bool> {
        checks.iter().map(|c| c.passed).collect()
    }

    #[test]
    fn no_policy_fails_every_rule() {
        assert_eq!(passed(&assess(None)), [false; 7]);
    }

    #[test]
    fn each_rule_reads_its_own_setting() {
        let strong = PasswordPolicy::builder()
            .minimum_password_length(14)
            .password_reuse_prevention(24)
            .max_password_age(90)
            .expire_passwords(true)
            .require_symbols(true)
            .require_numbers(true)
            .require_uppercase_characters(true)
            .require_lowercase_characters(true)
            .build();
        assert_eq!(passed(&assess(Some(&strong))), [true; 7]);
        let weak = PasswordPolicy::builder()
            .minimum_password_length(13)
            .password_reuse_prevention(5)
            .max_password_age(91)
            .expire_passwords(true)
            .require_symbols(true)
            .build();
        assert_eq!(
            passed(&assess(Some(&weak))),
            [false, false, false, true, false, false, false]
        );
    }
}
