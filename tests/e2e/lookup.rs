//! The stack's resources as the emulator reports them, found by their contract names
//! (STACK.md), and the contract's tags asserted on them. Shared by the per-area modules; each
//! lookup fails the test when the resource is not there.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::Filter;
use serde_json::Value;

use crate::common::sent;
use crate::common::{TestContext, named_for};
use crate::sweep::TagSource;

/// A user tag from `medtech.toml`; STACK.md: "plus user tags from config".
pub(crate) const USER_TAG: (&str, &str) = ("CostCenter", "cc-4711");

/// Writes a `medtech.toml` that sets [`USER_TAG`] and `more` (TOML lines under `[tags]`).
pub(crate) fn write_user_config(t: &TestContext, more: &str) {
    std::fs::write(
        t.path("medtech.toml"),
        format!("[tags]\n{} = \"{}\"\n{more}", USER_TAG.0, USER_TAG.1),
    )
    .unwrap();
}

/// Asserts the tags STACK.md requires: the six fixed ones (Name = `name` when the contract
/// names the resource; otherwise a `medtech-…-<env>` Name) plus the user's tag from config.
pub(crate) fn assert_tags(
    what: &str,
    tags: &BTreeMap<String, String>,
    env: &str,
    name: Option<&str>,
) {
    match name {
        Some(name) => crate::common::assert_standard_tags(what, tags, env, name),
        None => {
            let n = tags.get("Name").map(String::as_str).unwrap_or_default();
            crate::common::assert_standard_tags(what, tags, env, n);
            assert!(
                n.contains("medtech") && named_for(n, env),
                "{what}: Name tag {n:?} should be a medtech-…-{env} name; tags {tags:?}"
            );
        }
    }
    assert_eq!(
        tags.get(USER_TAG.0).map(String::as_str),
        Some(USER_TAG.1),
        "{what}: the user tag from medtech.toml is missing in {tags:?}"
    );
}

/// [`assert_tags`] on what the service reports for `source`, named `name`.
pub(crate) async fn assert_tagged(t: &TestContext, source: TagSource, env: &str, name: &str) {
    assert_tags(name, &t.tags_of(&source).await, env, Some(name));
}

/// The four roles of the stack.
pub(crate) fn role_names(env: &str) -> [String; 4] {
    [
        format!("medtech-kinesis-producer-{env}"),
        format!("medtech-secrets-reader-{env}"),
        format!("medtech-rds-monitoring-{env}"),
        format!("medtech-flow-logs-{env}"),
    ]
}

/// The two secrets of the stack: the RDS credentials, then the Redis token.
pub(crate) fn secret_names(env: &str) -> [String; 2] {
    [
        format!("medtech-rds-credentials-{env}"),
        format!("medtech-redis-credentials-{env}"),
    ]
}

pub(crate) fn by_name(name: &str) -> Filter {
    Filter::builder().name("tag:Name").values(name).build()
}

pub(crate) fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// The one id EC2 reports for a resource named `$name` (a `tag:Name` filter).
macro_rules! ec2_id_named {
    ($t:expr, $call:ident, $items:ident, $id:ident, $name:expr) => {{
        let name: &str = $name;
        let out = $t.ec2.$call().filters(by_name(name)).send().await.unwrap();
        assert_eq!(out.$items().len(), 1, "{} {name}", stringify!($items));
        out.$items()[0].$id().unwrap().to_owned()
    }};
}

pub(crate) async fn vpc_id(t: &TestContext, env: &str) -> String {
    ec2_id_named!(
        t,
        describe_vpcs,
        vpcs,
        vpc_id,
        &format!("medtech-vpc-{env}")
    )
}

/// `[a, b]` subnet ids of a tier, by their Name tags.
pub(crate) async fn subnet_ids(t: &TestContext, env: &str, tier: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for letter in ["a", "b"] {
        let name = format!("medtech-{tier}-{letter}-{env}");
        ids.push(ec2_id_named!(
            t,
            describe_subnets,
            subnets,
            subnet_id,
            &name
        ));
    }
    ids
}

pub(crate) async fn route_table_id(t: &TestContext, name: &str) -> String {
    ec2_id_named!(t, describe_route_tables, route_tables, route_table_id, name)
}

pub(crate) async fn security_group_id(t: &TestContext, name: &str) -> String {
    ec2_id_named!(t, describe_security_groups, security_groups, group_id, name)
}

/// The VPC's default security group.
pub(crate) async fn default_security_group(
    t: &TestContext,
    vpc: &str,
) -> aws_sdk_ec2::types::SecurityGroup {
    let groups = sent!(
        t.ec2
            .describe_security_groups()
            .filters(Filter::builder().name("vpc-id").values(vpc).build())
            .filters(
                Filter::builder()
                    .name("group-name")
                    .values("default")
                    .build(),
            )
    );
    groups.security_groups()[0].clone()
}

/// The endpoint `id` as EC2 lists it (deleted ones included, while EC2 still shows them).
pub(crate) async fn endpoints_with_id(
    t: &TestContext,
    id: &str,
) -> Vec<aws_sdk_ec2::types::VpcEndpoint> {
    let filter = Filter::builder().name("vpc-endpoint-id").values(id).build();
    let out = t.ec2.describe_vpc_endpoints().filters(filter).send().await;
    out.unwrap().vpc_endpoints().to_vec()
}

/// A member cluster of a replication group.
pub(crate) async fn cache_cluster(
    t: &TestContext,
    id: &str,
) -> aws_sdk_elasticache::types::CacheCluster {
    let out = t
        .elasticache
        .describe_cache_clusters()
        .cache_cluster_id(id)
        .send()
        .await;
    out.unwrap().cache_clusters()[0].clone()
}

/// The stack key, found through its alias `alias/medtech-<env>`.
pub(crate) async fn stack_key(t: &TestContext, env: &str) -> aws_sdk_kms::types::KeyMetadata {
    let alias = format!("alias/medtech-{env}");
    let target = alias_target(t, &alias)
        .await
        .unwrap_or_else(|| panic!("no KMS alias {alias}, or it points at no key"));
    sent!(t.kms.describe_key().key_id(target))
        .key_metadata()
        .expect("key metadata")
        .clone()
}

/// The key an alias points at, `None` when there is no such alias.
pub(crate) async fn alias_target(t: &TestContext, alias: &str) -> Option<String> {
    let pages: Vec<_> = t
        .kms
        .list_aliases()
        .into_paginator()
        .send()
        .try_collect()
        .await
        .unwrap();
    pages
        .iter()
        .flat_map(|p| p.aliases())
        .find(|a| a.alias_name() == Some(alias))
        .and_then(|a| a.target_key_id().map(str::to_owned))
}

/// Whether `reference` names the stack key: by id, ARN, alias name or alias ARN.
pub(crate) fn is_key(
    reference: Option<&str>,
    key: &aws_sdk_kms::types::KeyMetadata,
    env: &str,
) -> bool {
    let Some(r) = reference else { return false };
    let arn = key.arn().unwrap_or_default();
    let alias = format!("alias/medtech-{env}");
    let alias_arn = format!("{}:{alias}", arn.split(":key/").next().unwrap_or_default());
    r == key.key_id() || r == arn || r == alias || r == alias_arn
}

/// The log group named exactly `name`, `None` when there is none.
pub(crate) async fn find_log_group(
    t: &TestContext,
    name: &str,
) -> Option<aws_sdk_cloudwatchlogs::types::LogGroup> {
    let out = sent!(t.logs.describe_log_groups().log_group_name_prefix(name));
    out.log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(name))
        .cloned()
}

pub(crate) async fn log_group(
    t: &TestContext,
    name: &str,
) -> aws_sdk_cloudwatchlogs::types::LogGroup {
    find_log_group(t, name)
        .await
        .unwrap_or_else(|| panic!("no log group {name}"))
}

/// A log group's ARN without the `:*` some answers end it with.
pub(crate) fn log_group_arn(group: &aws_sdk_cloudwatchlogs::types::LogGroup) -> String {
    group
        .log_group_arn()
        .map(str::to_owned)
        .or_else(|| group.arn().map(|a| a.trim_end_matches(":*").to_owned()))
        .expect("log group arn")
}

/// The stack's DB instance.
pub(crate) async fn rds_instance(t: &TestContext, env: &str) -> aws_sdk_rds::types::DbInstance {
    db_instance(t, &format!("medtech-rds-{env}")).await
}

/// The DB instance `id`.
pub(crate) async fn db_instance(t: &TestContext, id: &str) -> aws_sdk_rds::types::DbInstance {
    let out = t
        .rds
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await;
    let out = out.unwrap_or_else(|e| panic!("DescribeDBInstances {id}: {e:?}"));
    out.db_instances()[0].clone()
}

/// The stack's replication group.
pub(crate) async fn replication_group(
    t: &TestContext,
    env: &str,
) -> aws_sdk_elasticache::types::ReplicationGroup {
    let id = format!("medtech-redis-{env}");
    let request = t.elasticache.describe_replication_groups();
    let out = request.replication_group_id(&id).send().await;
    let out = out.unwrap_or_else(|e| panic!("DescribeReplicationGroups {id}: {e:?}"));
    out.replication_groups()[0].clone()
}

pub(crate) async fn secret(
    t: &TestContext,
    name: &str,
) -> aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput {
    t.secrets
        .describe_secret()
        .secret_id(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("DescribeSecret {name}: {e:?}"))
}

/// A secret's value: the text, and the JSON object it holds.
pub(crate) async fn secret_json(
    t: &TestContext,
    name: &str,
) -> (String, serde_json::Map<String, Value>) {
    let out = t
        .secrets
        .get_secret_value()
        .secret_id(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetSecretValue {name}: {e:?}"));
    let text = out
        .secret_string()
        .unwrap_or_else(|| panic!("{name} has no SecretString"))
        .to_owned();
    match serde_json::from_str(&text) {
        Ok(Value::Object(map)) => (text, map),
        _ => panic!("{name}: SecretString is not a JSON object"),
    }
}

/// The text of both secrets' values, in [`secret_names`] order.
pub(crate) async fn secret_texts(t: &TestContext, env: &str) -> Vec<String> {
    let mut texts = Vec::new();
    for name in secret_names(env) {
        texts.push(secret_json(t, &name).await.0);
    }
    texts
}

pub(crate) async fn role(t: &TestContext, name: &str) -> aws_sdk_iam::types::Role {
    t.iam
        .get_role()
        .role_name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetRole {name}: {e:?}"))
        .role()
        .unwrap()
        .clone()
}

pub(crate) async fn stream_summary(
    t: &TestContext,
    env: &str,
) -> aws_sdk_kinesis::types::StreamDescriptionSummary {
    let name = format!("medtech-kinesis-{env}");
    t.kinesis
        .describe_stream_summary()
        .stream_name(&name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("DescribeStreamSummary {name}: {e:?}"))
        .stream_description_summary()
        .unwrap()
        .clone()
}

/// The alarm topic's ARN, `None` when there is no such topic.
pub(crate) async fn find_topic_arn(t: &TestContext, env: &str) -> Option<String> {
    let name = format!("medtech-alarms-{env}");
    let pages: Vec<_> = t
        .sns
        .list_topics()
        .into_paginator()
        .send()
        .try_collect()
        .await
        .expect("sns ListTopics");
    pages
        .iter()
        .flat_map(|p| p.topics())
        .filter_map(|x| x.topic_arn())
        .find(|arn| arn.rsplit(':').next() == Some(name.as_str()))
        .map(str::to_owned)
}

pub(crate) async fn topic_arn(t: &TestContext, env: &str) -> String {
    find_topic_arn(t, env)
        .await
        .unwrap_or_else(|| panic!("no SNS topic medtech-alarms-{env}"))
}

/// The metric alarms named `medtech-…-<env>`.
pub(crate) async fn stack_alarms(
    t: &TestContext,
    env: &str,
) -> Vec<aws_sdk_cloudwatch::types::MetricAlarm> {
    let pages: Vec<_> = t
        .cloudwatch
        .describe_alarms()
        .alarm_name_prefix("medtech-")
        .into_paginator()
        .send()
        .try_collect()
        .await
        .unwrap();
    pages
        .iter()
        .flat_map(|p| p.metric_alarms())
        .filter(|a| {
            a.alarm_name()
                .is_some_and(|n| n.ends_with(&format!("-{env}")))
        })
        .cloned()
        .collect()
}

/// The DB instance's backup retention, days.
pub(crate) async fn backup_retention(t: &TestContext, db: &str) -> i32 {
    let db = db_instance(t, db).await;
    db.backup_retention_period().expect("backup retention")
}
