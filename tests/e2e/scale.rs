//! Cost that grows with the stack, not with the account (issue 17). Other teams' roles,
//! policies, alarms, secrets and log groups in the same account, tagged with the same
//! `Environment`, must cost a no-op `up` no extra call, and must hide none of the stack's own
//! settings from `plan` and `verify`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::common::sent;
use crate::common::*;
use crate::runs::{failed_checks, planned_changes};

/// Other teams' roles and policies: more than three of IAM's 100-item pages, few enough to
/// make in a moment.
const FOREIGN_IAM: u64 = 300;

/// `POST /_medtech/crowd`: the emulator makes another team's resources in one request.
fn crowd(t: &TestContext, body: &Value) {
    let (status, response) = t.emulator_control(
        "POST",
        "/_medtech/crowd",
        Some(("application/json", &body.to_string())),
    );
    assert!(status.contains(" 200 "), "crowd: {status} {response}");
}

/// The calls a no-op `up` made, per operation, as the emulator counted them.
fn noop_up_calls(t: &TestContext) -> BTreeMap<String, u64> {
    t.reset_emulator_stats();
    let out = t.run_ok(&["up", "--output", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout).expect("up JSON");
    assert_eq!(report["api_calls"]["mutating"], 0, "not a no-op: {report}");
    t.emulator_stats()["operations"]
        .as_object()
        .expect("operations")
        .iter()
        .map(|(op, v)| (op.clone(), v["requests"].as_u64().unwrap_or(0)))
        .collect()
}

/// What a no-op `up` reads once, not once per resource or per page: IAM's 18 facts (each of
/// five roles, its inline and its attached policies; each customer-managed policy at the
/// version its role's record names, with no GetPolicy and nothing for the AWS-managed one),
/// the environment's tags in one page (the backup vault's and plan's among them), the
/// replication group once for itself and the Redis alarms, and no subscriptions without
/// `alarms.email` to compare them with.
fn assert_reads_each_fact_once(calls: &BTreeMap<String, u64>) {
    let iam: BTreeMap<&str, u64> = calls
        .iter()
        .filter(|(op, _)| op.starts_with("iam:"))
        .map(|(op, n)| (op.as_str(), *n))
        .collect();
    assert_eq!(
        iam,
        BTreeMap::from([
            ("iam:GetPolicyVersion", 3),
            ("iam:GetRole", 5),
            ("iam:ListAttachedRolePolicies", 5),
            ("iam:ListRolePolicies", 5),
        ])
    );
    for (op, once) in [
        ("tagging:GetResources", Some(&1)),
        ("elasticache:DescribeReplicationGroups", Some(&1)),
        ("sns:ListSubscriptionsByTopic", None),
        ("backup:ListTags", None),
    ] {
        assert_eq!(calls.get(op), once, "{op} in a no-op up: {calls:?}");
    }
}

#[tokio::test]
async fn a_crowded_account_costs_no_extra_call_and_hides_no_role_setting() {
    let t = TestContext::new("crowd").await;
    t.run_ok(&["up"]);
    let env = t.env.clone();
    let empty = noop_up_calls(&t);
    assert_reads_each_fact_once(&empty);
    crowd(
        &t,
        &json!({"team": "billing", "environment": env, "roles": FOREIGN_IAM,
                "policies": FOREIGN_IAM, "alarms": 30, "secrets": 30, "log_groups": 30}),
    );
    let crowded = noop_up_calls(&t);
    let grew: Vec<String> = crowded
        .iter()
        .filter(|(op, n)| **n > empty.get(*op).copied().unwrap_or(0))
        .map(|(op, n)| format!("{op}: {} → {n}", empty.get(op).copied().unwrap_or(0)))
        .collect();
    assert!(
        grew.is_empty(),
        "a no-op up made more calls in an account crowded with {FOREIGN_IAM} other roles and \
         policies than in an empty one:\n{}",
        grew.join("\n")
    );

    // Every setting of every role is still seen, whoever else's roles the account holds.
    let foreign_policy = format!(
        "arn:aws:iam::{}:policy/billing-policy-00007",
        t.account_id().await
    );
    sent!(
        t.iam
            .attach_role_policy()
            .role_name(format!("medtech-secrets-reader-{env}"))
            .policy_arn(&foreign_policy)
    );
    let flow_policy = format!(
        "arn:aws:iam::{}:policy/medtech-flow-logs-{env}",
        t.account_id().await
    );
    sent!(
        t.iam
            .create_policy_version()
            .policy_arn(&flow_policy)
            .policy_document(
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [
                "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams",
                "logs:DescribeLogGroups"], "Resource": "*"}]})
                .to_string(),
            )
            .set_as_default(true)
    );
    sent!(
        t.iam
            .update_assume_role_policy()
            .role_name(format!("medtech-rds-monitoring-{env}"))
            .policy_document(
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
                .to_string(),
            )
    );
    sent!(
        t.iam
            .tag_role()
            .role_name(format!("medtech-kinesis-producer-{env}"))
            .tags(
                aws_sdk_iam::types::Tag::builder()
                    .key("DataClassification")
                    .value("public")
                    .build()
                    .unwrap(),
            )
    );
    let drifted: BTreeSet<String> = [
        "secrets-reader-role.attached_policies",
        "flow-logs-role.policy_document",
        "rds-monitoring-role.assume_role_policy",
        "kinesis-producer-role.tags",
    ]
    .map(str::to_owned)
    .into();
    assert_eq!(
        failed_checks(&t, 1),
        drifted,
        "verify must name exactly the drifted role settings"
    );
    assert_eq!(
        planned_changes(&t),
        drifted,
        "plan must name exactly the drifted role settings"
    );

    t.run_ok(&["up"]);
    assert!(
        failed_checks(&t, 0).is_empty(),
        "up did not repair the roles"
    );
    let attached = sent!(
        t.iam
            .list_attached_role_policies()
            .role_name(format!("medtech-secrets-reader-{env}"))
    );
    assert!(
        attached
            .attached_policies()
            .iter()
            .all(|p| p.policy_arn() != Some(foreign_policy.as_str())),
        "the foreign policy is still attached: {attached:?}"
    );
}
