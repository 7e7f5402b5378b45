//! The Redis replication group and its cache subnet group: every STACK.md setting read back,
//! and the Redis alarms still covering every member after a failover.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::alarms::alarm_members;
use crate::common::TestContext;
use crate::common::sent;
use crate::lookup::{
    assert_tagged, cache_cluster, is_key, replication_group, security_group_id, sorted, stack_key,
    subnet_ids, vpc_id,
};
use crate::runs::{failed, verify_report};
use crate::sweep::TagSource;

pub(crate) async fn check_redis(t: &TestContext, env: &str) {
    let key = stack_key(t, env).await;
    let private = sorted(subnet_ids(t, env, "private").await);
    let vpc = vpc_id(t, env).await;
    let redis_sg = security_group_id(t, &format!("medtech-redis-sg-{env}")).await;

    let subnets_name = format!("medtech-redis-subnets-{env}");
    let groups = sent!(
        t.elasticache
            .describe_cache_subnet_groups()
            .cache_subnet_group_name(&subnets_name)
    );
    let group = &groups.cache_subnet_groups()[0];
    let members: Vec<String> = group
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier().map(str::to_owned))
        .collect();
    assert_eq!(sorted(members), private, "cache subnet group subnets");
    assert_eq!(group.vpc_id(), Some(vpc.as_str()));
    let arn = group.arn().unwrap().to_owned();
    assert_tagged(t, TagSource::ElastiCache(arn), env, &subnets_name).await;

    let id = format!("medtech-redis-{env}");
    let rg = replication_group(t, env).await;
    assert_eq!(rg.status(), Some("available"));
    assert_eq!(rg.engine(), Some("redis"));
    assert_eq!(
        rg.member_clusters().len(),
        2,
        "nodes: {:?}",
        rg.member_clusters()
    );
    assert_eq!(rg.automatic_failover().map(|x| x.as_str()), Some("enabled"));
    assert_eq!(rg.multi_az().map(|x| x.as_str()), Some("enabled"));
    assert_eq!(
        rg.transit_encryption_enabled(),
        Some(true),
        "in-transit encryption"
    );
    assert_eq!(
        rg.at_rest_encryption_enabled(),
        Some(true),
        "at-rest encryption"
    );
    // GAP: the emulator does not resolve ElastiCache KmsKeyId, so any reference to the key
    // (id, ARN, alias) is accepted here; real ElastiCache reports the key ARN.
    assert!(
        is_key(rg.kms_key_id(), &key, env),
        "at-rest key {:?}",
        rg.kms_key_id()
    );
    assert_eq!(rg.auth_token_enabled(), Some(true), "AUTH");
    assert!(
        rg.snapshot_retention_limit().unwrap_or_default() >= 7,
        "snapshot retention {:?}",
        rg.snapshot_retention_limit()
    );
    // medtech's default; the emulator picks another hour when none is sent, as AWS does.
    assert_eq!(rg.snapshot_window(), Some("05:00-06:00"), "snapshot window");
    let node_group = &rg.node_groups()[0];
    let primary = node_group.primary_endpoint().expect("primary endpoint");
    assert_eq!(primary.port(), Some(6379));
    assert!(node_group.reader_endpoint().is_some(), "reader endpoint");
    // The maintenance window and subnet group/security groups are reported per member.
    let mut azs = BTreeSet::new();
    for member in rg.member_clusters() {
        let c = cache_cluster(t, member).await;
        assert_eq!(c.engine(), Some("redis"), "{member}");
        assert_eq!(c.replication_group_id(), Some(id.as_str()), "{member}");
        assert!(
            c.preferred_maintenance_window()
                .is_some_and(|w| !w.is_empty()),
            "{member}: maintenance window"
        );
        assert_eq!(
            c.cache_subnet_group_name(),
            Some(subnets_name.as_str()),
            "{member}"
        );
        assert_eq!(
            c.security_groups()
                .iter()
                .filter_map(|g| g.security_group_id())
                .collect::<Vec<_>>(),
            [redis_sg.as_str()],
            "{member}: security groups"
        );
        azs.insert(
            c.preferred_availability_zone()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    assert_eq!(azs.len(), 2, "the two nodes should be in two AZs: {azs:?}");
    let arn = rg.arn().unwrap().to_owned();
    assert_tagged(t, TagSource::ElastiCache(arn), env, &id).await;
}

/// The replication group's members and their current roles, as ElastiCache reports them.
async fn redis_roles(t: &TestContext, env: &str) -> BTreeMap<String, String> {
    replication_group(t, env)
        .await
        .node_groups()
        .iter()
        .flat_map(|g| g.node_group_members())
        .map(|m| {
            (
                m.cache_cluster_id().unwrap_or_default().to_owned(),
                m.current_role().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The Redis alarms that `verify` reports failed, by check id.
fn failed_redis_alarm_checks(report: &Value) -> BTreeMap<String, Value> {
    failed(report)
        .filter_map(|c| {
            let id = c["id"].as_str()?;
            id.starts_with("alarm-redis-")
                .then(|| (id.to_owned(), c["observed"].clone()))
        })
        .collect()
}

/// A failover swaps which member is primary, so the Redis alarms watch every member, not a
/// role pinned to a member id: after `TestFailover` the CPU and lag alarms still cover the new
/// primary and the replica, and `verify` agrees. An alarm edited by hand to watch one member
/// leaves the primary unwatched: `verify` names it, `up` puts the alarm back over all members.
#[tokio::test]
async fn redis_alarms_cover_every_member_across_failover() {
    let t = TestContext::new("failover").await;
    t.run_ok(&["up"]);
    let env = t.env.clone();
    let group = format!("medtech-redis-{env}");
    t.elasticache
        .test_failover()
        .replication_group_id(&group)
        .node_group_id("0001")
        .send()
        .await
        .expect("TestFailover");
    let roles = redis_roles(&t, &env).await;
    let want_roles: BTreeMap<String, String> = [("001", "replica"), ("002", "primary")]
        .into_iter()
        .map(|(n, role)| (format!("{group}-{n}"), role.to_owned()))
        .collect();
    assert_eq!(roles, want_roles, "roles after the failover");

    let alarm = |slug: &str| {
        let name = format!("medtech-{slug}-{env}");
        let t = &t;
        async move {
            let out = t
                .cloudwatch
                .describe_alarms()
                .alarm_names(&name)
                .send()
                .await
                .expect("DescribeAlarms");
            out.metric_alarms()
                .first()
                .unwrap_or_else(|| panic!("no alarm {name}"))
                .clone()
        }
    };
    let covered = |slug: &'static str| {
        let alarm = &alarm;
        let roles = &roles;
        async move {
            let watched = alarm_members(&alarm(slug).await);
            for (member, role) in roles {
                assert!(
                    watched.contains(member),
                    "{slug} does not watch the {role} {member}: it watches {watched:?}"
                );
            }
        }
    };
    for slug in ["redis-cpu", "redis-replication-lag"] {
        covered(slug).await;
    }
    let verify = |t: &TestContext| {
        let (code, report) = verify_report(t, &t.env);
        (code, failed_redis_alarm_checks(&report))
    };
    assert_eq!(
        verify(&t),
        (Some(0), BTreeMap::new()),
        "verify after the failover"
    );

    // By hand, as the alarm used to be: the CPU of `-001`, a replica since the failover.
    let pinned = alarm("redis-cpu").await;
    let topic = pinned.alarm_actions().to_vec();
    t.cloudwatch
        .put_metric_alarm()
        .alarm_name(pinned.alarm_name().unwrap())
        .namespace("AWS/ElastiCache")
        .metric_name("EngineCPUUtilization")
        .statistic(aws_sdk_cloudwatch::types::Statistic::Average)
        .dimensions(
            aws_sdk_cloudwatch::types::Dimension::builder()
                .name("CacheClusterId")
                .value(format!("{group}-001"))
                .build(),
        )
        .period(300)
        .evaluation_periods(3)
        .threshold(75.0)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
        .treat_missing_data("missing")
        .set_alarm_actions(Some(topic.clone()))
        .set_insufficient_data_actions(Some(topic))
        .send()
        .await
        .expect("PutMetricAlarm by hand");
    let (code, failed) = verify(&t);
    assert_eq!(code, Some(1), "verify of the pinned alarm: {failed:?}");
    assert_eq!(
        failed.get("alarm-redis-cpu.uncovered_members"),
        Some(&serde_json::json!([format!("{group}-002 (primary)")])),
        "{failed:?}"
    );

    t.run_ok(&["up"]);
    for slug in ["redis-cpu", "redis-replication-lag"] {
        covered(slug).await;
    }
    assert_eq!(verify(&t), (Some(0), BTreeMap::new()), "verify after up");
}
