//! The four roles: who may assume each, exactly what each may do (customer-managed
//! policies of this account, no inline ones, no wildcard resource), and the shipped
//! least-privilege policy of docs/iam-policy.json running the whole lifecycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use crate::common::sent;
use crate::common::{TestContext, named_for, stderr};
use crate::lookup::{
    assert_tagged, role, role_names, secret, secret_names, stack_key, stream_summary,
};
use crate::policy_doc::{as_list, as_strings, assert_not_public, policy_json};
use crate::sweep::TagSource;

/// The names of the role's inline policies.
async fn inline_policies(t: &TestContext, role_name: &str) -> Vec<String> {
    let out = t.iam.list_role_policies().role_name(role_name).send().await;
    out.unwrap().policy_names().to_vec()
}

/// The managed policies attached to the role: (name, ARN).
async fn attached_policies(t: &TestContext, role_name: &str) -> Vec<(String, String)> {
    let out = t
        .iam
        .list_attached_role_policies()
        .role_name(role_name)
        .send()
        .await;
    let out = out.unwrap();
    out.attached_policies()
        .iter()
        .map(|p| {
            let name = p.policy_name().unwrap_or_default().to_owned();
            (name, p.policy_arn().unwrap().to_owned())
        })
        .collect()
}

/// Asserts that the role has no inline policy and at least one attached.
async fn assert_attached_only(t: &TestContext, role_name: &str) -> Vec<(String, String)> {
    let inline = inline_policies(t, role_name).await;
    assert!(
        inline.is_empty(),
        "{role_name} has inline policies {inline:?}"
    );
    let attached = attached_policies(t, role_name).await;
    assert!(!attached.is_empty(), "{role_name} has no policy");
    attached
}

/// `action (lowercase) -> resources` of every statement of every policy attached to `role`;
/// asserts no inline policy and only customer-managed policies of this account.
async fn role_permissions(
    t: &TestContext,
    role_name: &str,
    env: &str,
    account: &str,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut grants: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (_, arn) in assert_attached_only(t, role_name).await {
        assert!(
            arn.starts_with(&format!("arn:aws:iam::{account}:policy/")),
            "{role_name}: {arn} is not a customer-managed policy of this account"
        );
        let policy = sent!(t.iam.get_policy().policy_arn(&arn));
        let policy = policy.policy().unwrap();
        let name = policy.policy_name().unwrap_or_default();
        assert!(named_for(name, env), "{role_name}: policy name {name}");
        assert_tagged(t, TagSource::IamPolicy(arn.clone()), env, name).await;
        let version = sent!(
            t.iam
                .get_policy_version()
                .policy_arn(&arn)
                .version_id(policy.default_version_id().unwrap())
        );
        let doc = policy_json(version.policy_version().unwrap().document().unwrap());
        for s in as_list(doc.get("Statement")) {
            assert_eq!(s.get("Effect"), Some(&Value::from("Allow")), "{arn}: {s}");
            assert!(
                s.get("NotAction").is_none() && s.get("NotResource").is_none(),
                "{arn}: NotAction/NotResource in {s}"
            );
            let resources = as_strings(s.get("Resource"));
            assert!(
                !resources.is_empty(),
                "{arn}: statement without Resource: {s}"
            );
            for a in as_strings(s.get("Action")) {
                grants
                    .entry(a.to_ascii_lowercase())
                    .or_default()
                    .extend(resources.iter().cloned());
            }
        }
    }
    grants
}

fn expect_grants(pairs: &[(&[&str], &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
    let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (actions, resources) in pairs {
        for a in *actions {
            m.entry(a.to_ascii_lowercase())
                .or_default()
                .extend(resources.iter().map(|r| (*r).to_owned()));
        }
    }
    m
}

/// The principals of one kind (`Service`, `AWS`) the role's trust policy lets assume it.
pub(crate) fn trusted(role: &aws_sdk_iam::types::Role, kind: &str) -> Vec<String> {
    let doc = policy_json(role.assume_role_policy_document().expect("trust policy"));
    let mut principals = Vec::new();
    for s in as_list(doc.get("Statement")) {
        assert_not_public(&s, &format!("{}: anyone may assume it", role.role_name()));
        let principal = s.get("Principal").cloned().unwrap_or(Value::Null);
        principals.extend(as_strings(principal.get(kind)));
    }
    principals
}

pub(crate) async fn check_iam(t: &TestContext, env: &str) {
    let account = t.account_id().await;
    let key = stack_key(t, env).await;
    let key_arn = key.arn().unwrap().to_owned();
    let stream_arn = stream_summary(t, env).await.stream_arn().to_owned();
    let mut secret_arns = Vec::new();
    for name in secret_names(env) {
        secret_arns.push(secret(t, &name).await.arn().unwrap().to_owned());
    }
    let secret_arns: Vec<&str> = secret_arns.iter().map(String::as_str).collect();

    for name in role_names(env) {
        let r = role(t, &name).await;
        assert_tagged(t, TagSource::IamRole(name.clone()), env, &name).await;
        // Without configured principals the application roles trust this account only.
        let root = format!("arn:aws:iam::{account}:root");
        let (services, accounts): (&[&str], &[&str]) = match name.strip_suffix(&format!("-{env}")) {
            Some("medtech-kinesis-producer" | "medtech-secrets-reader") => (&[], &[root.as_str()]),
            Some("medtech-flow-logs") => (&["vpc-flow-logs.amazonaws.com"], &[]),
            Some("medtech-rds-monitoring") => (&["monitoring.rds.amazonaws.com"], &[]),
            _ => panic!("{name}: which principals may assume it?"),
        };
        assert_eq!(trusted(&r, "Service"), services, "{name}: trusted services");
        assert_eq!(trusted(&r, "AWS"), accounts, "{name}: trusted accounts");
    }

    // The producer: PutRecord(s)/DescribeStreamSummary on this stream, GenerateDataKey on
    // this key, nothing else, no wildcard resource. The reader: GetSecretValue/DescribeSecret
    // on the two secrets, Decrypt on this key. Each in one policy named like the role.
    let producer = format!("medtech-kinesis-producer-{env}");
    let producer_grants = expect_grants(&[
        (
            &[
                "kinesis:PutRecord",
                "kinesis:PutRecords",
                "kinesis:DescribeStreamSummary",
            ],
            &[stream_arn.as_str()],
        ),
        (&["kms:GenerateDataKey"], &[key_arn.as_str()]),
    ]);
    let reader = format!("medtech-secrets-reader-{env}");
    let reader_grants = expect_grants(&[
        (
            &[
                "secretsmanager:GetSecretValue",
                "secretsmanager:DescribeSecret",
            ],
            &secret_arns,
        ),
        (&["kms:Decrypt"], &[key_arn.as_str()]),
    ]);
    for (role_name, want) in [(producer, producer_grants), (reader, reader_grants)] {
        let grants = role_permissions(t, &role_name, env, &account).await;
        assert_eq!(grants, want, "{role_name}: permissions");
        let names: Vec<String> = attached_policies(t, &role_name)
            .await
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(
            names,
            std::slice::from_ref(&role_name),
            "{role_name}: policy name"
        );
    }

    // Flow-logs role: a customer-managed policy that can write logs, every KMS action (if
    // any) on this key only.
    let flow = format!("medtech-flow-logs-{env}");
    let grants = role_permissions(t, &flow, env, &account).await;
    for needed in ["logs:createlogstream", "logs:putlogevents"] {
        assert!(
            grants.contains_key(needed),
            "{flow} lacks {needed}: {grants:?}"
        );
    }
    for (action, resources) in &grants {
        // STACK.md: every KMS action names this stack's key, never `*`; and no wildcard
        // KMS action (kms:* would make the role a key administrator).
        if action.starts_with("kms:") || action == "*" {
            assert_eq!(
                resources,
                &BTreeSet::from([key_arn.clone()]),
                "{flow}: {action}"
            );
            assert!(
                !action.contains('*'),
                "{flow}: wildcard KMS action {action}"
            );
        }
    }

    // Monitoring role: no inline policy. It may carry AWS's managed
    // AmazonRDSEnhancedMonitoringRole (the emulator provides it), so only "no inline
    // policies" and "something attached" are asserted here.
    assert_attached_only(t, &format!("medtech-rds-monitoring-{env}")).await;
    // GAP: IAM policies are not evaluated by the emulator, so whether a role can really do
    // what its policy says (and nothing more) is checked on the documents only.
}

/// docs/iam-policy.json as the emulator can check it. moto evaluates the Resource element only
/// for IAM (role and policy ARNs, which stay as shipped) and checks every other service's call
/// against `*`, so the resources of the EC2, KMS, Logs, Kinesis, Secrets Manager, RDS,
/// ElastiCache, SNS, CloudWatch and tagging statements are widened to `*`. Conditions stay:
/// moto evaluates none of them for an identity policy (they pass), so the tag, CreateAction,
/// PassedToService, AWSServiceName and GrantIsForAWSResource conditions are not proven here,
/// nor are iam:PassRole, iam:CreateServiceLinkedRole and kms:CreateGrant, which AWS checks on
/// the caller's behalf and moto never does.
pub(crate) fn shipped_policy_for_the_emulator(without: Option<&str>) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/iam-policy.json");
    let mut policy: Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).expect("policy JSON");
    let mut found = without.is_none();
    for statement in policy["Statement"].as_array_mut().unwrap() {
        let resources: Vec<String> = match &statement["Resource"] {
            Value::String(one) => vec![one.clone()],
            many => as_strings(Some(many)),
        };
        if !resources.iter().all(|r| r.starts_with("arn:aws:iam::")) {
            statement["Resource"] = Value::from("*");
        }
        let actions = statement["Action"].as_array_mut().unwrap();
        for action in actions.iter() {
            assert!(
                !action.as_str().unwrap().ends_with(":*"),
                "service wildcard {action}"
            );
        }
        if let Some(without) = without {
            let before = actions.len();
            actions.retain(|a| a != without);
            found |= actions.len() != before;
        }
    }
    assert!(found, "{without:?} is not in docs/iam-policy.json");
    policy
}

#[tokio::test(flavor = "multi_thread")]
async fn the_shipped_iam_policy_runs_the_lifecycle_and_each_sampled_action_is_needed() {
    let t = TestContext::new("iampol").await;
    let user = "medtech-runner";
    let (key_id, secret) = t
        .create_user_with_policy(user, &shipped_policy_for_the_emulator(None))
        .await;
    let keys = [
        ("AWS_ACCESS_KEY_ID", key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", secret.as_str()),
    ];
    t.set_iam_enforcement(true);
    let run = |env: &str, args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--env", env]);
        (t.medtech_with(&all, &keys), all.join(" "))
    };
    let refused = [
        "access denied",
        "AccessDenied",
        "UnauthorizedOperation",
        "AuthorizationError",
    ];
    let lifecycle: [&[&str]; 6] = [
        &["up"],
        &["plan"],
        &["rotate"],
        &["verify"],
        &["outputs"],
        &["state", "refresh"],
    ];
    for args in lifecycle {
        let (out, line) = run(&t.env, args);
        let err = stderr(&out);
        assert!(
            out.status.success(),
            "medtech {line} as the policy's user: {}\n{err}",
            out.status
        );
        assert!(!refused.iter().any(|r| err.contains(r)), "{line}:\n{err}");
    }

    // Each sample: the one action taken out, and the command that needs it. A create needs a
    // fresh environment; the reads and the delete run against the environment made above.
    let samples: [(&str, &str, &[&str]); 7] = [
        ("ec2:CreateNatGateway", "iampol-nat", &["up"]),
        ("iam:CreateRole", "iampol-role", &["up"]),
        ("kinesis:DescribeStreamSummary", "iampol", &["plan"]),
        // No read is verify's alone (up reads the same properties); this one is a property
        // verify checks (DNS support and hostnames).
        ("ec2:DescribeVpcAttribute", "iampol", &["verify"]),
        ("rds:DescribeDBInstances", "iampol", &["state", "refresh"]),
        // Rotation's own: moving AWSCURRENT (the run stops there; destroy below needs none).
        (
            "secretsmanager:UpdateSecretVersionStage",
            "iampol",
            &["rotate", "--secret", "redis"],
        ),
        ("kms:ScheduleKeyDeletion", "iampol", &["destroy", "--yes"]),
    ];
    for (action, env, args) in samples {
        t.put_user_policy(user, &shipped_policy_for_the_emulator(Some(action)))
            .await;
        let (out, line) = run(env, args);
        let err = stderr(&out);
        assert_eq!(
            out.status.code(),
            Some(4),
            "medtech {line} without {action}:\n{err}"
        );
        let last = err.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("error: ")
                && last.contains(&format!("may not call {action}"))
                && last.contains("docs/iam-policy.json"),
            "medtech {line} without {action}: last line {last:?}\n{err}"
        );
    }

    // With the action back, the interrupted destroy finishes.
    t.put_user_policy(user, &shipped_policy_for_the_emulator(None))
        .await;
    let (out, line) = run(&t.env, &["destroy", "--yes"]);
    let err = stderr(&out);
    assert!(
        out.status.success(),
        "medtech {line}: {}\n{err}",
        out.status
    );
    assert!(!refused.iter().any(|r| err.contains(r)), "{line}:\n{err}");
    t.set_iam_enforcement(false);
    let left = t.sweep(&t.env).await;
    assert!(
        left.values().all(Vec::is_empty),
        "left after destroy: {left:?}"
    );
}
