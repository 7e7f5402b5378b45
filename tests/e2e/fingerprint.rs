//! What proves a resource is the same one, neither recreated nor rewritten: a fingerprint of
//! the stack (creation times, unique ids, version ids) to compare before and after a run.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::Filter;

use crate::common::TestContext;
use crate::common::sent;
use crate::lookup::{
    alias_target, find_log_group, find_topic_arn, role_names, secret_names, sorted, stack_alarms,
};

/// What proves a resource is the same one and was not recreated or rewritten: creation
/// times, unique ids, version ids, configuration-updated times, by resource. Missing
/// resources show as "missing" so the map is always comparable.
pub(crate) async fn fingerprint(t: &TestContext, env: &str) -> BTreeMap<String, String> {
    let mut f = BTreeMap::new();
    let missing = || "missing".to_owned();

    let key = alias_target(t, &format!("alias/medtech-{env}")).await;
    f.insert("kms.key".into(), key.clone().unwrap_or_else(missing));
    if let Some(key) = key {
        let policy = sent!(t.kms.get_key_policy().key_id(&key).policy_name("default"));
        f.insert(
            "kms.policy".into(),
            policy.policy().unwrap_or_default().to_owned(),
        );
    }

    for group in [
        format!("/medtech/{env}/audit"),
        format!("/medtech/{env}/vpc-flow"),
    ] {
        let g = find_log_group(t, &group).await;
        f.insert(
            format!("logs.{group}"),
            g.map_or_else(missing, |g| {
                format!(
                    "{:?} {:?} {:?}",
                    g.creation_time(),
                    g.kms_key_id(),
                    g.retention_in_days()
                )
            }),
        );
    }

    let stream = t
        .kinesis
        .describe_stream_summary()
        .stream_name(format!("medtech-kinesis-{env}"))
        .send()
        .await;
    f.insert(
        "kinesis".into(),
        or_missing("kinesis DescribeStreamSummary", stream)
            .and_then(|s| s.stream_description_summary().cloned())
            .map_or_else(missing, |s| {
                format!(
                    "{} {:?} {}",
                    s.stream_arn(),
                    s.stream_creation_timestamp(),
                    s.open_shard_count()
                )
            }),
    );

    for name in secret_names(env) {
        let d = t.secrets.describe_secret().secret_id(&name).send().await;
        f.insert(
            format!("secret.{name}"),
            or_missing("secretsmanager DescribeSecret", d).map_or_else(missing, |d| {
                let versions: BTreeMap<String, Vec<String>> = d
                    .version_ids_to_stages()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), sorted(v.clone())))
                            .collect()
                    })
                    .unwrap_or_default();
                format!(
                    "{:?} created {:?} changed {:?} versions {versions:?}",
                    d.arn(),
                    d.created_date(),
                    d.last_changed_date()
                )
            }),
        );
    }

    let db = t
        .rds
        .describe_db_instances()
        .db_instance_identifier(format!("medtech-rds-{env}"))
        .send()
        .await;
    f.insert(
        "rds".into(),
        or_missing("rds DescribeDBInstances", db)
            .and_then(|d| d.db_instances().first().cloned())
            .map_or_else(missing, |i| {
                format!(
                    "{:?} {:?} {:?}",
                    i.dbi_resource_id(),
                    i.instance_create_time(),
                    i.db_instance_arn()
                )
            }),
    );

    let rg = t
        .elasticache
        .describe_replication_groups()
        .replication_group_id(format!("medtech-redis-{env}"))
        .send()
        .await;
    f.insert(
        "redis".into(),
        or_missing("elasticache DescribeReplicationGroups", rg)
            .and_then(|d| d.replication_groups().first().cloned())
            .map_or_else(missing, |g| {
                format!(
                    "{:?} {:?} {:?} {:?}",
                    g.arn(),
                    g.replication_group_create_time(),
                    g.auth_token_last_modified_date(),
                    g.member_clusters()
                )
            }),
    );

    for name in role_names(env) {
        let r = t.iam.get_role().role_name(&name).send().await;
        f.insert(
            format!("iam.role.{name}"),
            or_missing("iam GetRole", r)
                .and_then(|r| r.role().cloned())
                .map_or_else(missing, |r| format!("{} {}", r.role_id(), r.arn())),
        );
        if let Some(attached) = or_missing(
            "iam ListAttachedRolePolicies",
            t.iam
                .list_attached_role_policies()
                .role_name(&name)
                .send()
                .await,
        ) {
            for p in attached.attached_policies() {
                let arn = p.policy_arn().unwrap_or_default();
                let policy = sent!(t.iam.get_policy().policy_arn(arn));
                let policy = policy.policy().unwrap();
                f.insert(
                    format!("iam.policy.{arn}"),
                    format!(
                        "attached to {name}: {:?} {:?}",
                        policy.policy_id(),
                        policy.default_version_id()
                    ),
                );
            }
        }
    }

    let topic = find_topic_arn(t, env).await;
    f.insert("sns".into(), topic.unwrap_or_else(missing));

    for alarm in stack_alarms(t, env).await {
        f.insert(
            format!("alarm.{}", alarm.alarm_name().unwrap_or_default()),
            format!("{:?}", alarm.alarm_configuration_updated_timestamp()),
        );
    }

    let endpoints = sent!(
        t.ec2.describe_vpc_endpoints().filters(
            Filter::builder()
                .name("tag:Environment")
                .values(env)
                .build(),
        )
    );
    for e in endpoints.vpc_endpoints() {
        f.insert(
            format!("vpce.{}", e.vpc_endpoint_id().unwrap_or_default()),
            format!("{:?}", e.creation_timestamp()),
        );
    }
    let flows = sent!(t.ec2.describe_flow_logs());
    for fl in flows.flow_logs() {
        if fl.log_group_name() == Some(format!("/medtech/{env}/vpc-flow").as_str()) {
            f.insert(
                format!("flow_log.{}", fl.flow_log_id().unwrap_or_default()),
                format!("{:?}", fl.creation_time()),
            );
        }
    }
    f
}

/// The answer to a describe call, `None` when AWS says the resource does not exist; any other
/// error fails the test, so a broken call never reads as a missing resource.
fn or_missing<T, E>(call: &str, result: Result<T, E>) -> Option<T>
where
    E: aws_sdk_kinesis::error::ProvideErrorMetadata + std::fmt::Debug,
{
    const NOT_FOUND: [&str; 5] = [
        "ResourceNotFoundException",
        "DBInstanceNotFound",
        "DBInstanceNotFoundFault",
        "ReplicationGroupNotFoundFault",
        "NoSuchEntity",
    ];
    match result {
        Ok(value) => Some(value),
        Err(err) if err.code().is_some_and(|c| NOT_FOUND.contains(&c)) => None,
        Err(err) => panic!("{call}: {err:?}"),
    }
}

/// Asserts that two fingerprints are equal, listing what differs.
pub(crate) fn assert_same(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
    what: &str,
) {
    let diff: Vec<String> = before
        .keys()
        .chain(after.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| format!("{k}: {:?} -> {:?}", before.get(k), after.get(k)))
        .collect();
    assert!(
        diff.is_empty(),
        "{what} recreated, rotated or rewrote:\n{}",
        diff.join("\n")
    );
}
