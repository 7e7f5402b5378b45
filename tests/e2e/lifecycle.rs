//! The whole stack of `shared/STACK.md` beyond the network tier (which `network.rs` covers)
//! through its lifecycle: a first `up` with every setting read back area by area, a second
//! `up` that changes nothing, an `up` without state that adopts everything, and two
//! environments side by side in one account.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;

use futures::FutureExt;
use serde_json::Value;

use crate::alarms::check_alarms;
use crate::common::{TestContext, stderr, tail};
use crate::endpoints::check_endpoints;
use crate::fingerprint::{assert_same, fingerprint};
use crate::iam::check_iam;
use crate::kinesis::check_kinesis;
use crate::kms_secrets::{check_kms, check_secrets};
use crate::logs::check_log_groups_and_flow_logs;
use crate::lookup::{secret_texts, write_user_config};
use crate::outputs_contract::check_outputs;
use crate::rds::check_rds;
use crate::redis::check_redis;
use crate::runs::{DESTROY_NOW, assert_no_changes, assert_verify_passes, destroy_everything};
use crate::sweep::Swept;

type Area<'a> = (&'static str, Pin<Box<dyn Future<Output = ()> + 'a>>);

/// Runs every area even when one fails, then fails with every area's message, so one run
/// shows everything that is wrong instead of the first thing.
async fn run_areas(areas: Vec<Area<'_>>) {
    let mut failed = Vec::new();
    for (name, area) in areas {
        if let Err(panic) = AssertUnwindSafe(area).catch_unwind().await {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "(non-string panic)".to_owned());
            failed.push(format!("[{name}] {message}"));
        }
    }
    assert!(
        failed.is_empty(),
        "{} area(s) failed:\n\n{}",
        failed.len(),
        failed.join("\n\n")
    );
}

#[tokio::test]
async fn up_creates_every_resource_with_every_setting() {
    let t = TestContext::new("full").await;
    write_user_config(&t, "");
    t.run_ok(&["up"]);
    let env = t.env.as_str();
    let t = &t;
    run_areas(vec![
        ("outputs", Box::pin(check_outputs(t, env))),
        ("kms", Box::pin(check_kms(t, env))),
        (
            "log groups + flow logs",
            Box::pin(check_log_groups_and_flow_logs(t, env)),
        ),
        ("vpc endpoints", Box::pin(check_endpoints(t, env))),
        ("kinesis", Box::pin(check_kinesis(t, env))),
        ("secrets", Box::pin(check_secrets(t, env))),
        ("rds", Box::pin(check_rds(t, env))),
        ("redis", Box::pin(check_redis(t, env))),
        ("iam", Box::pin(check_iam(t, env))),
        ("sns + alarms", Box::pin(check_alarms(t, env))),
        ("verify", Box::pin(async { assert_verify_passes(t, env) })),
    ])
    .await;
}

/// What a run must leave as it was: what exists, its fingerprint, the state's records, the
/// outputs file and the secret values.
struct Unchanged {
    swept: Swept,
    prints: BTreeMap<String, String>,
    state: Value,
    outputs: serde_json::Map<String, Value>,
    secrets: Vec<String>,
}

impl Unchanged {
    /// Taken after a first `up`, which must have made everything.
    async fn after_up(t: &TestContext, env: &str) -> Self {
        let swept = t.sweep_all(env).await;
        assert_full_sweep(env, &swept);
        let prints = fingerprint(t, env).await;
        assert!(
            prints.values().all(|v| v != "missing"),
            "first up left resources missing: {prints:#?}"
        );
        Self {
            swept,
            prints,
            state: t.state()["resources"].clone(),
            outputs: t.outputs(),
            secrets: secret_texts(t, env).await,
        }
    }

    async fn assert_still(&self, t: &TestContext, env: &str, what: &str) {
        assert_eq!(
            t.sweep_all(env).await,
            self.swept,
            "{what} duplicated or lost resources"
        );
        assert_same(&self.prints, &fingerprint(t, env).await, what);
        assert_eq!(t.state()["resources"], self.state, "{what}: state changed");
        assert_eq!(t.outputs(), self.outputs, "{what}: outputs changed");
        assert!(
            secret_texts(t, env).await == self.secrets,
            "{what}: a secret value changed"
        );
    }
}

#[tokio::test]
async fn second_up_creates_nothing_and_rotates_nothing() {
    let t = TestContext::new("twice").await;
    t.run_ok(&["up"]);
    let env = t.env.clone();
    let before = Unchanged::after_up(&t, &env).await;

    // plan agrees that there is nothing to do.
    assert_no_changes(&t, &env);

    let out = t.run_ok(&["up", "--output", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout).expect("json report");
    let changed: Vec<String> = report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| s["action"] != "unchanged")
        .map(|s| s.to_string())
        .collect();
    assert!(changed.is_empty(), "second up changed: {changed:#?}");
    before.assert_still(&t, &env, "second up").await;

    // Quiet (here from its variable): only errors on stderr, and a run without any is silent.
    let quiet = t.medtech_with(&["up", "--env", &env], &[("MEDTECH_QUIET", "1")]);
    assert!(quiet.status.success(), "{}", stderr(&quiet));
    assert_eq!(stderr(&quiet), "", "up -q printed on stderr");
}

#[tokio::test]
async fn up_without_state_adopts_every_service_and_rotates_nothing() {
    let t = TestContext::new("adopt").await;
    t.run_ok(&["up"]);
    let env = t.env.clone();
    let before = Unchanged::after_up(&t, &env).await;

    // The state file is lost: everything must be found by tag or deterministic name, and the
    // secrets (which cannot be regenerated without breaking RDS and Redis clients) kept.
    std::fs::remove_file(t.state_file()).unwrap();
    let _ = std::fs::remove_file(t.path(&format!("state/{env}.json.bak")));
    t.run_ok(&["up"]);
    before.assert_still(&t, &env, "up without state").await;
}

/// The kinds a full stack must show in `sweep_all`, with how many of each at least.
pub(crate) fn assert_full_sweep(env: &str, swept: &Swept) {
    let expected: &[(&str, usize)] = &[
        ("vpc", 1),
        ("subnet", 4),
        ("internet_gateway", 1),
        ("elastic_ip", 1),
        ("nat_gateway", 1),
        ("route_table", 2),
        ("security_group", 2),
        ("kms_alias", 1),
        ("kms_key", 1),
        ("log_group", 2),
        ("kinesis_stream", 1),
        ("secret", 2),
        ("db_instance", 1),
        ("db_parameter_group", 1),
        ("db_subnet_group", 1),
        ("replication_group", 1),
        ("cache_cluster", 2),
        ("cache_subnet_group", 1),
        ("iam_role", 4),
        ("iam_policy", 2),
        ("sns_topic", 1),
        ("alarm", 6),
        ("vpc_endpoint", 3),
        ("flow_log", 1),
    ];
    let short: Vec<String> = expected
        .iter()
        .filter(|(kind, n)| swept.get(kind).map_or(0, Vec::len) < *n)
        .map(|(kind, n)| format!("{kind}: want ≥ {n}, found {:?}", swept.get(kind)))
        .collect();
    assert!(
        short.is_empty(),
        "{env}: the stack is incomplete:\n{}",
        short.join("\n")
    );
}

#[tokio::test]
async fn two_environments_in_one_account_do_not_touch_each_other() {
    let t = TestContext::new("alpha").await;
    t.run_ok(&["up"]);
    let alpha = Unchanged::after_up(&t, "alpha").await;

    let up = t.medtech(&[
        "up",
        "--env",
        "bravo",
        "--vpc-cidr",
        "10.1.0.0/16",
        "--outputs-file",
        "bravo.json",
    ]);
    assert!(up.status.success(), "up bravo: {}", tail(&stderr(&up), 40));
    let bravo_swept = t.sweep_all("bravo").await;
    assert_full_sweep("bravo", &bravo_swept);
    // Nothing is shared: no id appears in both environments.
    let alpha_ids: BTreeSet<&String> = alpha.swept.values().flatten().collect();
    let shared: Vec<&String> = bravo_swept
        .values()
        .flatten()
        .filter(|id| alpha_ids.contains(id))
        .collect();
    assert!(shared.is_empty(), "shared between environments: {shared:?}");
    alpha.assert_still(&t, "alpha", "up bravo").await;

    // The default outputs file is alpha's: destroying bravo leaves it, and bravo's own file
    // goes with bravo.
    destroy_everything(&t, "bravo").await;
    alpha.assert_still(&t, "alpha", "destroy bravo").await;
    assert_verify_passes(&t, "alpha");
    assert_eq!(t.outputs()["environment"], "alpha");
    assert!(t.path("bravo.json").exists());
    let mut args = DESTROY_NOW.to_vec();
    args.extend(["--env", "bravo", "--outputs-file", "bravo.json"]);
    let again = t.medtech(&args);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        !t.path("bravo.json").exists(),
        "bravo's outputs outlived it"
    );
}
