//! What `verify --account` checks besides the stack: the account's security baseline an auditor
//! reads next to it (CloudTrail, GuardDuty, Security Hub, AWS Config, the IAM password policy and
//! the CIS metric-filter alarms), in the region of the stack. Read-only: nothing here changes
//! the account, and nothing is recorded in state. The checks belong to the pseudo-resource
//! `account` (`crate::verify::ACCOUNT`); docs/account-baseline.md lists them with their fixes,
//! docs/iam-policy-account.json the actions they read with.

mod alarms;
mod cloudtrail;
mod password;
mod services;

use crate::aws::{AwsError, Clients};
use crate::control::Control;
use crate::error::Error;
use crate::verify::Check;

/// Every account check, by name, with its control, for `medtech controls`.
pub(crate) fn declared() -> Vec<(&'static str, Control)> {
    let mut all = cloudtrail::CONTROLS.to_vec();
    all.extend(services::CONTROLS);
    all.extend(password::CONTROLS);
    all.extend(alarms::ALARMED.iter().map(|a| a.check));
    all
}

/// The account checks, each service read at once. The metric-filter checks wait for the
/// trails, whose log groups they read.
pub(crate) async fn checks(clients: &Clients) -> Result<Vec<Check>, Error> {
    let trail_and_alarms = async {
        let trails = cloudtrail::trails(clients).await?;
        let mut checks = cloudtrail::checks(&trails);
        checks.extend(alarms::checks(clients, &trails).await?);
        Ok::<_, AwsError>(checks)
    };
    let (trail_and_alarms, services, password) = tokio::join!(
        trail_and_alarms,
        services::checks(clients),
        password::checks(clients),
    );
    let mut checks = trail_and_alarms?;
    checks.extend(services?);
    checks.extend(password?);
    Ok(checks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::policy_docs::ACCOUNT_ACTIONS as ACTIONS;

    #[test]
    fn the_account_policy_lists_exactly_the_actions_called() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/iam-policy-account.json");
        let policy: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut listed: Vec<&str> = policy["Statement"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| s["Action"].as_array().into_iter().flatten())
            .filter_map(serde_json::Value::as_str)
            .collect();
        listed.sort_unstable();
        assert_eq!(listed, ACTIONS);
    }

    #[test]
    fn the_actions_are_the_ones_the_checks_name() {
        let sources = [
            include_str!("alarms.rs"),
            include_str!("cloudtrail.rs"),
            include_str!("password.rs"),
            include_str!("services.rs"),
        ];
        let mut named: Vec<&str> = sources
            .iter()
            .flat_map(|s| s.split(".op(\"").skip(1))
            .filter_map(|rest| rest.split('"').next())
            .collect();
        named.sort_unstable();
        named.dedup();
        assert_eq!(named, ACTIONS);
    }

    #[test]
    fn no_account_action_is_in_the_runners_policy() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/iam-policy.json");
        let runner = std::fs::read_to_string(path).unwrap();
        for action in ACTIONS {
            assert!(!runner.contains(&format!("\"{action}\"")), "{action}");
        }
    }

    #[test]
    fn every_account_check_has_its_own_name() {
        let mut names: Vec<&str> = declared().iter().map(|(name, _)| *name).collect();
        let all = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all);
    }
}
