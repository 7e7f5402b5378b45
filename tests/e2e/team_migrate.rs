//! `medtech state migrate` (issue 12): an environment's state moved between the local backend
//! and S3, in both directions, with the copy checked and nothing overwritten.

use serde_json::Value;

use crate::common::sent;
use crate::common::*;

async fn object(t: &TestContext, bucket: &str, key: &str) -> Option<Vec<u8>> {
    let got =
        t.s3.get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .ok()?;
    Some(got.body.collect().await.expect("body").to_vec())
}

/// After `up` with local state: migrate to S3 moves it there whole (the file goes), `outputs`
/// reads the same from S3, and migrate back restores the file and leaves the object's
/// versions behind a delete marker.
#[tokio::test]
async fn state_moves_to_s3_and_back_whole() {
    let t = TestContext::new("migr").await;
    let bucket = t.state_bucket().await;
    let backend = format!("s3://{bucket}/moved");
    let key = format!("moved/{}.json", t.env);
    t.run_ok(&["up"]);
    let before = t.state();
    let count = before["resources"].as_object().expect("resources").len();
    let outputs = t.run_ok(&["outputs"]).stdout;

    let out = t.medtech(&["state", "migrate", "--env", &t.env, "--to", &backend]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "moved state of {env} from state/{env}.json to s3://{bucket}/{key} ({count} resources)",
            env = t.env
        )),
        "{}",
        stderr(&out)
    );
    assert!(!t.state_file().exists(), "the local file is still there");
    assert!(!t.path(&format!("state/{}.json.bak", t.env)).exists());
    let moved: Value =
        serde_json::from_slice(&object(&t, &bucket, &key).await.expect("the state object"))
            .expect("state JSON");
    assert_eq!(moved, before);
    let head = sent!(t.s3.head_object().bucket(&bucket).key(&key));
    assert_eq!(
        head.metadata().and_then(|m| m.get("medtech-command")),
        Some(&"state migrate".to_owned())
    );
    assert!(
        !t.s3_lock_exists(&bucket, "moved").await,
        "the S3 lock outlived the migrate"
    );

    let from_s3 = t.medtech(&["outputs", "--env", &t.env, "--state-backend", &backend]);
    assert!(from_s3.status.success(), "{}", stderr(&from_s3));
    assert_eq!(stdout(&from_s3), String::from_utf8_lossy(&outputs));

    let out = t.medtech(&[
        "state",
        "migrate",
        "--env",
        &t.env,
        "--to",
        "local",
        "--state-backend",
        &backend,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(t.state(), before);
    assert!(
        object(&t, &bucket, &key).await.is_none(),
        "the object is still current"
    );
    let listed = sent!(t.s3.list_object_versions().bucket(&bucket).prefix(&key));
    let markers = listed.delete_markers();
    assert_eq!(markers.len(), 1, "{listed:?}");
    assert_eq!(markers[0].is_latest(), Some(true), "{listed:?}");
    assert_eq!(
        listed.versions().len(),
        1,
        "the copy's version was not kept"
    );

    let out = t.medtech(&[
        "state",
        "history",
        "--env",
        &t.env,
        "--state-backend",
        &backend,
        "--output",
        "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let history: Value = serde_json::from_slice(&out.stdout).expect("history JSON");
    assert_eq!(history[0]["deleted"], true, "{history}");
    assert_eq!(
        history[1]["written_by"]["command"], "state migrate",
        "{history}"
    );
}

/// A target that holds state already is never overwritten (exit 3, both left as they were,
/// the message saying how to finish); moving to where the state is, or moving no state, is
/// bad input.
#[tokio::test]
async fn a_target_holding_state_is_refused_and_nothing_changes() {
    let t = TestContext::new("migrbad").await;
    let bucket = t.state_bucket().await;
    let backend = format!("s3://{bucket}");
    let key = format!("{}.json", t.env);
    let state = |vpc: &str| {
        let mut text = serde_json::to_string_pretty(&serde_json::json!({
            "schema_version": 1,
            "environment": t.env,
            "region": REGION,
            "account_id": "123456789012",
            "updated_at": "2025-01-01T00:00:00Z",
            "resources": {"vpc": {"id": vpc}}
        }))
        .unwrap();
        text.push('\n');
        text
    };
    std::fs::create_dir_all(t.path("state")).unwrap();
    std::fs::write(t.state_file(), state("vpc-local")).unwrap();
    let migrate = |args: &[&str]| {
        let mut all = vec!["state", "migrate", "--env", t.env.as_str()];
        all.extend_from_slice(args);
        t.medtech(&all)
    };

    for (there, said) in [
        (state("vpc-other"), "not the one in state/"),
        (
            state("vpc-local"),
            "an earlier migrate stopped before removing",
        ),
    ] {
        let put = sent!(
            t.s3.put_object()
                .bucket(&bucket)
                .key(&key)
                .body(there.clone().into_bytes().into())
        );
        let out = migrate(&["--to", &backend]);
        assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
        let told = stderr(&out);
        assert_eq!(told.trim().lines().count(), 1, "{told}");
        assert!(
            told.contains("already holds") && told.contains(said) && told.contains("by hand"),
            "{told}"
        );
        assert!(told.contains(&format!("rm state/{}.json", t.env)), "{told}");
        assert_eq!(
            std::fs::read_to_string(t.state_file()).unwrap(),
            state("vpc-local")
        );
        let head = sent!(t.s3.head_object().bucket(&bucket).key(&key));
        assert_eq!(
            head.version_id(),
            put.version_id(),
            "the object was written"
        );
        assert_eq!(object(&t, &bucket, &key).await.unwrap(), there.into_bytes());
    }
    assert!(
        !t.s3_lock_exists(&bucket, "").await,
        "the S3 lock outlived the migrate"
    );

    for (args, field) in [
        (&["--to", "local"][..], "--to \"local\""),
        (&["--to", &backend, "--state-backend", &backend][..], "--to"),
        (&["--to", "s3:/nowhere"][..], "--to \"s3:/nowhere\""),
        (&["--to", &backend, "--state-dir", "elsewhere"][..], "--env"),
    ] {
        let out = migrate(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let told = stderr(&out);
        assert_eq!(told.trim().lines().count(), 1, "{told}");
        assert!(told.contains(field), "{args:?}: {told}");
    }
}
