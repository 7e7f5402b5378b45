//! The alarm topic and the six alarms: encrypted topic, one alarm per metric of STACK.md,
//! each notifying the topic, and missing data treated as each metric requires.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::common::TestContext;
use crate::common::sent;
use crate::lookup::{assert_tagged, is_key, replication_group, stack_alarms, stack_key, topic_arn};
use crate::runs::checks_of;
use crate::sweep::TagSource;

pub(crate) async fn check_alarms(t: &TestContext, env: &str) {
    let key = stack_key(t, env).await;
    let topic = topic_arn(t, env).await;
    let attrs = sent!(t.sns.get_topic_attributes().topic_arn(&topic));
    let kms = attrs
        .attributes()
        .and_then(|a| a.get("KmsMasterKeyId"))
        .map(String::as_str);
    // GAP: the emulator does not check that an SNS KmsMasterKeyId exists; the reference is
    // compared with the stack key's id, ARN and alias.
    assert!(is_key(kms, &key, env), "topic KmsMasterKeyId {kms:?}");
    let name = format!("medtech-alarms-{env}");
    assert_tagged(t, TagSource::Sns(topic.clone()), env, &name).await;

    let rg = replication_group(t, env).await;
    let members: Vec<String> = rg.member_clusters().to_vec();
    let redis_id = format!("medtech-redis-{env}");
    // Every member, whichever is primary now: a failover swaps the roles.
    let redis_dimension = |a: &aws_sdk_cloudwatch::types::MetricAlarm| {
        let watched = alarm_members(a);
        members.iter().all(|m| watched.contains(m))
            || a.dimensions()
                .iter()
                .any(|d| d.name() == Some("ReplicationGroupId") && d.value() == Some(&redis_id))
    };
    let stream = format!("medtech-kinesis-{env}");
    let db = format!("medtech-rds-{env}");
    let alarms = stack_alarms(t, env).await;
    let names: Vec<&str> = alarms.iter().filter_map(|a| a.alarm_name()).collect();
    assert_eq!(alarms.len(), 6, "alarms named medtech-…-{env}: {names:?}");
    let mut covered = BTreeSet::new();
    for a in &alarms {
        let name = a.alarm_name().unwrap();
        let dims: BTreeMap<String, String> = a
            .dimensions()
            .iter()
            .filter_map(|d| Some((d.name()?.to_owned(), d.value()?.to_owned())))
            .collect();
        // A metric-math alarm names its metric in each of its queries.
        let queried = a.metrics().iter().find_map(|q| q.metric_stat()?.metric());
        let which = match (
            a.namespace()
                .or(queried.and_then(|m| m.namespace()))
                .unwrap_or_default(),
            a.metric_name()
                .or(queried.and_then(|m| m.metric_name()))
                .unwrap_or_default(),
        ) {
            ("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds")
                if dims.get("StreamName") == Some(&stream) =>
            {
                "kinesis iterator age"
            }
            ("AWS/Kinesis", "WriteProvisionedThroughputExceeded")
                if dims.get("StreamName") == Some(&stream) =>
            {
                "kinesis write throughput exceeded"
            }
            ("AWS/RDS", "CPUUtilization") if dims.get("DBInstanceIdentifier") == Some(&db) => {
                "rds cpu"
            }
            ("AWS/RDS", "FreeStorageSpace") if dims.get("DBInstanceIdentifier") == Some(&db) => {
                "rds free storage"
            }
            ("AWS/ElastiCache", "CPUUtilization" | "EngineCPUUtilization")
                if redis_dimension(a) =>
            {
                "redis cpu"
            }
            ("AWS/ElastiCache", "ReplicationLag") if redis_dimension(a) => "redis replication lag",
            (ns, m) => panic!("{name}: unexpected metric {ns} {m} {dims:?}"),
        };
        assert!(covered.insert(which), "two alarms for {which}");
        assert!(name.starts_with("medtech-"), "{name}");
        assert_eq!(
            a.alarm_actions(),
            std::slice::from_ref(&topic),
            "{name}: alarm actions"
        );
        assert_eq!(
            a.insufficient_data_actions(),
            std::slice::from_ref(&topic),
            "{name}: insufficient-data actions"
        );
        assert_eq!(a.actions_enabled(), Some(true), "{name}: actions enabled");
        let arn = a.alarm_arn().unwrap().to_owned();
        assert_tagged(t, TagSource::CloudWatch(arn), env, name).await;
    }
    assert_eq!(covered.len(), 6, "{covered:?}");
}

/// Kinesis publishes its throughput metrics only while records flow: the alarms on them treat
/// missing data as healthy, so an idle stream never pages. Metrics RDS and ElastiCache always
/// report keep `missing`, whose INSUFFICIENT_DATA notifies the topic. `verify` checks both.
#[tokio::test]
async fn alarms_treat_missing_data_as_their_metric_requires() {
    let t = TestContext::new("idle").await;
    t.run_ok(&["up"]);
    let env = t.env.clone();
    let found: BTreeMap<String, Option<String>> = stack_alarms(&t, &env)
        .await
        .iter()
        .map(|a| {
            (
                a.alarm_name().unwrap_or_default().to_owned(),
                a.treat_missing_data().map(str::to_owned),
            )
        })
        .collect();
    let want: BTreeMap<String, Option<String>> = [
        ("kinesis-iterator-age", "notBreaching"),
        ("kinesis-write-throttled", "notBreaching"),
        ("rds-cpu", "missing"),
        ("rds-free-storage", "missing"),
        ("redis-cpu", "missing"),
        ("redis-replication-lag", "missing"),
    ]
    .into_iter()
    .map(|(slug, how)| (format!("medtech-{slug}-{env}"), Some(how.to_owned())))
    .collect();
    assert_eq!(found, want, "TreatMissingData as DescribeAlarms reports it");

    let out = t.run_ok(&["verify", "--format", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout).expect("verify JSON");
    let checks = checks_of(&report, "treat_missing_data");
    assert_eq!(checks.len(), 6, "one check per alarm: {checks:?}");
    assert!(
        checks.iter().all(|c| c["passed"] == Value::Bool(true)),
        "{checks:?}"
    );
}

/// The cache clusters an alarm watches, as CloudWatch reports it: its own dimension or, for a
/// metric-math alarm, the dimension of each query.
pub(crate) fn alarm_members(alarm: &aws_sdk_cloudwatch::types::MetricAlarm) -> BTreeSet<String> {
    let queried = alarm
        .metrics()
        .iter()
        .filter_map(|q| q.metric_stat()?.metric())
        .flat_map(|m| m.dimensions());
    alarm
        .dimensions()
        .iter()
        .chain(queried)
        .filter(|d| d.name() == Some("CacheClusterId"))
        .filter_map(|d| d.value().map(str::to_owned))
        .collect()
}

/// The topic's email subscriptions, by address, with their ARNs.
async fn email_subscriptions(t: &TestContext, topic: &str) -> BTreeMap<String, String> {
    sent!(t.sns.list_subscriptions_by_topic().topic_arn(topic))
        .subscriptions()
        .iter()
        .filter(|s| s.protocol() == Some("email"))
        .filter_map(|s| Some((s.endpoint()?.to_owned(), s.subscription_arn()?.to_owned())))
        .collect()
}

/// `alarms.email` subscribes its address to the alarm topic. A subscription removed outside
/// medtech is drift that `plan` names and `up` repairs; another team's subscription is not.
#[tokio::test]
async fn the_configured_email_is_subscribed_and_kept() {
    const ONCALL: &str = "oncall@example.com";
    const OTHERS: &str = "billing@example.com";
    let t = TestContext::new("email").await;
    std::fs::write(
        t.path("medtech.toml"),
        format!("[alarms]\nemail = \"{ONCALL}\"\n"),
    )
    .unwrap();
    t.run_ok(&["up"]);
    let topic = topic_arn(&t, &t.env).await;
    let subscribed = email_subscriptions(&t, &topic).await;
    assert_eq!(subscribed.keys().collect::<Vec<_>>(), [ONCALL]);

    sent!(
        t.sns
            .subscribe()
            .topic_arn(&topic)
            .protocol("email")
            .endpoint(OTHERS)
    );
    sent!(t.sns.unsubscribe().subscription_arn(&subscribed[ONCALL]));
    assert_eq!(
        crate::runs::planned_changes(&t),
        BTreeSet::from(["alarm-topic.email_subscriptions".to_owned()])
    );
    t.run_ok(&["up"]);
    let after = email_subscriptions(&t, &topic).await;
    assert_eq!(after.keys().collect::<Vec<_>>(), [OTHERS, ONCALL]);
}
