//! Team state (issue 12): the environment's state as an S3 object, locked with a conditional
//! write, so that CI runners and people on different machines share one environment safely.

use std::process::Stdio;

use serde_json::Value;

use crate::common::sent;
use crate::common::*;
use crate::sweep::counts;

/// The state object's body, parsed, and how many versions it has.
async fn state_object(t: &TestContext, bucket: &str, key: &str) -> (Value, usize) {
    let got = sent!(t.s3.get_object().bucket(bucket).key(key));
    let body = got.body.collect().await.expect("state body").into_bytes();
    let versions = sent!(t.s3.list_object_versions().bucket(bucket).prefix(key));
    (
        serde_json::from_slice(&body).expect("state JSON"),
        versions.versions().len(),
    )
}

/// Two `up`s of one environment at once, from two working directories (two machines): one
/// runs, the other stops at once with exit 3 naming the holder. The state is then one S3
/// object; the second machine, with no state of its own, runs from it.
#[tokio::test]
async fn two_ups_at_once_one_runs_the_other_is_told_who_holds_the_lock() {
    let t = TestContext::new("team").await;
    let bucket = t.state_bucket().await;
    let backend = format!("s3://{bucket}/medtech");
    let backend_env = [("MEDTECH_STATE_BACKEND", backend.as_str())];
    let second = tempfile::tempdir().expect("second working directory");
    let args = ["up", "--env", t.env.as_str()];
    let start = |dir: &std::path::Path| {
        t.command(dir, &args, &backend_env)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start medtech")
    };
    let (a, b) = (start(t.dir.path()), start(second.path()));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let (winner, loser) = match (a.status.code(), b.status.code()) {
        (Some(0), Some(3)) => (a, b),
        (Some(3), Some(0)) => (b, a),
        codes => panic!(
            "expected one 0 and one 3, got {codes:?}\nA: {}\nB: {}",
            stderr(&a),
            stderr(&b)
        ),
    };
    assert_eq!(
        counts(&t.sweep_all(&t.env).await),
        TestContext::reference_counts().await,
        "not exactly one of everything after two ups at once"
    );
    let told = stderr(&loser);
    assert!(
        told.contains("locked by") && told.contains("medtech up") && told.contains(&backend),
        "the run that lost must name the holder and the state: {told}"
    );
    assert!(winner.status.success());

    let key = format!("medtech/{}.json", t.env);
    let (state, versions) = state_object(&t, &bucket, &key).await;
    assert_eq!(state["environment"], t.env.as_str());
    assert!(state["resources"]["rds"]["id"].is_string(), "{state}");
    assert!(
        !t.s3_lock_exists(&bucket, "medtech").await,
        "the lock outlived its run"
    );
    for dir in [t.dir.path(), second.path()] {
        assert!(
            !dir.join("state").exists(),
            "a local state file was written"
        );
    }

    // The second machine, with no state of its own, finds everything from the shared object.
    let out = t.medtech_in(
        second.path(),
        &["up", "--env", &t.env, "--output", "json"],
        &backend_env,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("up JSON");
    assert_eq!(report["api_calls"]["mutating"], 0, "{report}");
    let (_, after) = state_object(&t, &bucket, &key).await;
    assert_eq!(
        after, versions,
        "a run that changed nothing wrote a version"
    );
}

/// A write to the state object by anyone else during a run (a broken lock, a manual edit)
/// stops the run with exit 3 at its next record, and nothing is overwritten.
#[tokio::test]
async fn a_foreign_write_during_a_run_stops_it_and_is_kept() {
    let t = TestContext::new("foreign").await;
    let bucket = t.state_bucket().await;
    let backend = format!("s3://{bucket}/teams");
    let key = format!("teams/{}.json", t.env);
    let run = t
        .command(
            t.dir.path(),
            &["up", "--env", &t.env],
            &[("MEDTECH_STATE_BACKEND", backend.as_str())],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start medtech");
    // The run's first record, then someone else's edit of it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let mut state = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the run wrote no state object in two minutes"
        );
        if let Ok(got) = t.s3.get_object().bucket(&bucket).key(&key).send().await {
            let body = got.body.collect().await.expect("body").into_bytes();
            break serde_json::from_slice::<Value>(&body).expect("state JSON");
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    state["resources"]["edited"] = serde_json::json!({"id": "by-hand"});
    let edited = serde_json::to_vec_pretty(&state).unwrap();
    sent!(
        t.s3.put_object()
            .bucket(&bucket)
            .key(&key)
            .body(edited.clone().into())
    );
    let out = run.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("someone else wrote"),
        "{}",
        stderr(&out)
    );
    let (kept, _) = state_object(&t, &bucket, &key).await;
    assert_eq!(
        kept["resources"]["edited"]["id"], "by-hand",
        "the edit was overwritten"
    );
}

/// A bucket that does not exist, or one without versioning, is refused before anything is
/// created, with one line that says what to do.
#[tokio::test]
async fn an_unusable_bucket_is_refused_in_one_line() {
    let t = TestContext::new("nobucket").await;
    let out = t.medtech_with(
        &["up", "--env", &t.env],
        &[("MEDTECH_STATE_BACKEND", "s3://medtech-no-such-bucket/x")],
    );
    assert!(matches!(out.status.code(), Some(2 | 4)), "{}", stderr(&out));
    let said = stderr(&out);
    assert_eq!(said.trim().lines().count(), 1, "{said}");
    assert!(
        said.contains("medtech-no-such-bucket") && said.contains("medtech state bootstrap"),
        "{said}"
    );

    let unversioned = format!("medtech-plain-{}", t.env);
    sent!(t.s3.create_bucket().bucket(&unversioned));
    let out = t.medtech_with(
        &["up", "--env", &t.env],
        &[("MEDTECH_STATE_BACKEND", &format!("s3://{unversioned}"))],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let said = stderr(&out);
    assert_eq!(said.trim().lines().count(), 1, "{said}");
    assert!(
        said.contains("does not keep versions") && said.contains("put-bucket-versioning"),
        "{said}"
    );
    for bucket in [&unversioned] {
        let objects = sent!(t.s3.list_objects_v2().bucket(bucket));
        assert_eq!(
            objects.key_count(),
            Some(0),
            "something was written to {bucket}"
        );
    }
    assert_eq!(
        t.ec2
            .describe_vpcs()
            .send()
            .await
            .unwrap()
            .vpcs()
            .iter()
            .filter(|v| v
                .tags()
                .iter()
                .any(|tag| tag.value() == Some(t.env.as_str())))
            .count(),
        0,
        "a refused run created resources"
    );
}

/// docs/iam-policy-state.json for `bucket` (no prefix), its resources widened to `*` as
/// `shipped_policy_for_the_emulator` does (moto checks S3 actions, not S3 resources), and
/// without the action `without`.
fn state_policy_for_the_emulator(without: Option<&str>) -> Vec<Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/iam-policy-state.json");
    let policy: Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).expect("policy JSON");
    let mut statements = policy["Statement"].as_array().unwrap().clone();
    for statement in &mut statements {
        statement["Resource"] = Value::from("*");
        if let Some(without) = without {
            statement["Action"]
                .as_array_mut()
                .unwrap()
                .retain(|a| a != without);
        }
    }
    statements
}

/// The runner's policy (docs/iam-policy.json with docs/iam-policy-state.json) runs `up` on
/// the S3 backend under the emulator's IAM enforcement; without s3:PutObject the run stops
/// with exit 4 naming the action, before it creates anything.
#[tokio::test(flavor = "multi_thread")]
async fn the_state_policy_runs_up_and_a_missing_permission_is_exit_4() {
    let t = TestContext::new("statepol").await;
    let bucket = t.state_bucket().await;
    let backend = format!("s3://{bucket}");
    let policy = |without: Option<&str>| {
        let mut policy = crate::iam::shipped_policy_for_the_emulator(None);
        policy["Statement"]
            .as_array_mut()
            .unwrap()
            .extend(state_policy_for_the_emulator(without));
        policy
    };
    let user = "medtech-runner";
    let (key_id, secret) = t.create_user_with_policy(user, &policy(None)).await;
    let env = [
        ("AWS_ACCESS_KEY_ID", key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", secret.as_str()),
        ("MEDTECH_STATE_BACKEND", backend.as_str()),
    ];
    t.set_iam_enforcement(true);
    let out = t.medtech_with(&["up", "--env", &t.env], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = t.medtech_with(&["outputs", "--env", &t.env], &env);
    assert!(out.status.success(), "{}", stderr(&out));

    t.put_user_policy(user, &policy(Some("s3:PutObject"))).await;
    let fresh = format!("{}-b", t.env);
    let out = t.medtech_with(&["up", "--env", &fresh], &env);
    t.set_iam_enforcement(false);
    let said = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{said}");
    assert_eq!(said.trim().lines().count(), 1, "{said}");
    assert!(
        said.contains("may not call s3:PutObject") && said.contains("docs/iam-policy-state.json"),
        "{said}"
    );
    let left = t.sweep(&fresh).await;
    assert!(
        left.values().all(Vec::is_empty),
        "a run without state access created {left:?}"
    );
}

/// A lock holder killed with SIGKILL leaves its lock: the next run is refused (exit 3) while
/// the lease runs, and one that waits (`--lock-timeout`) takes the lock over once the lease
/// has run out, and converges to one of everything.
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_holders_lock_blocks_until_its_lease_runs_out_then_is_taken_over() {
    use std::os::unix::process::ExitStatusExt;

    let t = TestContext::new("killed").await;
    let bucket = t.state_bucket().await;
    let backend = format!("s3://{bucket}");
    // A tenth of real time: a lease of 12 s, long enough to see the lock held after the kill.
    let env = [
        ("MEDTECH_STATE_BACKEND", backend.as_str()),
        ("MEDTECH_TIME_SCALE", "0.1"),
    ];
    let key = format!("{}.json", t.env);
    let mut child = t
        .command(t.dir.path(), &["up", "--env", &t.env], &env)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start medtech");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "up finished before it could be killed"
        );
        assert!(std::time::Instant::now() < deadline, "up recorded nothing");
        if let Ok(got) = t.s3.get_object().bucket(&bucket).key(&key).send().await {
            let body = got.body.collect().await.expect("body").into_bytes();
            let state: Value = serde_json::from_slice(&body).expect("state JSON");
            if state["resources"].as_object().is_some_and(|r| r.len() >= 5) {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));

    let blocked = t.medtech_with(&["up", "--env", &t.env], &env);
    let said = stderr(&blocked);
    assert_eq!(blocked.status.code(), Some(3), "{said}");
    assert!(
        said.contains("locked by") && said.contains("lock id") && said.contains("medtech up"),
        "{said}"
    );

    let waited = t.medtech_with(&["up", "--env", &t.env, "--lock-timeout", "60s"], &env);
    let said = stderr(&waited);
    assert!(waited.status.success(), "{said}");
    assert!(
        said.contains("took over a lock whose lease had run out"),
        "{said}"
    );
    assert_eq!(
        counts(&t.sweep_all(&t.env).await),
        TestContext::reference_counts().await,
        "not exactly one of everything after the takeover"
    );
    assert!(
        !t.s3_lock_exists(&bucket, "").await,
        "the lock outlived the run that took it over"
    );
}

/// `destroy` on the S3 backend deletes the state object at the end and keeps its versions (a
/// delete marker on top); a second `destroy` is calm, and leaves no lock behind.
#[tokio::test]
async fn destroy_deletes_the_state_object_and_keeps_its_versions() {
    let t = TestContext::new("s3down").await;
    let bucket = t.state_bucket().await;
    let backend = format!("s3://{bucket}/teams");
    let env = [("MEDTECH_STATE_BACKEND", backend.as_str())];
    let key = format!("teams/{}.json", t.env);
    // The backend wins over a --state-dir given beside it: nothing is written there.
    let out = t.medtech_with(&["up", "--env", &t.env, "--state-dir", "local"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, mut versions) = state_object(&t, &bucket, &key).await;
    for local in [t.path("local"), t.state_file()] {
        assert!(
            !local.exists(),
            "{} written beside the S3 state",
            local.display()
        );
    }

    for round in 0..2 {
        let mut args = crate::runs::DESTROY_NOW.to_vec();
        args.extend(["--env", t.env.as_str()]);
        let out = t.medtech_with(&args, &env);
        assert!(out.status.success(), "destroy {round}: {}", stderr(&out));
        let current = t.s3.get_object().bucket(&bucket).key(&key).send().await;
        assert!(current.is_err(), "destroy {round} left the state object");
        let listed = sent!(t.s3.list_object_versions().bucket(&bucket).prefix(&key));
        // The first destroy records each deletion; the second finds nothing to record.
        let now = listed.versions().len();
        if round == 0 {
            assert!(now > versions, "destroy recorded nothing: {now} versions");
        } else {
            assert_eq!(now, versions, "a destroy of nothing wrote state");
        }
        versions = now;
        assert_eq!(
            listed.delete_markers().len(),
            1,
            "destroy {round}: one delete marker on top of the versions"
        );
        assert!(
            !t.s3_lock_exists(&bucket, "teams").await,
            "destroy {round} left its lock"
        );
    }
    t.assert_nothing_left(&t.env).await;
}
