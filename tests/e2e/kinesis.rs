//! The Kinesis stream: its settings read back, its tags read across pages, shard changes
//! within Kinesis's limits, and a retention kept shorter than a week on purpose.

use std::collections::BTreeMap;

use crate::common::sent;
use crate::common::{TestContext, stderr};
use crate::lookup::{assert_tags, is_key, stack_key, stream_summary, write_user_config};
use crate::runs::{assert_no_changes, assert_verify_passes, check, failed_checks, verify_report};
use crate::sweep::TagSource;

pub(crate) async fn check_kinesis(t: &TestContext, env: &str) {
    let key = stack_key(t, env).await;
    let s = stream_summary(t, env).await;
    assert_eq!(s.stream_status().as_str(), "ACTIVE");
    assert_eq!(
        s.stream_mode_details().map(|m| m.stream_mode().as_str()),
        Some("PROVISIONED")
    );
    assert_eq!(s.open_shard_count(), 2, "shards (default 2)");
    assert_eq!(
        s.retention_period_hours(),
        168,
        "retention hours (default 168)"
    );
    assert_eq!(s.encryption_type().map(|x| x.as_str()), Some("KMS"));
    assert!(is_key(s.key_id(), &key, env), "stream key {:?}", s.key_id());
    let name = format!("medtech-kinesis-{env}");
    let tags = t.tags_of(&TagSource::KinesisStream(name.clone())).await;
    assert_tags("kinesis", &tags, env, Some(&name));
}

/// Kinesis pages `ListTagsForStream` (10 tags by default): a stream with more tags than one
/// page must still read as fully tagged, so `plan` sees nothing to do and `verify` passes.
#[tokio::test]
async fn kinesis_stream_with_more_tags_than_one_page_is_not_drift() {
    let t = TestContext::new("ktags").await;
    let user: String = (0..11)
        .map(|i| format!("Team{i:02} = \"t{i}\"\n"))
        .collect();
    write_user_config(&t, &user);
    t.run_ok(&["up"]);
    let name = format!("medtech-kinesis-{}", t.env);
    let mut tags = BTreeMap::new();
    let mut start: Option<String> = None;
    loop {
        let page = sent!(
            t.kinesis
                .list_tags_for_stream()
                .stream_name(&name)
                .set_exclusive_start_tag_key(start.clone())
        );
        for tag in page.tags() {
            tags.insert(
                tag.key().to_owned(),
                tag.value().unwrap_or_default().to_owned(),
            );
        }
        if !page.has_more_tags() {
            break;
        }
        start = page.tags().last().map(|t| t.key().to_owned());
    }
    assert_eq!(
        tags.len(),
        18,
        "6 of medtech's tags and 12 of the user's: {tags:?}"
    );
    assert_tags("kinesis", &tags, &t.env, Some(&name));
    assert_no_changes(&t, &t.env);
    assert_verify_passes(&t, &t.env);
}

/// Kinesis changes a shard count by at most double or half per call, and ten times per stream
/// in a rolling day: `up` scales in steps, and names the rule when the day's changes run out.
#[tokio::test]
async fn kinesis_shard_changes_go_in_steps_within_the_daily_limit() {
    let t = TestContext::new("shards").await;
    let env = t.env.clone();
    let open = || async { stream_summary(&t, &env).await.open_shard_count() };
    t.run_ok(&["up", "--kinesis-shards", "1"]);
    assert_eq!(open().await, 1);
    t.run_ok(&["up", "--kinesis-shards", "5"]); // 2, 4, 5
    assert_eq!(open().await, 5);
    t.run_ok(&["up", "--kinesis-shards", "1"]); // 3, 2, 1
    assert_eq!(open().await, 1);
    t.run_ok(&["up", "--kinesis-shards", "16"]); // 2, 4, 8, 16: ten changes today
    assert_eq!(open().await, 16);
    let refused = t.medtech(&["up", "--env", &env, "--kinesis-shards", "8"]);
    assert!(!refused.status.success());
    let err = stderr(&refused);
    assert!(
        err.contains("LimitExceededException") && err.contains("10 times per stream"),
        "{err}"
    );
    assert_eq!(open().await, 16, "a refused change changes nothing");
}

/// A config may keep the stream shorter than a week: the stream keeps what the config asks,
/// the config check passes, and the low-severity week check fails on its own, so `verify`
/// exits 1 while `plan` and `up` see nothing to repair. A week or more passes again.
#[tokio::test]
async fn a_stream_kept_shorter_than_a_week_is_a_low_finding_that_up_leaves_alone() {
    let t = TestContext::new("kweek").await;
    let env = t.env.clone();
    write_user_config(&t, "\n[kinesis]\nretention_hours = 48\n");
    t.run_ok(&["up"]);
    assert_eq!(stream_summary(&t, &env).await.retention_period_hours(), 48);

    let failed = failed_checks(&t, 1);
    let week = "kinesis.retention_at_least_a_week";
    assert_eq!(
        failed,
        std::collections::BTreeSet::from([week.to_owned()]),
        "only the week check fails"
    );
    let (_, report) = verify_report(&t, &env);
    let floor = check(&report, week);
    assert_eq!(floor["severity"], "low", "{floor}");
    assert_eq!(floor["prowler"], "kinesis_stream_data_retention_period");
    assert_eq!(floor["expected"], "at least 168 hours");
    assert_eq!(floor["observed"], 48);
    let configured = check(&report, "kinesis.retention_period_hours");
    assert_eq!(configured["passed"], true, "{configured}");
    assert_eq!(configured["expected"], 48);

    // Nothing for `up` to do: the config asks for 48 hours and has them.
    assert_no_changes(&t, &env);
    t.run_ok(&["up"]);
    assert_eq!(stream_summary(&t, &env).await.retention_period_hours(), 48);

    write_user_config(&t, "\n[kinesis]\nretention_hours = 336\n");
    t.run_ok(&["up"]);
    assert_eq!(stream_summary(&t, &env).await.retention_period_hours(), 336);
    assert_verify_passes(&t, &env);
}
