//! Team state (issue 12) through the emulator's fault layer: S3 loses the answers to the lock's
//! and the state's writes (applied, but medtech sees a 500), throttles (`SlowDown`) and fails
//! (`InternalError`). A run must recognise its own lost writes instead of taking them for
//! someone else's, finish with a state object that holds every resource, and leave no lock.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::common::sent;
use crate::common::*;

/// `up` on the S3 backend `s3://BUCKET/team` at `time_scale`; it must succeed.
fn up(t: &TestContext, bucket: &str, time_scale: &str) -> String {
    let backend = format!("s3://{bucket}/team");
    let out = t.medtech_with(
        &["up", "--env", &t.env],
        &[
            ("MEDTECH_STATE_BACKEND", backend.as_str()),
            ("MEDTECH_TIME_SCALE", time_scale),
        ],
    );
    let said = stderr(&out);
    assert!(
        out.status.success(),
        "up failed with {}\n{said}\nemulator log tail:\n{}",
        out.status,
        tail(&t.emulator.log(), 40)
    );
    assert!(
        !said.contains("someone else wrote"),
        "a lost answer was taken for a foreign write: {said}"
    );
    said
}

/// Every resource of the stack (`medtech graph`) has its id in the state object, and the run
/// left no lock behind. Returns the lock id the state's last version was written under.
async fn assert_complete_and_unlocked(t: &TestContext, bucket: &str) -> String {
    let graph: Value = serde_json::from_slice(&t.run_ok(&["graph", "--output", "json"]).stdout)
        .expect("graph JSON");
    let stack: BTreeSet<&str> = graph["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["name"].as_str().expect("node name"))
        .collect();
    let key = format!("team/{}.json", t.env);
    let got = sent!(t.s3.get_object().bucket(bucket).key(&key));
    let lock_id = got
        .metadata()
        .and_then(|m| m.get("medtech-lock-id"))
        .cloned()
        .expect("the state's version names its lock id");
    let body = got.body.collect().await.expect("state body").into_bytes();
    let state: Value = serde_json::from_slice(&body).expect("state JSON");
    let resources = state["resources"].as_object().expect("resources");
    let recorded: BTreeSet<&str> = resources
        .iter()
        .filter(|(_, r)| r["id"].as_str().is_some_and(|id| !id.is_empty()))
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(
        recorded, stack,
        "the state object does not hold every resource"
    );
    assert!(
        !t.s3_lock_exists(bucket, "team").await,
        "the lock outlived its run"
    );
    lock_id
}

/// The lock ids in every version of the lock object: the acquire, then each renewal.
async fn lock_versions(t: &TestContext, bucket: &str) -> Vec<String> {
    let key = format!("team/{}.lock", t.env);
    let listed = sent!(t.s3.list_object_versions().bucket(bucket).prefix(&key));
    let mut ids = Vec::new();
    for version in listed.versions() {
        let got = sent!(
            t.s3.get_object()
                .bucket(bucket)
                .key(&key)
                .version_id(version.version_id().expect("a version id"))
        );
        let body = got.body.collect().await.expect("lock body").into_bytes();
        let lock: Value = serde_json::from_slice(&body).expect("lock JSON");
        ids.push(lock["lock_id"].as_str().expect("lock_id").to_owned());
    }
    ids
}

fn faults(t: &TestContext, operation: &str, kind: &str) -> u64 {
    t.emulator_stats()["operations"][operation]["faults"][kind]
        .as_u64()
        .unwrap_or(0)
}

/// The first answer to every write of each S3 object is lost: the lock's acquire (its retry
/// meets 412, the key taken by the lost write), the first renewal, every other state write
/// (the retry meets 412 on an ETag the lost write changed), and the release's delete. Each
/// must be recognised as this run's own.
#[tokio::test(flavor = "multi_thread")]
async fn lost_answers_to_lock_and_state_writes_are_recognised_as_the_runs_own() {
    // RDS takes 4.5 s here, so the lease (3 s, medtech's shortest, renewed every second) is
    // renewed a few times during the run, and those renewals lose answers too.
    let t = TestContext::with_behaviour(
        "lostput",
        json!({
            "time_scale": 0.005,
            "seed": 5,
            "fault_rate": 1.0,
            "faults": ["lost_response"],
            "fault_operations": ["s3:PutObject", "s3:DeleteObject"],
            "max_consecutive_faults": 1,
        }),
    )
    .await;
    let bucket = t.state_bucket().await;
    up(&t, &bucket, "0.005");

    let lock_id = assert_complete_and_unlocked(&t, &bucket).await;
    // One lock throughout: the acquire whose answer was lost, and every renewal, wrote the
    // lock id the state was written under; no second acquire took a new one.
    let versions = lock_versions(&t, &bucket).await;
    assert!(
        versions.len() >= 3,
        "expected the acquire and at least two renewals, found {} lock versions",
        versions.len()
    );
    assert!(
        versions.iter().all(|id| *id == lock_id),
        "lock ids {versions:?}, state written under {lock_id}"
    );
    // The first write of each key always loses its answer (rate 1, one fault in a row).
    assert!(
        faults(&t, "s3:PutObject", "lost_response") >= 4,
        "{}",
        t.emulator_stats()["operations"]
    );
    assert!(faults(&t, "s3:DeleteObject", "lost_response") >= 1);
}

/// S3 throttles (503 `SlowDown`) and fails (500 `InternalError`, not applied) a third of the
/// backend's calls, up to two in a row: the SDK's retries absorb them.
#[tokio::test(flavor = "multi_thread")]
async fn s3_throttles_and_server_errors_are_retried() {
    let t = TestContext::with_behaviour(
        "slowdown",
        json!({
            "seed": 12,
            "fault_rate": 0.33,
            "faults": ["throttle", "server_error"],
            "fault_operations": ["s3:*"],
            "max_consecutive_faults": 2,
        }),
    )
    .await;
    let bucket = t.state_bucket().await;
    up(&t, &bucket, "0.01");
    assert_complete_and_unlocked(&t, &bucket).await;
    let operations = t.emulator_stats()["operations"].clone();
    let injected = |kind: &str| -> u64 {
        operations
            .as_object()
            .expect("operations")
            .iter()
            .filter(|(op, _)| op.starts_with("s3:"))
            .map(|(_, entry)| entry["faults"][kind].as_u64().unwrap_or(0))
            .sum()
    };
    assert!(
        injected("throttle") > 0 && injected("server_error") > 0,
        "{operations}"
    );
}

/// `up` reads the state in the same round trip as the lock's conditional write, before the
/// lock is its own. A write that lands between that read and the lock (here a valid state
/// written by hand while S3 answers slowly; in life, a run that had just finished) must stop
/// the run before it changes anything in AWS: exit 3, nothing made, the lock given back.
#[tokio::test(flavor = "multi_thread")]
async fn a_state_written_between_the_early_read_and_the_lock_stops_up_before_any_change() {
    let t = TestContext::with_behaviour("earlyread", json!({"service_latency": {"s3": 1.5}})).await;
    let bucket = t.state_bucket().await;
    let backend = format!("s3://{bucket}/team");
    let run = t
        .command(
            t.dir.path(),
            &["up", "--env", &t.env],
            &[("MEDTECH_STATE_BACKEND", backend.as_str())],
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start medtech");
    // Sent once the run's read is on its way (S3 answers each call after 1.5 s), so S3 handles
    // it after the read and before the check that follows the lock: timed from the emulator's
    // sight of the read, not from a guess at how long the run takes to start.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while t.emulator_stats()["waiting"]["s3:GetObject"].as_u64() != Some(1) {
        assert!(
            std::time::Instant::now() < deadline,
            "the run never read its state"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let written = json!({
        "schema_version": 2,
        "environment": t.env,
        "region": REGION,
        "account_id": "123456789012",
        "updated_at": "2026-12-01T00:00:00Z",
        "resources": {},
    });
    sent!(
        t.s3.put_object()
            .bucket(&bucket)
            .key(format!("team/{}.json", t.env))
            .body(written.to_string().into_bytes().into())
    );
    let out = run.wait_with_output().expect("medtech ran");
    let said = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{said}");
    assert!(
        said.contains("changed as this run took the lock")
            && said.contains("run the command again"),
        "{said}"
    );
    assert!(
        t.sweep_all(&t.env).await.values().all(Vec::is_empty),
        "the run changed AWS after a stale read"
    );
    assert!(
        !t.s3_lock_exists(&bucket, "team").await,
        "the lock was left behind"
    );
}

/// A state object that is not medtech state (edited by hand) stops `up` with exit 3 and a
/// line naming the object, and the run gives the lock back rather than leaving it to expire.
#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_state_object_stops_up_and_the_lock_is_given_back() {
    let t = TestContext::new("badstate").await;
    let bucket = t.state_bucket().await;
    let backend = format!("s3://{bucket}/team");
    sent!(
        t.s3.put_object()
            .bucket(&bucket)
            .key(format!("team/{}.json", t.env))
            .body(b"{ not json".to_vec().into())
    );
    let out = t.medtech_with(
        &["up", "--env", &t.env],
        &[("MEDTECH_STATE_BACKEND", backend.as_str())],
    );
    let said = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{said}");
    assert!(said.contains(&format!("team/{}.json", t.env)), "{said}");
    assert!(
        !t.s3_lock_exists(&bucket, "team").await,
        "the lock was left behind: {said}"
    );
    assert!(
        t.sweep_all(&t.env).await.values().all(Vec::is_empty),
        "the run changed AWS"
    );
}
