//! The documentation stays true: every check `verify` runs is listed in
//! docs/hipaa-controls.md.

use crate::common::TestContext;
use crate::runs::checks;
use serde_json::Value;

#[tokio::test]
async fn every_check_is_documented() {
    let t = TestContext::new("docs").await;
    t.run_ok(&["up"]);
    let report: Value =
        serde_json::from_slice(&t.run_ok(&["verify", "--format", "json"]).stdout).unwrap();
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/hipaa-controls.md"
    ))
    .unwrap();
    let missing: Vec<&str> = checks(&report)
        .map(|c| c["id"].as_str().unwrap())
        .filter(|id| !doc.contains(&format!("`{id}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "not in docs/hipaa-controls.md: {missing:?}"
    );
}
