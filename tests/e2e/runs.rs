//! The runs of the binary that many tests make and read the same way: `verify`'s failed
//! checks, `plan`'s changes and verdict, and a `destroy` of everything.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::common::{TestContext, stderr, stdout};

/// `destroy` of everything at once: no final snapshot, secrets deleted without recovery.
pub(crate) const DESTROY_NOW: [&str; 4] = [
    "destroy",
    "--yes",
    "--skip-final-snapshot",
    "--force-delete-secrets",
];

/// `verify --format json` of `env`: its exit code and its report.
pub(crate) fn verify_report(t: &TestContext, env: &str) -> (Option<i32>, Value) {
    let out = t.medtech(&["verify", "--env", env, "--format", "json"]);
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("verify JSON: {e}: {}", stderr(&out)));
    (out.status.code(), report)
}

/// The checks of a `verify` report.
pub(crate) fn checks(report: &Value) -> impl Iterator<Item = &Value> {
    report["checks"].as_array().expect("checks").iter()
}

/// The check `id` of a `verify` report.
pub(crate) fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    checks(report)
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {report}"))
}

/// The checks of a `verify` report whose id ends with `.property`.
pub(crate) fn checks_of<'a>(report: &'a Value, property: &str) -> Vec<&'a Value> {
    let suffix = format!(".{property}");
    checks(report)
        .filter(|c| c["id"].as_str().is_some_and(|id| id.ends_with(&suffix)))
        .collect()
}

/// The checks of a `verify` report that failed.
pub(crate) fn failed(report: &Value) -> impl Iterator<Item = &Value> {
    checks(report).filter(|c| c["passed"] == Value::Bool(false))
}

/// The ids of the checks `verify` reports as failed (exit code asserted); each once.
pub(crate) fn failed_checks(t: &TestContext, expect_code: i32) -> BTreeSet<String> {
    let (code, report) = verify_report(t, &t.env);
    assert_eq!(code, Some(expect_code), "verify: {report}");
    let ids: Vec<String> = failed(&report)
        .map(|c| c["id"].as_str().expect("id").to_owned())
        .collect();
    let unique: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(unique.len(), ids.len(), "a check failed twice: {ids:?}");
    unique
}

/// Asserts that `verify` of `env` passes.
pub(crate) fn assert_verify_passes(t: &TestContext, env: &str) {
    let out = t.medtech(&["verify", "--env", env, "--output", "json"]);
    assert!(
        out.status.success(),
        "verify failed ({}):\n{}\n{}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
}

/// Asserts that `plan --detailed-exitcode` of `env` sees nothing to do (exit 0).
pub(crate) fn assert_no_changes(t: &TestContext, env: &str) {
    let plan = t.medtech(&["plan", "--env", env, "--detailed-exitcode"]);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "plan wants changes:\n{}{}",
        stdout(&plan),
        stderr(&plan)
    );
}

/// The `resource.property` pairs `plan --output json` would change (exit code 2 asserted).
pub(crate) fn planned_changes(t: &TestContext) -> BTreeSet<String> {
    let out = t.medtech(&[
        "plan",
        "--env",
        &t.env,
        "--detailed-exitcode",
        "--output",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(2), "plan: {}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("plan JSON");
    let mut changes = BTreeSet::new();
    for step in report["steps"].as_array().expect("steps") {
        let resource = step["resource"].as_str().unwrap_or_default();
        match step["action"].as_str() {
            Some("create") => {
                changes.insert(format!("{resource}.exists"));
            }
            Some("update") => {
                for change in step["changes"].as_array().expect("changes") {
                    changes.insert(format!(
                        "{resource}.{}",
                        change["property"].as_str().unwrap_or_default()
                    ));
                }
            }
            _ => {}
        }
    }
    changes
}

/// Runs [`DESTROY_NOW`] on `env` and asserts that nothing of it is left in any service.
pub(crate) async fn destroy_everything(t: &TestContext, env: &str) {
    let mut args = DESTROY_NOW.to_vec();
    args.extend(["--env", env]);
    let out = t.medtech(&args);
    assert!(
        out.status.success(),
        "destroy {env}: {}",
        crate::common::tail(&stderr(&out), 40)
    );
    t.assert_nothing_left(env).await;
}
