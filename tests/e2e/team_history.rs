//! `medtech state history` and `state show --version` (issue 12): the versions of an
//! environment's S3 state object, who wrote each, and any one version's state.

use serde_json::Value;

use crate::common::sent;
use crate::common::*;

/// Two `up`s that write state: the history lists their versions newest first, each named by
/// the run's command, host and lock id as the emulator holds them; any version, however old,
/// is shown as GetObject returns it; a version written by hand is told apart.
#[tokio::test]
async fn history_names_each_version_s_run_newest_first_and_show_prints_any_version() {
    let t = TestContext::new("hist").await;
    let bucket = t.state_bucket().await;
    let backend = format!("s3://{bucket}/teams");
    let key = format!("teams/{}.json", t.env);
    let with = [("MEDTECH_STATE_BACKEND", backend.as_str())];
    let up = ["up", "--env", t.env.as_str()];
    let out = t.medtech_with(&up, &with);
    assert!(out.status.success(), "{}", stderr(&out));
    // A second `up` writes state only when a record changes: a flow log deleted by hand is
    // made again, under a new id.
    let got = sent!(t.s3.get_object().bucket(&bucket).key(&key));
    let body = got.body.collect().await.expect("body").into_bytes();
    let state: Value = serde_json::from_slice(&body).expect("state JSON");
    let flow_log = state["resources"]["flow-logs"]["id"]
        .as_str()
        .expect("flow log id");
    sent!(t.ec2.delete_flow_logs().flow_log_ids(flow_log));
    let out = t.medtech_with(&up, &with);
    assert!(out.status.success(), "{}", stderr(&out));

    let listed = sent!(t.s3.list_object_versions().bucket(&bucket).prefix(&key));
    let ids: Vec<&str> = listed
        .versions()
        .iter()
        .filter_map(|v| v.version_id())
        .collect();
    assert!(ids.len() >= 2, "{listed:?}");
    let current = sent!(t.s3.head_object().bucket(&bucket).key(&key));

    let out = t.medtech_with(
        &["state", "history", "--env", &t.env, "--output", "json"],
        &with,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let history: Value = serde_json::from_slice(&out.stdout).expect("history JSON");
    let history = history.as_array().expect("an array");
    let shown: Vec<&str> = history
        .iter()
        .map(|v| v["version_id"].as_str().expect("version_id"))
        .collect();
    assert_eq!(
        shown,
        ids[..ids.len().min(20)],
        "the newest 20, in S3's order"
    );
    assert_eq!(Some(shown[0]), current.version_id(), "newest first");
    assert_eq!(history[0]["latest"], true);
    let times: Vec<_> = history
        .iter()
        .map(|v| chrono::DateTime::parse_from_rfc3339(v["time"].as_str().expect("time")).unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "not newest first: {times:?}"
    );
    let host = hostname::get().unwrap().to_string_lossy().into_owned();
    let mut lock_ids = std::collections::BTreeSet::new();
    for version in history {
        let id = version["version_id"].as_str().unwrap();
        let head = sent!(t.s3.head_object().bucket(&bucket).key(&key).version_id(id));
        let labels = head.metadata().expect("labels");
        let by = &version["written_by"];
        assert_eq!(by["command"], "up", "{version}");
        assert_eq!(by["host"], host.as_str(), "{version}");
        assert_eq!(
            by["lock_id"].as_str(),
            labels.get("medtech-lock-id").map(String::as_str),
            "{version}"
        );
        lock_ids.insert(by["lock_id"].as_str().unwrap().to_owned());
    }
    if ids.len() > 20 {
        let note = format!("({} older versions not shown)", ids.len() - 20);
        assert!(stderr(&out).contains(&note), "{}", stderr(&out));
    } else {
        assert_eq!(lock_ids.len(), 2, "one lock id a run: {lock_ids:?}");
    }

    // The oldest version, whether listed or not, as S3 holds it.
    let oldest = ids[ids.len() - 1];
    let out = t.medtech_with(
        &["state", "show", "--env", &t.env, "--version", oldest],
        &with,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let shown: Value = serde_json::from_slice(&out.stdout).expect("state JSON");
    let got = sent!(
        t.s3.get_object()
            .bucket(&bucket)
            .key(&key)
            .version_id(oldest)
    );
    let body = got.body.collect().await.expect("body").into_bytes();
    let stored: Value = serde_json::from_slice(&body).expect("stored JSON");
    assert_eq!(shown, stored);
    let out = t.medtech_with(&["state", "show", "--env", &t.env], &with);
    let latest: Value = serde_json::from_slice(&out.stdout).expect("state JSON");
    assert_ne!(shown, latest, "the oldest version is the current one");

    // A version written by hand: first, and named as such.
    sent!(
        t.s3.put_object()
            .bucket(&bucket)
            .key(&key)
            .body(body.to_vec().into())
    );
    let out = t.medtech_with(&["state", "history", "--env", &t.env], &with);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("TIME (UTC)"), "{text}");
    assert!(
        lines[1].contains("(current)") && lines[1].contains("written outside medtech"),
        "{text}"
    );
    let row: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(row[3..5], ["up", host.as_str()], "{text}");
    assert_eq!(lines.len(), 21.min(ids.len() + 2), "{text}");
}

/// A version id the object does not have, and a backend that keeps no versions, are bad
/// input: one line, exit 2, saying where to look.
#[tokio::test]
async fn an_unknown_version_and_the_local_backend_are_refused_in_one_line() {
    let t = TestContext::new("histbad").await;
    let bucket = t.state_bucket().await;
    let backend = format!("s3://{bucket}");
    let key = format!("{}.json", t.env);
    let state = serde_json::json!({
        "schema_version": 1,
        "environment": t.env,
        "region": REGION,
        "account_id": "123456789012",
        "updated_at": "2025-01-01T00:00:00Z",
        "resources": {}
    });
    let put = sent!(
        t.s3.put_object()
            .bucket(&bucket)
            .key(&key)
            .body(state.to_string().into_bytes().into())
    );
    let real = put.version_id().expect("a version id").to_owned();
    let with = [("MEDTECH_STATE_BACKEND", backend.as_str())];
    let out = t.medtech_with(
        &["state", "show", "--env", &t.env, "--version", &real],
        &with,
    );
    assert!(out.status.success(), "{}", stderr(&out));

    for unknown in [
        "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo",
        "null",
    ] {
        let out = t.medtech_with(
            &["state", "show", "--env", &t.env, "--version", unknown],
            &with,
        );
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let said = stderr(&out);
        assert_eq!(said.trim().lines().count(), 1, "{said}");
        assert!(
            said.contains("--version") && said.contains("medtech state history"),
            "{said}"
        );
    }

    // After a delete, the marker is listed first, and holds no state.
    sent!(t.s3.delete_object().bucket(&bucket).key(&key));
    let listed = sent!(t.s3.list_object_versions().bucket(&bucket).prefix(&key));
    let marker = listed.delete_markers()[0].version_id().expect("marker id");
    let out = t.medtech_with(
        &["state", "history", "--env", &t.env, "--output", "json"],
        &with,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let history: Value = serde_json::from_slice(&out.stdout).expect("history JSON");
    assert_eq!(history[0]["version_id"], marker, "{history}");
    assert_eq!(history[0]["deleted"], true, "{history}");
    assert_eq!(history[1]["version_id"], real.as_str(), "{history}");
    assert_eq!(history[1]["written_by"], Value::Null, "{history}");
    let out = t.medtech_with(
        &["state", "show", "--env", &t.env, "--version", marker],
        &with,
    );
    // S3 answers 405 with x-amz-delete-marker (told apart as "was deleted"); moto 5.2.5 as
    // for an unknown version: either way one line naming --version.
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let said = stderr(&out);
    assert_eq!(said.trim().lines().count(), 1, "{said}");
    assert!(said.contains("--version"), "{said}");

    for args in [
        &["state", "history", "--env", &t.env][..],
        &["state", "show", "--env", &t.env, "--version", &real][..],
    ] {
        let out = t.medtech(args);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let said = stderr(&out);
        assert_eq!(said.trim().lines().count(), 1, "{said}");
        assert!(
            said.contains("--state-backend") && said.contains("only the S3 backend keeps versions"),
            "{said}"
        );
    }
}
