//! The secrets' resource policy (Prowler `secretsmanager_has_restrictive_resource_policy`):
//! every Secrets Manager action denied to all but the secrets-reader role, the configured
//! `[secrets] admin_principals` and whoever runs medtech, read back through the SDK; its drift
//! named by `verify` and repaired by `up`; a role session named by its role's ARN, path
//! included.
//! Under the emulator's IAM enforcement, which evaluates a secret's resource policy as AWS
//! does, the deny keeps out a principal the policy does not name, however broad its own
//! permissions, and lets the named in.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::common::sent;
use crate::common::{TestContext, stderr, stdout};
use crate::iam::trusted;
use crate::lookup::{role, secret_names};
use crate::policy_doc::policy_json;
use crate::runs::{checks_of, failed_checks, planned_changes, verify_report};

/// The one policy medtech writes, naming `principals`.
fn deny_all_but(principals: &[&str]) -> Value {
    let named: BTreeSet<&str> = principals.iter().copied().collect();
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyAllButNamedPrincipals",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "secretsmanager:*",
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:PrincipalArn": named}}
        }]
    })
}

/// The secret's resource policy as Secrets Manager returns it; `None` without one.
async fn resource_policy(t: &TestContext, secret: &str) -> Option<Value> {
    let out = sent!(t.secrets.get_resource_policy().secret_id(secret));
    out.resource_policy().map(policy_json)
}

/// Asserts that both secrets of the environment carry exactly `want`.
async fn assert_policies(t: &TestContext, want: &Value) {
    for name in secret_names(&t.env) {
        assert_eq!(
            resource_policy(t, &name).await.as_ref(),
            Some(want),
            "{name}: resource policy"
        );
    }
}

/// The ARN of the stack's secrets-reader role, as IAM gives it.
async fn reader_role_arn(t: &TestContext) -> String {
    let role = sent!(
        t.iam
            .get_role()
            .role_name(format!("medtech-secrets-reader-{}", t.env))
    );
    role.role().expect("role").arn().to_owned()
}

/// Who the test's own credentials (medtech's default runner here) are, as STS names them.
async fn caller_arn(t: &TestContext) -> String {
    let me = sent!(t.sts.get_caller_identity());
    me.arn().expect("caller ARN").to_owned()
}

/// The resource-policy checks of a `verify --format json`: id → (passed, observed).
fn policy_checks(t: &TestContext) -> Vec<(String, bool, Value)> {
    let (_, report) = verify_report(t, &t.env);
    checks_of(&report, "resource_policy")
        .into_iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap_or_default().to_owned(),
                c["passed"] == Value::Bool(true),
                c["observed"].clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_policy_names_the_reader_and_the_runner_and_its_drift_is_repaired() {
    let t = TestContext::new("secpol").await;
    t.run_ok(&["up"]);
    let reader = reader_role_arn(&t).await;
    let runner = caller_arn(&t).await;
    let want = deny_all_but(&[&reader, &runner]);
    assert_policies(&t, &want).await;
    assert!(failed_checks(&t, 0).is_empty());
    let checks = policy_checks(&t);
    let ids: BTreeSet<&str> = checks.iter().map(|(id, ..)| id.as_str()).collect();
    assert_eq!(
        ids,
        BTreeSet::from(["rds-secret.resource_policy", "redis-secret.resource_policy"])
    );
    assert!(checks.iter().all(|(_, passed, _)| *passed), "{checks:?}");

    // Behind medtech's back: one policy deleted, the other widened to one more principal.
    let [rds, redis] = secret_names(&t.env);
    sent!(t.secrets.delete_resource_policy().secret_id(&rds));
    let intruder = format!("arn:aws:iam::{}:role/intruder", t.account_id().await);
    let wider = deny_all_but(&[&reader, &runner, &intruder]);
    sent!(
        t.secrets
            .put_resource_policy()
            .secret_id(&redis)
            .resource_policy(wider.to_string())
    );
    let drifted = BTreeSet::from([
        "rds-secret.resource_policy".to_owned(),
        "redis-secret.resource_policy".to_owned(),
    ]);
    assert_eq!(failed_checks(&t, 1), drifted, "verify names the drift");
    let observed: Vec<(String, Value)> = policy_checks(&t)
        .into_iter()
        .map(|(id, _, observed)| (id, observed))
        .collect();
    assert_eq!(
        observed,
        [
            ("rds-secret.resource_policy".to_owned(), Value::Null),
            ("redis-secret.resource_policy".to_owned(), wider),
        ],
        "verify shows what it found"
    );
    assert_eq!(planned_changes(&t), drifted, "plan names the drift");

    t.run_ok(&["up"]);
    assert_policies(&t, &want).await;
    assert!(
        failed_checks(&t, 0).is_empty(),
        "up did not repair the policies"
    );
}

/// Someone who runs medtech: the `aws:PrincipalArn` the policy should name, and the
/// credentials for `medtech_with`.
struct Runner {
    arn: String,
    keys: Vec<(&'static str, String)>,
}

impl Runner {
    fn env(&self) -> Vec<(&str, &str)> {
        self.keys.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }

    /// `medtech <args> --env <env>` as this runner, insisting on success.
    fn run_ok(&self, t: &TestContext, args: &[&str]) {
        let mut all = args.to_vec();
        all.extend(["--env", &t.env]);
        let out = t.medtech_with(&all, &self.env());
        assert!(
            out.status.success(),
            "medtech {all:?} as {}: {}\n{}\n{}",
            self.arn,
            out.status,
            stdout(&out),
            stderr(&out)
        );
    }
}

/// A CI pipeline's IAM user (IAM enforcement stays off: what it may do is not the point).
async fn ci_user(t: &TestContext) -> Runner {
    let anything = json!({"Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
    let (key, secret) = t.create_user_with_policy("ci-deploy", &anything).await;
    Runner {
        arn: format!("arn:aws:iam::{}:user/ci-deploy", t.account_id().await),
        keys: vec![
            ("AWS_ACCESS_KEY_ID", key),
            ("AWS_SECRET_ACCESS_KEY", secret),
        ],
    }
}

/// An engineer's IAM Identity Center session: a role under its
/// `/aws-reserved/sso.amazonaws.com/…` path, which STS leaves out of the session's ARN.
async fn sso_session(t: &TestContext) -> Runner {
    let account = t.account_id().await;
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{account}:root")}, "Action": "sts:AssumeRole"}]});
    let role = sent!(
        t.iam
            .create_role()
            .role_name("AWSReservedSSO_Admin_0123456789abcdef")
            .path("/aws-reserved/sso.amazonaws.com/eu-west-1/")
            .assume_role_policy_document(trust.to_string())
    );
    let arn = role.role().expect("role").arn().to_owned();
    assert!(arn.contains("/aws-reserved/"), "{arn}");
    let assumed = sent!(
        t.sts
            .assume_role()
            .role_arn(&arn)
            .role_session_name("jane@example.com")
    );
    let c = assumed.credentials().expect("credentials");
    Runner {
        arn,
        keys: vec![
            ("AWS_ACCESS_KEY_ID", c.access_key_id().to_owned()),
            ("AWS_SECRET_ACCESS_KEY", c.secret_access_key().to_owned()),
            ("AWS_SESSION_TOKEN", c.session_token().to_owned()),
        ],
    }
}

#[tokio::test]
async fn admin_principals_are_named_and_a_role_session_by_its_roles_full_arn() {
    let t = TestContext::new("secadm").await;
    let ci = ci_user(&t).await;
    let engineer = sso_session(&t).await;
    let breakglass = format!("arn:aws:iam::{}:user/breakglass", t.account_id().await);
    let config = |admins: &[&str]| {
        std::fs::write(
            t.path("medtech.toml"),
            format!("[secrets]\nadmin_principals = {}\n", json!(admins)),
        )
        .unwrap();
    };

    // Both runners configured: whichever runs, the policy is the same.
    config(&[&ci.arn, &engineer.arn]);
    ci.run_ok(&t, &["up"]);
    let reader = reader_role_arn(&t).await;
    assert_policies(&t, &deny_all_but(&[&reader, &ci.arn, &engineer.arn])).await;
    let plan = t.medtech_with(
        &["plan", "--env", &t.env, "--detailed-exitcode"],
        &engineer.env(),
    );
    assert_eq!(
        plan.status.code(),
        Some(0),
        "the engineer's session would change the policy:\n{}{}",
        stdout(&plan),
        stderr(&plan)
    );

    // The session's role not configured: it is named by the ARN IAM gives, path included;
    // the pipeline, no longer configured, drops out. And who may assume the secrets-reader
    // role is `[iam] secrets_reader_principals` once set, instead of the whole account.
    let account_root = format!("arn:aws:iam::{}:root", t.account_id().await);
    let reader_trust = || async {
        let role = role(&t, &format!("medtech-secrets-reader-{}", t.env)).await;
        trusted(&role, "AWS")
    };
    assert_eq!(reader_trust().await, [account_root]);
    std::fs::write(
        t.path("medtech.toml"),
        format!(
            "[secrets]\nadmin_principals = {}\n[iam]\nsecrets_reader_principals = {}\n",
            json!([&breakglass]),
            json!([&ci.arn])
        ),
    )
    .unwrap();
    engineer.run_ok(&t, &["up"]);
    assert_policies(&t, &deny_all_but(&[&reader, &breakglass, &engineer.arn])).await;
    assert_eq!(reader_trust().await, std::slice::from_ref(&ci.arn));
    engineer.run_ok(&t, &["verify"]);
}

/// A Secrets Manager client with `runner`'s credentials.
async fn secrets_as(t: &TestContext, runner: &Runner) -> aws_sdk_secretsmanager::Client {
    let key = |name: &str| {
        runner
            .keys
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(crate::common::REGION))
        .endpoint_url(&t.emulator.endpoint)
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            key("AWS_ACCESS_KEY_ID"),
            key("AWS_SECRET_ACCESS_KEY"),
            None,
            None,
            "tests",
        ))
        .app_name(aws_config::AppName::new("medtech-test-observer").unwrap())
        .load()
        .await;
    aws_sdk_secretsmanager::Client::new(&config)
}

#[tokio::test]
async fn the_deny_keeps_out_every_principal_it_does_not_name() {
    let t = TestContext::new("secdeny").await;
    let ci = ci_user(&t).await;
    let anything = json!({"Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
    let (key, secret) = t.create_user_with_policy("outsider", &anything).await;
    let outsider = Runner {
        arn: format!("arn:aws:iam::{}:user/outsider", t.account_id().await),
        keys: vec![
            ("AWS_ACCESS_KEY_ID", key),
            ("AWS_SECRET_ACCESS_KEY", secret),
        ],
    };
    ci.run_ok(&t, &["up"]);
    let (as_ci, as_outsider) = (secrets_as(&t, &ci).await, secrets_as(&t, &outsider).await);
    t.set_iam_enforcement(true);
    for name in secret_names(&t.env) {
        let denied = as_outsider.get_secret_value().secret_id(&name).send().await;
        let code = denied
            .as_ref()
            .err()
            .and_then(|e| e.as_service_error())
            .and_then(|e| aws_sdk_secretsmanager::error::ProvideErrorMetadata::code(e))
            .map(str::to_owned);
        assert_eq!(
            code.as_deref(),
            Some("AccessDeniedException"),
            "{name}: {denied:?}"
        );
        as_ci
            .get_secret_value()
            .secret_id(&name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{name}: the runner refused: {e:?}"));
    }
    // medtech run by the outsider cannot read the secrets either: the failure names the call.
    let out = t.medtech_with(&["verify", "--env", &t.env], &outsider.env());
    t.set_iam_enforcement(false);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("secretsmanager:"), "{}", stderr(&out));
}
