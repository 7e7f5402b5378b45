//! End to end, the whole stack of `shared/STACK.md` beyond the network tier (which
//! `network.rs` covers): the real binary against the emulator, and every setting read
//! back through the SDK from what the emulator reports, never from what medtech says.
//!
//! Where the emulator cannot report a setting, the test asserts what it can and says so in a
//! comment starting with `GAP:`.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::pin::Pin;

use crate::common::{REGION, TestContext, named_for, stderr, stdout};
use aws_sdk_ec2::types::Filter;
use futures::FutureExt;
use serde_json::Value;

/// A user tag from `medtech.toml`; STACK.md: "plus user tags from config".
const USER_TAG: (&str, &str) = ("CostCenter", "cc-4711");

/// The output keys of STACK.md, with their JSON types.
const STRING_OUTPUTS: &[&str] = &[
    "environment",
    "region",
    "vpc_id",
    "nat_eip_id",
    "nat_gateway_id",
    "public_route_table_id",
    "private_route_table_id",
    "kms_key_id",
    "kms_key_arn",
    "kms_alias",
    "audit_log_group_name",
    "kinesis_stream_name",
    "kinesis_stream_arn",
    "rds_instance_identifier",
    "rds_endpoint",
    "rds_secret_arn",
    "rds_security_group_id",
    "redis_primary_endpoint",
    "redis_reader_endpoint",
    "redis_secret_arn",
    "redis_security_group_id",
    "db_subnet_group_name",
    "elasticache_subnet_group_name",
    "kinesis_producer_role_arn",
    "secrets_reader_role_arn",
    "alarm_topic_arn",
];
const LIST_OUTPUTS: &[&str] = &["public_subnet_ids", "private_subnet_ids"];
const INTEGER_OUTPUTS: &[&str] = &["rds_port", "redis_port"];

/// The four roles of the stack.
fn role_names(env: &str) -> [String; 4] {
    [
        format!("medtech-kinesis-producer-{env}"),
        format!("medtech-secrets-reader-{env}"),
        format!("medtech-rds-monitoring-{env}"),
        format!("medtech-flow-logs-{env}"),
    ]
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

type Area<'a> = (&'static str, Pin<Box<dyn Future<Output = ()> + 'a>>);

/// Runs every area even when one fails, then fails with every area's message, so one run
/// shows everything that is wrong instead of the first thing.
async fn run_areas(areas: Vec<Area<'_>>) {
    let mut failed = Vec::new();
    for (name, area) in areas {
        if let Err(panic) = AssertUnwindSafe(area).catch_unwind().await {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "(non-string panic)".to_owned());
            failed.push(format!("[{name}] {message}"));
        }
    }
    assert!(
        failed.is_empty(),
        "{} area(s) failed:\n\n{}",
        failed.len(),
        failed.join("\n\n")
    );
}

fn by_name(name: &str) -> Filter {
    Filter::builder().name("tag:Name").values(name).build()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Asserts the tags STACK.md requires: the six fixed ones (Name = `name` when the contract
/// names the resource; otherwise a `medtech-…-<env>` Name) plus the user's tag from config.
fn assert_tags(what: &str, tags: &BTreeMap<String, String>, env: &str, name: Option<&str>) {
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

fn pairs<'a>(
    it: impl Iterator<Item = (Option<&'a str>, Option<&'a str>)>,
) -> BTreeMap<String, String> {
    it.filter_map(|(k, v)| Some((k?.to_owned(), v?.to_owned())))
        .collect()
}

/// `Value` as a list of values: a JSON policy field may be a string or a list.
fn as_list(v: Option<&Value>) -> Vec<Value> {
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(other) => vec![other.clone()],
    }
}

fn as_strings(v: Option<&Value>) -> Vec<String> {
    as_list(v)
        .into_iter()
        .map(|x| {
            x.as_str()
                .unwrap_or_else(|| panic!("{x} is not a string"))
                .to_owned()
        })
        .collect()
}

/// IAM returns policy documents URL-encoded (RFC 3986); the emulator sometimes does not.
fn policy_json(doc: &str) -> Value {
    if let Ok(v) = serde_json::from_str(doc) {
        return v;
    }
    let bytes = doc.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("bad escape in {doc}")));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let text = String::from_utf8(out).unwrap();
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("policy document is not JSON ({e}): {text}"))
}

/// Case-insensitive glob (`*`, `?`) as IAM matches actions.
fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

/// Percent-encoding of every byte outside RFC 3986's unreserved set (how a form body or
/// a URL would carry the value).
fn percent_encoded(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Every file under `dir` (recursively), with its text.
fn files_under(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((
                path.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        }
    }
    out
}

fn write_user_config(t: &TestContext) {
    std::fs::write(
        t.path("medtech.toml"),
        format!("[tags]\n{} = \"{}\"\n", USER_TAG.0, USER_TAG.1),
    )
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Lookups: the stack's resources as the emulator reports them, found by their contract names
// ---------------------------------------------------------------------------------------------

/// The stack key, found through its alias `alias/medtech-<env>`.
async fn stack_key(t: &TestContext, env: &str) -> aws_sdk_kms::types::KeyMetadata {
    let alias = format!("alias/medtech-{env}");
    let pages: Vec<_> = t
        .kms
        .list_aliases()
        .into_paginator()
        .send()
        .try_collect()
        .await
        .unwrap();
    let entry = pages
        .iter()
        .flat_map(|p| p.aliases())
        .find(|a| a.alias_name() == Some(alias.as_str()))
        .unwrap_or_else(|| panic!("no KMS alias {alias}"));
    let target = entry
        .target_key_id()
        .unwrap_or_else(|| panic!("{alias} points at no key"));
    t.kms
        .describe_key()
        .key_id(target)
        .send()
        .await
        .unwrap()
        .key_metadata()
        .expect("key metadata")
        .clone()
}

/// Whether `reference` names the stack key: by id, ARN, alias name or alias ARN.
fn is_key(reference: Option<&str>, key: &aws_sdk_kms::types::KeyMetadata, env: &str) -> bool {
    let Some(r) = reference else { return false };
    let arn = key.arn().unwrap_or_default();
    let alias = format!("alias/medtech-{env}");
    let alias_arn = format!("{}:{alias}", arn.split(":key/").next().unwrap_or_default());
    r == key.key_id() || r == arn || r == alias || r == alias_arn
}

async fn vpc_id(t: &TestContext, env: &str) -> String {
    let out = t
        .ec2
        .describe_vpcs()
        .filters(by_name(&format!("medtech-vpc-{env}")))
        .send()
        .await
        .unwrap();
    assert_eq!(out.vpcs().len(), 1, "VPC medtech-vpc-{env}");
    out.vpcs()[0].vpc_id().unwrap().to_owned()
}

/// `[a, b]` subnet ids of a tier, by their Name tags.
async fn subnet_ids(t: &TestContext, env: &str, tier: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for letter in ["a", "b"] {
        let name = format!("medtech-{tier}-{letter}-{env}");
        let out = t
            .ec2
            .describe_subnets()
            .filters(by_name(&name))
            .send()
            .await
            .unwrap();
        assert_eq!(out.subnets().len(), 1, "subnet {name}");
        ids.push(out.subnets()[0].subnet_id().unwrap().to_owned());
    }
    ids
}

async fn route_table_id(t: &TestContext, name: &str) -> String {
    let out = t
        .ec2
        .describe_route_tables()
        .filters(by_name(name))
        .send()
        .await
        .unwrap();
    assert_eq!(out.route_tables().len(), 1, "route table {name}");
    out.route_tables()[0].route_table_id().unwrap().to_owned()
}

async fn security_group_id(t: &TestContext, name: &str) -> String {
    let out = t
        .ec2
        .describe_security_groups()
        .filters(by_name(name))
        .send()
        .await
        .unwrap();
    assert_eq!(out.security_groups().len(), 1, "security group {name}");
    out.security_groups()[0].group_id().unwrap().to_owned()
}

async fn log_group(t: &TestContext, name: &str) -> aws_sdk_cloudwatchlogs::types::LogGroup {
    let out = t
        .logs
        .describe_log_groups()
        .log_group_name_prefix(name)
        .send()
        .await
        .unwrap();
    out.log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(name))
        .unwrap_or_else(|| panic!("no log group {name}"))
        .clone()
}

async fn log_group_tags(
    t: &TestContext,
    group: &aws_sdk_cloudwatchlogs::types::LogGroup,
) -> BTreeMap<String, String> {
    let arn = group
        .log_group_arn()
        .map(str::to_owned)
        .or_else(|| group.arn().map(|a| a.trim_end_matches(":*").to_owned()))
        .unwrap();
    let out = t
        .logs
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .unwrap();
    out.tags()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

async fn rds_instance(t: &TestContext, env: &str) -> aws_sdk_rds::types::DbInstance {
    let id = format!("medtech-rds-{env}");
    let out = t
        .rds
        .describe_db_instances()
        .db_instance_identifier(&id)
        .send()
        .await
        .unwrap_or_else(|e| panic!("DescribeDBInstances {id}: {e:?}"));
    out.db_instances()[0].clone()
}

async fn replication_group(
    t: &TestContext,
    env: &str,
) -> aws_sdk_elasticache::types::ReplicationGroup {
    let id = format!("medtech-redis-{env}");
    let out = t
        .elasticache
        .describe_replication_groups()
        .replication_group_id(&id)
        .send()
        .await
        .unwrap_or_else(|e| panic!("DescribeReplicationGroups {id}: {e:?}"));
    out.replication_groups()[0].clone()
}

async fn secret(
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

async fn secret_json(t: &TestContext, name: &str) -> (String, serde_json::Map<String, Value>) {
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

async fn role(t: &TestContext, name: &str) -> aws_sdk_iam::types::Role {
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

async fn stream_summary(
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

async fn topic_arn(t: &TestContext, env: &str) -> String {
    let name = format!("medtech-alarms-{env}");
    let pages: Vec<_> = t
        .sns
        .list_topics()
        .into_paginator()
        .send()
        .try_collect()
        .await
        .unwrap();
    pages
        .iter()
        .flat_map(|p| p.topics())
        .filter_map(|x| x.topic_arn())
        .find(|arn| arn.rsplit(':').next() == Some(name.as_str()))
        .unwrap_or_else(|| panic!("no SNS topic {name}"))
        .to_owned()
}

async fn stack_alarms(t: &TestContext, env: &str) -> Vec<aws_sdk_cloudwatch::types::MetricAlarm> {
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

/// What proves a resource is the same one and was not recreated or rewritten: creation
/// times, unique ids, version ids, configuration-updated times, by resource. Missing
/// resources show as "missing" so the map is always comparable.
async fn fingerprint(t: &TestContext, env: &str) -> BTreeMap<String, String> {
    let mut f = BTreeMap::new();
    let missing = || "missing".to_owned();

    let pages: Vec<_> = t
        .kms
        .list_aliases()
        .into_paginator()
        .send()
        .try_collect()
        .await
        .unwrap();
    let alias = format!("alias/medtech-{env}");
    let key = pages
        .iter()
        .flat_map(|p| p.aliases())
        .find(|a| a.alias_name() == Some(alias.as_str()))
        .and_then(|a| a.target_key_id().map(str::to_owned));
    f.insert("kms.key".into(), key.clone().unwrap_or_else(missing));
    if let Some(key) = key {
        let policy = t
            .kms
            .get_key_policy()
            .key_id(&key)
            .policy_name("default")
            .send()
            .await
            .unwrap();
        f.insert(
            "kms.policy".into(),
            policy.policy().unwrap_or_default().to_owned(),
        );
    }

    for group in [
        format!("/medtech/{env}/audit"),
        format!("/medtech/{env}/vpc-flow"),
    ] {
        let out = t
            .logs
            .describe_log_groups()
            .log_group_name_prefix(&group)
            .send()
            .await
            .unwrap();
        let g = out
            .log_groups()
            .iter()
            .find(|g| g.log_group_name() == Some(group.as_str()));
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

    for name in [
        format!("medtech-rds-credentials-{env}"),
        format!("medtech-redis-credentials-{env}"),
    ] {
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
                let policy = t.iam.get_policy().policy_arn(arn).send().await.unwrap();
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

    let topic = topic_arn_opt(t, env).await;
    f.insert("sns".into(), topic.unwrap_or_else(missing));

    for alarm in stack_alarms(t, env).await {
        f.insert(
            format!("alarm.{}", alarm.alarm_name().unwrap_or_default()),
            format!("{:?}", alarm.alarm_configuration_updated_timestamp()),
        );
    }

    let endpoints = t
        .ec2
        .describe_vpc_endpoints()
        .filters(
            Filter::builder()
                .name("tag:Environment")
                .values(env)
                .build(),
        )
        .send()
        .await
        .unwrap();
    for e in endpoints.vpc_endpoints() {
        f.insert(
            format!("vpce.{}", e.vpc_endpoint_id().unwrap_or_default()),
            format!("{:?}", e.creation_timestamp()),
        );
    }
    let flows = t.ec2.describe_flow_logs().send().await.unwrap();
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

async fn topic_arn_opt(t: &TestContext, env: &str) -> Option<String> {
    let name = format!("medtech-alarms-{env}");
    let out = t.sns.list_topics().send().await.expect("sns ListTopics");
    out.topics()
        .iter()
        .filter_map(|x| x.topic_arn())
        .find(|arn| arn.rsplit(':').next() == Some(name.as_str()))
        .map(str::to_owned)
}

// ---------------------------------------------------------------------------------------------
// Areas of the first `up`: every STACK.md setting, resource by resource
// ---------------------------------------------------------------------------------------------

async fn check_kms(t: &TestContext, env: &str) {
    let account = t.account_id().await;
    let key = stack_key(t, env).await;
    let key_id = key.key_id();

    // One alias for the environment, pointing at this key.
    let aliases = t.kms.list_aliases().key_id(key_id).send().await.unwrap();
    let names: Vec<&str> = aliases
        .aliases()
        .iter()
        .filter_map(|a| a.alias_name())
        .collect();
    assert_eq!(
        names,
        [format!("alias/medtech-{env}")],
        "aliases of the key"
    );

    // Symmetric, enabled, customer managed, rotation on.
    assert!(key.enabled(), "key disabled");
    assert_eq!(key.key_state().map(|s| s.as_str()), Some("Enabled"));
    assert_eq!(
        key.key_spec().map(|s| s.as_str()),
        Some("SYMMETRIC_DEFAULT")
    );
    assert_eq!(key.key_usage().map(|s| s.as_str()), Some("ENCRYPT_DECRYPT"));
    assert_eq!(key.key_manager().map(|s| s.as_str()), Some("CUSTOMER"));
    let rotation = t
        .kms
        .get_key_rotation_status()
        .key_id(key_id)
        .send()
        .await
        .unwrap();
    assert!(rotation.key_rotation_enabled(), "key rotation is off");

    // GAP: the emulator does not evaluate key policies (a key CloudWatch Logs may not use
    // still works there), so the policy is checked as a document.
    // Key policy: the account administers the key; CloudWatch Logs of this region may use it,
    // but only for log groups of this account and region (encryption context condition).
    let policy = t
        .kms
        .get_key_policy()
        .key_id(key_id)
        .policy_name("default")
        .send()
        .await
        .unwrap();
    let policy = policy_json(policy.policy().expect("key policy"));
    let statements = as_list(policy.get("Statement"));
    assert!(
        !statements.is_empty(),
        "key policy without statements: {policy}"
    );
    let root = format!("arn:aws:iam::{account}:root");
    let logs_principal = format!("logs.{REGION}.amazonaws.com");
    let mut account_admin = false;
    let mut logs_ok = false;
    for s in &statements {
        let allow = s.get("Effect") == Some(&Value::from("Allow"));
        let principal = s.get("Principal").cloned().unwrap_or(Value::Null);
        assert!(
            principal != "*" && principal.get("AWS") != Some(&Value::from("*")),
            "key policy grants to everyone: {s}"
        );
        let actions = as_strings(s.get("Action"));
        let aws = as_strings(principal.get("AWS"));
        if allow
            && aws.iter().any(|p| *p == root || *p == account)
            && actions.iter().any(|a| a == "kms:*" || a == "*")
        {
            account_admin = true;
        }
        let services = as_strings(principal.get("Service"));
        if allow && services.contains(&logs_principal) {
            for needed in ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"] {
                assert!(
                    actions.iter().any(|a| glob(a, needed)),
                    "logs statement does not allow {needed}: {s}"
                );
            }
            // The condition: kms:EncryptionContext:aws:logs:arn, scoped to this account and region.
            let conditions = s
                .get("Condition")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let mut scoped = false;
            for (_operator, body) in conditions {
                for (k, v) in body.as_object().cloned().unwrap_or_default() {
                    if k.eq_ignore_ascii_case("kms:EncryptionContext:aws:logs:arn") {
                        let values = as_strings(Some(&v));
                        let prefix = format!("arn:aws:logs:{REGION}:{account}:");
                        assert!(
                            !values.is_empty() && values.iter().all(|x| x.starts_with(&prefix)),
                            "logs encryption-context condition not scoped to {prefix}: {s}"
                        );
                        scoped = true;
                    }
                }
            }
            assert!(
                scoped,
                "logs statement lacks a kms:EncryptionContext:aws:logs:arn condition: {s}"
            );
            logs_ok = true;
        }
        // Other service principals are not forbidden by the contract (CloudWatch alarms,
        // for one, need kms:Decrypt/GenerateDataKey* to publish to the encrypted topic).
    }
    assert!(
        account_admin,
        "no statement lets the account ({root}) administer the key: {policy}"
    );
    assert!(logs_ok, "no statement for {logs_principal}: {policy}");

    // Tags.
    let tags = t
        .kms
        .list_resource_tags()
        .key_id(key_id)
        .send()
        .await
        .unwrap();
    let tags: BTreeMap<String, String> = tags
        .tags()
        .iter()
        .map(|t| (t.tag_key().to_owned(), t.tag_value().to_owned()))
        .collect();
    assert_tags("kms key", &tags, env, None);
}

async fn check_log_groups_and_flow_logs(t: &TestContext, env: &str) {
    let key = stack_key(t, env).await;
    let key_arn = key.arn().unwrap();

    let audit = log_group(t, &format!("/medtech/{env}/audit")).await;
    assert_eq!(audit.kms_key_id(), Some(key_arn), "audit log group key");
    assert_eq!(
        audit.retention_in_days(),
        Some(365),
        "audit retention (default 365)"
    );
    assert_tags(
        "audit log group",
        &log_group_tags(t, &audit).await,
        env,
        Some(&format!("/medtech/{env}/audit")),
    );

    let flow_group_name = format!("/medtech/{env}/vpc-flow");
    let flow_group = log_group(t, &flow_group_name).await;
    assert_eq!(flow_group.kms_key_id(), Some(key_arn), "flow log group key");
    assert_eq!(
        flow_group.retention_in_days(),
        audit.retention_in_days(),
        "flow log retention = audit retention"
    );
    assert_tags(
        "flow log group",
        &log_group_tags(t, &flow_group).await,
        env,
        Some(&flow_group_name),
    );

    // RDS exports into groups made before it, encrypted and kept like the others.
    for kind in ["postgresql", "upgrade"] {
        let name = format!("/aws/rds/instance/medtech-rds-{env}/{kind}");
        let group = log_group(t, &name).await;
        assert_eq!(group.kms_key_id(), Some(key_arn), "{name} key");
        assert_eq!(
            group.retention_in_days(),
            audit.retention_in_days(),
            "{name}"
        );
        assert_tags(&name, &log_group_tags(t, &group).await, env, Some(&name));
    }
    let policy = t
        .kms
        .get_key_policy()
        .key_id(key.key_id())
        .policy_name("default")
        .send()
        .await
        .unwrap();
    let policy: Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let logs_statement = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "CloudWatchLogsForThisEnvironment")
        .unwrap();
    let arns =
        logs_statement["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"].to_string();
    assert!(
        arns.contains(&format!("log-group:/aws/rds/instance/medtech-rds-{env}/*")),
        "the key policy does not let CloudWatch Logs encrypt the RDS exports: {arns}"
    );

    let vpc = vpc_id(t, env).await;
    let role = role(t, &format!("medtech-flow-logs-{env}")).await;
    let flows = t
        .ec2
        .describe_flow_logs()
        .filter(Filter::builder().name("resource-id").values(&vpc).build())
        .send()
        .await
        .unwrap();
    assert_eq!(
        flows.flow_logs().len(),
        1,
        "flow logs of the VPC: {:?}",
        flows.flow_logs()
    );
    let flow = &flows.flow_logs()[0];
    assert_eq!(flow.traffic_type().map(|x| x.as_str()), Some("ALL"));
    assert_eq!(
        flow.log_destination_type().map(|x| x.as_str()),
        Some("cloud-watch-logs")
    );
    assert_eq!(flow.log_group_name(), Some(flow_group_name.as_str()));
    assert_eq!(flow.deliver_logs_permission_arn(), Some(role.arn()));
    // The emulator reports FAILED when the group did not exist at creation.
    // GAP: no traffic flows in the emulator, so actual delivery into the encrypted group
    // through the role (which needs the key policy's logs statement) is not exercised.
    assert_eq!(flow.deliver_logs_status(), Some("SUCCESS"));
    assert_eq!(flow.flow_log_status(), Some("ACTIVE"));
    assert_tags("flow log", &crate::common::tags(flow.tags()), env, None);
}

async fn check_endpoints(t: &TestContext, env: &str) {
    let vpc = vpc_id(t, env).await;
    let private = sorted(subnet_ids(t, env, "private").await);
    let private_rt = route_table_id(t, &format!("medtech-private-rt-{env}")).await;
    let vpcs = t.ec2.describe_vpcs().vpc_ids(&vpc).send().await.unwrap();
    let vpc_cidr = vpcs.vpcs()[0].cidr_block().unwrap().to_owned();
    let out = t
        .ec2
        .describe_vpc_endpoints()
        .filters(Filter::builder().name("vpc-id").values(&vpc).build())
        .send()
        .await
        .unwrap();
    let endpoints: Vec<_> = out
        .vpc_endpoints()
        .iter()
        .filter(|e| !matches!(e.state().map(|s| s.as_str()), Some("deleted" | "Deleted")))
        .collect();
    let kinds: BTreeSet<(String, String)> = endpoints
        .iter()
        .map(|e| {
            (
                e.vpc_endpoint_type()
                    .map(|x| x.as_str().to_owned())
                    .unwrap_or_default(),
                e.service_name().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from([
            ("Gateway".to_owned(), format!("com.amazonaws.{REGION}.s3")),
            (
                "Interface".to_owned(),
                format!("com.amazonaws.{REGION}.kinesis-streams")
            ),
            (
                "Interface".to_owned(),
                format!("com.amazonaws.{REGION}.secretsmanager")
            ),
        ]),
        "VPC endpoints"
    );
    assert_eq!(endpoints.len(), 3, "one endpoint per service");
    for e in endpoints {
        let what = e.service_name().unwrap_or_default();
        assert_eq!(
            e.state()
                .map(|s| s.as_str().to_ascii_lowercase())
                .as_deref(),
            Some("available"),
            "{what}"
        );
        if e.vpc_endpoint_type().map(|x| x.as_str()) == Some("Interface") {
            assert_eq!(sorted(e.subnet_ids().to_vec()), private, "{what}: subnets");
            assert_eq!(e.private_dns_enabled(), Some(true), "{what}: private DNS");
            // Not a STACK.md row, but implied by it: the VPC's default group has no rules,
            // so an interface endpoint is usable only through a group that admits HTTPS from
            // the VPC, and (like rds-sg/redis-sg) it must not be open to the world.
            let groups: Vec<String> = e
                .groups()
                .iter()
                .filter_map(|g| g.group_id().map(str::to_owned))
                .collect();
            assert!(!groups.is_empty(), "{what}: no security group");
            let described = t
                .ec2
                .describe_security_groups()
                .set_group_ids(Some(groups.clone()))
                .send()
                .await
                .unwrap();
            let mut https_from_vpc = false;
            for g in described.security_groups() {
                assert_ne!(
                    g.group_name(),
                    Some("default"),
                    "{what}: uses the locked-down default group"
                );
                for p in g.ip_permissions() {
                    for r in p.ip_ranges() {
                        assert_ne!(r.cidr_ip(), Some("0.0.0.0/0"), "{what}: open to the world");
                        let covers_443 = p.ip_protocol() == Some("-1")
                            || (p.ip_protocol() == Some("tcp")
                                && p.from_port().unwrap_or(0) <= 443
                                && p.to_port().unwrap_or(0) >= 443);
                        if covers_443 && r.cidr_ip() == Some(vpc_cidr.as_str()) {
                            https_from_vpc = true;
                        }
                    }
                }
            }
            assert!(
                https_from_vpc,
                "{what}: no group admits tcp 443 from {vpc_cidr}"
            );
        } else {
            assert_eq!(
                e.route_table_ids(),
                std::slice::from_ref(&private_rt),
                "{what}: route tables"
            );
        }
        assert_tags(what, &crate::common::tags(e.tags()), env, None);
    }
}

async fn check_kinesis(t: &TestContext, env: &str) {
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
        24,
        "retention hours (default 24)"
    );
    assert_eq!(s.encryption_type().map(|x| x.as_str()), Some("KMS"));
    assert!(is_key(s.key_id(), &key, env), "stream key {:?}", s.key_id());
    let name = format!("medtech-kinesis-{env}");
    let tags = t
        .kinesis
        .list_tags_for_stream()
        .stream_name(&name)
        .send()
        .await
        .unwrap();
    let tags = pairs(tags.tags().iter().map(|t| (Some(t.key()), t.value())));
    assert_tags("kinesis", &tags, env, Some(&name));
}

async fn check_secrets(t: &TestContext, env: &str) {
    let key = stack_key(t, env).await;
    for name in [
        format!("medtech-rds-credentials-{env}"),
        format!("medtech-redis-credentials-{env}"),
    ] {
        let d = secret(t, &name).await;
        // GAP: the emulator does not check that a Secrets Manager KmsKeyId exists, so any
        // reference to the stack key (id, ARN, alias) is accepted.
        assert!(
            is_key(d.kms_key_id(), &key, env),
            "{name}: key {:?}",
            d.kms_key_id()
        );
        assert!(
            d.deleted_date().is_none(),
            "{name} is scheduled for deletion"
        );
        let tags = pairs(d.tags().iter().map(|t| (t.key(), t.value())));
        assert_tags(&name, &tags, env, Some(&name));
    }

    // RDS credentials: exactly the documented fields, host/port the live endpoint.
    let db = rds_instance(t, env).await;
    let endpoint = db.endpoint().expect("RDS endpoint");
    let (_, rds) = secret_json(t, &format!("medtech-rds-credentials-{env}")).await;
    let keys: BTreeSet<&str> = rds.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from(["dbname", "engine", "host", "password", "port", "username"]),
        "RDS secret fields"
    );
    assert_eq!(rds["engine"], Value::from("postgres"));
    assert_eq!(
        rds["host"].as_str(),
        endpoint.address(),
        "secret host = endpoint"
    );
    let port = rds["port"]
        .as_i64()
        .or_else(|| rds["port"].as_str().and_then(|p| p.parse().ok()));
    assert_eq!(
        port,
        endpoint.port().map(i64::from),
        "secret port = endpoint port"
    );
    assert_eq!(
        rds["username"].as_str(),
        db.master_username(),
        "secret username"
    );
    // Without DBName, RDS PostgreSQL has only its default database `postgres`.
    assert_eq!(
        rds["dbname"].as_str(),
        Some(db.db_name().unwrap_or("postgres")),
        "secret dbname"
    );
    let password = rds["password"].as_str().expect("password is a string");
    assert!(
        password.chars().count() >= 32,
        "password has {} chars",
        password.len()
    );
    for bad in ['/', '@', '"', ' '] {
        assert!(!password.contains(bad), "password contains {bad:?}");
    }
    assert!(
        password.is_ascii() && password.chars().all(|c| !c.is_control()),
        "password not printable ASCII"
    );
    // GAP: RDS never returns MasterUserPassword, so that the instance uses this password
    // cannot be read back; the emulator does apply RDS's password rules on create.

    // Redis credentials: auth_token, 64 alphanumerics.
    let (_, redis) = secret_json(t, &format!("medtech-redis-credentials-{env}")).await;
    let keys: Vec<&str> = redis.keys().map(String::as_str).collect();
    assert_eq!(keys, ["auth_token"], "Redis secret fields");
    let token = redis["auth_token"]
        .as_str()
        .expect("auth_token is a string");
    assert_eq!(token.len(), 64, "auth_token length");
    assert!(
        token.chars().all(|c| c.is_ascii_alphanumeric()),
        "auth_token not alphanumeric"
    );
    // GAP: ElastiCache never returns the AUTH token; only AuthTokenEnabled can be read back
    // (checked with the replication group).
}

async fn check_rds(t: &TestContext, env: &str) {
    let key = stack_key(t, env).await;
    let key_arn = key.arn().unwrap();
    let private = sorted(subnet_ids(t, env, "private").await);
    let vpc = vpc_id(t, env).await;
    let db = rds_instance(t, env).await;
    let id = format!("medtech-rds-{env}");

    // Parameter group: postgres family of the engine, the three parameters.
    let pg_name = format!("medtech-pg-{env}");
    let pgs = t
        .rds
        .describe_db_parameter_groups()
        .db_parameter_group_name(&pg_name)
        .send()
        .await
        .unwrap();
    let pg = &pgs.db_parameter_groups()[0];
    let version = db.engine_version().expect("engine version");
    let major = if version.starts_with("9.") {
        version.splitn(3, '.').take(2).collect::<Vec<_>>().join(".")
    } else {
        version.split('.').next().unwrap().to_owned()
    };
    assert_eq!(
        pg.db_parameter_group_family(),
        Some(format!("postgres{major}").as_str()),
        "parameter group family for engine {version}"
    );
    let params: Vec<_> = t
        .rds
        .describe_db_parameters()
        .db_parameter_group_name(&pg_name)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .unwrap();
    let params: BTreeMap<&str, &str> = params
        .iter()
        .flat_map(|p| p.parameters())
        .filter_map(|p| Some((p.parameter_name()?, p.parameter_value()?)))
        .collect();
    for name in ["rds.force_ssl", "log_connections", "log_disconnections"] {
        assert_eq!(
            params.get(name).copied(),
            Some("1"),
            "parameter {name} in {params:?}"
        );
    }
    let pg_tags = t
        .rds
        .list_tags_for_resource()
        .resource_name(pg.db_parameter_group_arn().unwrap())
        .send()
        .await
        .unwrap();
    assert_tags(
        "db parameter group",
        &pairs(pg_tags.tag_list().iter().map(|t| (t.key(), t.value()))),
        env,
        Some(&pg_name),
    );

    // Subnet group: the two private subnets.
    let sg_name = format!("medtech-db-subnets-{env}");
    let groups = t
        .rds
        .describe_db_subnet_groups()
        .db_subnet_group_name(&sg_name)
        .send()
        .await
        .unwrap();
    let group = &groups.db_subnet_groups()[0];
    let members: Vec<String> = group
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier().map(str::to_owned))
        .collect();
    assert_eq!(sorted(members), private, "DB subnet group subnets");
    assert_eq!(group.vpc_id(), Some(vpc.as_str()));
    let sg_tags = t
        .rds
        .list_tags_for_resource()
        .resource_name(group.db_subnet_group_arn().unwrap())
        .send()
        .await
        .unwrap();
    assert_tags(
        "db subnet group",
        &pairs(sg_tags.tag_list().iter().map(|t| (t.key(), t.value()))),
        env,
        Some(&sg_name),
    );

    // The instance: every row of STACK.md's rds line.
    assert_eq!(db.db_instance_status(), Some("available"));
    assert_eq!(db.engine(), Some("postgres"));
    assert_eq!(db.multi_az(), Some(true), "Multi-AZ");
    assert_eq!(db.storage_encrypted(), Some(true), "storage encrypted");
    assert_eq!(db.kms_key_id(), Some(key_arn), "storage key");
    assert_eq!(db.storage_type(), Some("gp3"));
    assert_eq!(db.backup_retention_period(), Some(30), "backup retention");
    assert_eq!(
        sorted(db.enabled_cloudwatch_logs_exports().to_vec()),
        ["postgresql", "upgrade"],
        "log exports"
    );
    assert_eq!(db.publicly_accessible(), Some(false), "publicly accessible");
    assert_eq!(db.deletion_protection(), Some(true), "deletion protection");
    assert_eq!(
        db.copy_tags_to_snapshot(),
        Some(true),
        "copy tags to snapshot"
    );
    assert_eq!(
        db.auto_minor_version_upgrade(),
        Some(true),
        "auto minor version upgrade"
    );
    assert_eq!(
        db.iam_database_authentication_enabled(),
        Some(true),
        "IAM DB auth"
    );
    let interval = db.monitoring_interval().unwrap_or_default();
    assert!(
        [1, 5, 10, 15, 30, 60].contains(&interval),
        "enhanced monitoring interval {interval}"
    );
    let monitoring = role(t, &format!("medtech-rds-monitoring-{env}")).await;
    assert_eq!(
        db.monitoring_role_arn(),
        Some(monitoring.arn()),
        "monitoring role"
    );
    assert_eq!(
        db.performance_insights_enabled(),
        Some(true),
        "Performance Insights"
    );
    assert_eq!(
        db.performance_insights_kms_key_id(),
        Some(key_arn),
        "PI key"
    );
    assert_eq!(
        db.db_parameter_groups()
            .iter()
            .filter_map(|g| g.db_parameter_group_name())
            .collect::<Vec<_>>(),
        [pg_name.as_str()],
        "parameter group"
    );
    assert_eq!(
        db.db_subnet_group().and_then(|g| g.db_subnet_group_name()),
        Some(sg_name.as_str())
    );
    let rds_sg = security_group_id(t, &format!("medtech-rds-sg-{env}")).await;
    assert_eq!(
        db.vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id())
            .collect::<Vec<_>>(),
        [rds_sg.as_str()],
        "instance security groups"
    );
    let endpoint = db.endpoint().expect("endpoint");
    assert!(endpoint.address().is_some_and(|a| !a.is_empty()));
    assert_eq!(endpoint.port(), Some(5432), "the only port rds-sg opens");
    assert!(
        db.secondary_availability_zone().is_some(),
        "Multi-AZ instance without a standby AZ"
    );
    assert_tags(
        "rds instance",
        &pairs(db.tag_list().iter().map(|t| (t.key(), t.value()))),
        env,
        Some(&id),
    );
}

async fn check_redis(t: &TestContext, env: &str) {
    let key = stack_key(t, env).await;
    let private = sorted(subnet_ids(t, env, "private").await);
    let vpc = vpc_id(t, env).await;
    let redis_sg = security_group_id(t, &format!("medtech-redis-sg-{env}")).await;

    let subnets_name = format!("medtech-redis-subnets-{env}");
    let groups = t
        .elasticache
        .describe_cache_subnet_groups()
        .cache_subnet_group_name(&subnets_name)
        .send()
        .await
        .unwrap();
    let group = &groups.cache_subnet_groups()[0];
    let members: Vec<String> = group
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier().map(str::to_owned))
        .collect();
    assert_eq!(sorted(members), private, "cache subnet group subnets");
    assert_eq!(group.vpc_id(), Some(vpc.as_str()));
    let tags = t
        .elasticache
        .list_tags_for_resource()
        .resource_name(group.arn().unwrap())
        .send()
        .await
        .unwrap();
    assert_tags(
        "cache subnet group",
        &pairs(tags.tag_list().iter().map(|t| (t.key(), t.value()))),
        env,
        Some(&subnets_name),
    );

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
        let out = t
            .elasticache
            .describe_cache_clusters()
            .cache_cluster_id(member)
            .send()
            .await
            .unwrap();
        let c = &out.cache_clusters()[0];
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
    let tags = t
        .elasticache
        .list_tags_for_resource()
        .resource_name(rg.arn().unwrap())
        .send()
        .await
        .unwrap();
    assert_tags(
        "replication group",
        &pairs(tags.tag_list().iter().map(|t| (t.key(), t.value()))),
        env,
        Some(&id),
    );
}

/// `action (lowercase) -> resources` of every statement of every policy attached to `role`;
/// asserts no inline policy and only customer-managed policies of this account.
async fn role_permissions(
    t: &TestContext,
    role_name: &str,
    env: &str,
    account: &str,
) -> BTreeMap<String, BTreeSet<String>> {
    let inline = t
        .iam
        .list_role_policies()
        .role_name(role_name)
        .send()
        .await
        .unwrap();
    assert!(
        inline.policy_names().is_empty(),
        "{role_name} has inline policies {:?}",
        inline.policy_names()
    );
    let attached = t
        .iam
        .list_attached_role_policies()
        .role_name(role_name)
        .send()
        .await
        .unwrap();
    assert!(
        !attached.attached_policies().is_empty(),
        "{role_name} has no policy"
    );
    let mut grants: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for p in attached.attached_policies() {
        let arn = p.policy_arn().unwrap();
        assert!(
            arn.starts_with(&format!("arn:aws:iam::{account}:policy/")),
            "{role_name}: {arn} is not a customer-managed policy of this account"
        );
        let policy = t.iam.get_policy().policy_arn(arn).send().await.unwrap();
        let policy = policy.policy().unwrap();
        let name = policy.policy_name().unwrap_or_default();
        assert!(named_for(name, env), "{role_name}: policy name {name}");
        let tags = t
            .iam
            .list_policy_tags()
            .policy_arn(arn)
            .send()
            .await
            .unwrap();
        assert_tags(
            arn,
            &tags
                .tags()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned()))
                .collect(),
            env,
            Some(name),
        );
        let version = t
            .iam
            .get_policy_version()
            .policy_arn(arn)
            .version_id(policy.default_version_id().unwrap())
            .send()
            .await
            .unwrap();
        let doc = policy_json(version.policy_version().unwrap().document().unwrap());
        for s in as_list(doc.get("Statement")) {
            assert_eq!(s.get("Effect"), Some(&Value::from("Allow")), "{arn}: {s}");
            assert!(
                s.get("NotAction").is_none() && s.get("NotResource").is_none(),
                "{arn}: NotAction/NotResource in {s}"
            );
            let resources = as_strings(s.get("Resource"));
            assert!(
                !resources.is_empty(),
                "{arn}: statement without Resource: {s}"
            );
            for a in as_strings(s.get("Action")) {
                grants
                    .entry(a.to_ascii_lowercase())
                    .or_default()
                    .extend(resources.iter().cloned());
            }
        }
    }
    grants
}

fn expect_grants(pairs: &[(&[&str], &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
    let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (actions, resources) in pairs {
        for a in *actions {
            m.entry(a.to_ascii_lowercase())
                .or_default()
                .extend(resources.iter().map(|r| (*r).to_owned()));
        }
    }
    m
}

fn trusted_services(role: &aws_sdk_iam::types::Role) -> Vec<String> {
    trusted(role, "Service")
}

/// The principals of one kind (`Service`, `AWS`) the role's trust policy lets assume it.
fn trusted(role: &aws_sdk_iam::types::Role, kind: &str) -> Vec<String> {
    let doc = policy_json(role.assume_role_policy_document().expect("trust policy"));
    let mut principals = Vec::new();
    for s in as_list(doc.get("Statement")) {
        let principal = s.get("Principal").cloned().unwrap_or(Value::Null);
        assert!(
            principal != "*" && principal.get("AWS") != Some(&Value::from("*")),
            "{}: anyone may assume it: {s}",
            role.role_name()
        );
        principals.extend(as_strings(principal.get(kind)));
    }
    principals
}

async fn check_iam(t: &TestContext, env: &str) {
    let account = t.account_id().await;
    let key = stack_key(t, env).await;
    let key_arn = key.arn().unwrap().to_owned();
    let stream_arn = stream_summary(t, env).await.stream_arn().to_owned();
    let rds_secret = secret(t, &format!("medtech-rds-credentials-{env}")).await;
    let redis_secret = secret(t, &format!("medtech-redis-credentials-{env}")).await;
    let (rds_secret, redis_secret) = (rds_secret.arn().unwrap(), redis_secret.arn().unwrap());

    for name in role_names(env) {
        let r = role(t, &name).await;
        let tags = t
            .iam
            .list_role_tags()
            .role_name(&name)
            .send()
            .await
            .unwrap();
        assert_tags(
            &name,
            &tags
                .tags()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned()))
                .collect(),
            env,
            Some(&name),
        );
        // Without configured principals the application roles trust this account only.
        let root = format!("arn:aws:iam::{account}:root");
        let (services, accounts): (&[&str], &[&str]) = match name.strip_suffix(&format!("-{env}")) {
            Some("medtech-kinesis-producer" | "medtech-secrets-reader") => (&[], &[root.as_str()]),
            Some("medtech-flow-logs") => (&["vpc-flow-logs.amazonaws.com"], &[]),
            Some("medtech-rds-monitoring") => (&["monitoring.rds.amazonaws.com"], &[]),
            _ => panic!("{name}: which principals may assume it?"),
        };
        assert_eq!(trusted_services(&r), services, "{name}: trusted services");
        assert_eq!(trusted(&r, "AWS"), accounts, "{name}: trusted accounts");
    }

    // The producer: PutRecord(s)/DescribeStreamSummary on this stream, GenerateDataKey on
    // this key, nothing else, no wildcard resource.
    let producer = format!("medtech-kinesis-producer-{env}");
    let grants = role_permissions(t, &producer, env, &account).await;
    assert_eq!(
        grants,
        expect_grants(&[
            (
                &[
                    "kinesis:PutRecord",
                    "kinesis:PutRecords",
                    "kinesis:DescribeStreamSummary"
                ],
                &[stream_arn.as_str()],
            ),
            (&["kms:GenerateDataKey"], &[key_arn.as_str()]),
        ]),
        "{producer}: permissions"
    );
    let attached = t
        .iam
        .list_attached_role_policies()
        .role_name(&producer)
        .send()
        .await
        .unwrap();
    assert_eq!(
        attached
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_name())
            .collect::<Vec<_>>(),
        [producer.as_str()],
        "{producer}: policy name"
    );

    // The reader: GetSecretValue/DescribeSecret on the two secrets, Decrypt on this key.
    let reader = format!("medtech-secrets-reader-{env}");
    let grants = role_permissions(t, &reader, env, &account).await;
    assert_eq!(
        grants,
        expect_grants(&[
            (
                &[
                    "secretsmanager:GetSecretValue",
                    "secretsmanager:DescribeSecret"
                ],
                &[rds_secret, redis_secret],
            ),
            (&["kms:Decrypt"], &[key_arn.as_str()]),
        ]),
        "{reader}: permissions"
    );
    let attached = t
        .iam
        .list_attached_role_policies()
        .role_name(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(
        attached
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_name())
            .collect::<Vec<_>>(),
        [reader.as_str()],
        "{reader}: policy name"
    );

    // Flow-logs role: assumable by VPC Flow Logs, customer-managed policy that can write logs,
    // every KMS action (if any) on this key only.
    let flow = format!("medtech-flow-logs-{env}");
    assert_eq!(
        trusted_services(&role(t, &flow).await),
        ["vpc-flow-logs.amazonaws.com"],
        "{flow}: trust"
    );
    let grants = role_permissions(t, &flow, env, &account).await;
    for needed in ["logs:createlogstream", "logs:putlogevents"] {
        assert!(
            grants.contains_key(needed),
            "{flow} lacks {needed}: {grants:?}"
        );
    }
    for (action, resources) in &grants {
        // STACK.md: every KMS action names this stack's key, never `*`; and no wildcard
        // KMS action (kms:* would make the role a key administrator).
        if action.starts_with("kms:") || action == "*" {
            assert_eq!(
                resources,
                &BTreeSet::from([key_arn.clone()]),
                "{flow}: {action}"
            );
            assert!(
                !action.contains('*'),
                "{flow}: wildcard KMS action {action}"
            );
        }
    }

    // Monitoring role: assumable by RDS enhanced monitoring, no inline policy.
    // It may carry AWS's managed AmazonRDSEnhancedMonitoringRole (the emulator provides it),
    // so only "no inline policies" and "something attached" are asserted here.
    let monitoring = format!("medtech-rds-monitoring-{env}");
    assert_eq!(
        trusted_services(&role(t, &monitoring).await),
        ["monitoring.rds.amazonaws.com"],
        "{monitoring}: trust"
    );
    let inline = t
        .iam
        .list_role_policies()
        .role_name(&monitoring)
        .send()
        .await
        .unwrap();
    assert!(
        inline.policy_names().is_empty(),
        "{monitoring}: inline {:?}",
        inline.policy_names()
    );
    let attached = t
        .iam
        .list_attached_role_policies()
        .role_name(&monitoring)
        .send()
        .await
        .unwrap();
    assert!(
        !attached.attached_policies().is_empty(),
        "{monitoring}: no policy"
    );
    // GAP: IAM policies are not evaluated by the emulator, so whether a role can really do
    // what its policy says (and nothing more) is checked on the documents only.
}

async fn check_alarms(t: &TestContext, env: &str) {
    let key = stack_key(t, env).await;
    let topic = topic_arn(t, env).await;
    let attrs = t
        .sns
        .get_topic_attributes()
        .topic_arn(&topic)
        .send()
        .await
        .unwrap();
    let kms = attrs
        .attributes()
        .and_then(|a| a.get("KmsMasterKeyId"))
        .map(String::as_str);
    // GAP: the emulator does not check that an SNS KmsMasterKeyId exists; the reference is
    // compared with the stack key's id, ARN and alias.
    assert!(is_key(kms, &key, env), "topic KmsMasterKeyId {kms:?}");
    let tags = t
        .sns
        .list_tags_for_resource()
        .resource_arn(&topic)
        .send()
        .await
        .unwrap();
    assert_tags(
        "alarm topic",
        &tags
            .tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect(),
        env,
        Some(&format!("medtech-alarms-{env}")),
    );

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
        let tags = t
            .cloudwatch
            .list_tags_for_resource()
            .resource_arn(a.alarm_arn().unwrap())
            .send()
            .await
            .unwrap();
        assert_tags(
            name,
            &pairs(tags.tags().iter().map(|t| (t.key(), t.value()))),
            env,
            Some(name),
        );
    }
    assert_eq!(covered.len(), 6, "{covered:?}");
}

async fn check_outputs(t: &TestContext, env: &str) {
    let outputs = t.outputs();
    let s = |k: &str| -> String {
        outputs
            .get(k)
            .unwrap_or_else(|| panic!("outputs: {k} missing"))
            .as_str()
            .unwrap_or_else(|| panic!("outputs: {k} is not a string: {}", outputs[k]))
            .to_owned()
    };
    let mut problems = Vec::new();
    for k in STRING_OUTPUTS {
        match outputs.get(*k) {
            Some(Value::String(v)) if !v.is_empty() => {}
            other => problems.push(format!("{k}: {other:?} (want a non-empty string)")),
        }
    }
    for k in LIST_OUTPUTS {
        match outputs.get(*k) {
            Some(Value::Array(v)) if v.len() == 2 && v.iter().all(Value::is_string) => {}
            other => problems.push(format!("{k}: {other:?} (want two strings)")),
        }
    }
    for k in INTEGER_OUTPUTS {
        match outputs.get(*k) {
            Some(Value::Number(n)) if n.is_u64() => {}
            other => problems.push(format!("{k}: {other:?} (want an integer)")),
        }
    }
    assert!(
        problems.is_empty(),
        "outputs file:\n{}",
        problems.join("\n")
    );

    // Each points at what the emulator holds.
    assert_eq!(s("environment"), env);
    assert_eq!(s("region"), REGION);
    assert_eq!(s("vpc_id"), vpc_id(t, env).await);
    let list = |k: &str| -> Vec<String> {
        outputs[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        list("public_subnet_ids"),
        subnet_ids(t, env, "public").await
    );
    assert_eq!(
        list("private_subnet_ids"),
        subnet_ids(t, env, "private").await
    );
    let nat = t
        .ec2
        .describe_nat_gateways()
        .nat_gateway_ids(s("nat_gateway_id"))
        .send()
        .await
        .unwrap();
    let nat = &nat.nat_gateways()[0];
    assert_eq!(nat.state().map(|x| x.as_str()), Some("available"));
    assert_eq!(
        nat.nat_gateway_addresses()[0].allocation_id(),
        Some(s("nat_eip_id").as_str())
    );
    assert_eq!(
        s("public_route_table_id"),
        route_table_id(t, &format!("medtech-public-rt-{env}")).await
    );
    assert_eq!(
        s("private_route_table_id"),
        route_table_id(t, &format!("medtech-private-rt-{env}")).await
    );
    let key = stack_key(t, env).await;
    assert_eq!(s("kms_key_id"), key.key_id());
    assert_eq!(Some(s("kms_key_arn").as_str()), key.arn());
    assert_eq!(s("kms_alias"), format!("alias/medtech-{env}"));
    let audit = log_group(t, &s("audit_log_group_name")).await;
    assert_eq!(
        audit.log_group_name(),
        Some(format!("/medtech/{env}/audit").as_str())
    );
    let stream = stream_summary(t, env).await;
    assert_eq!(s("kinesis_stream_name"), stream.stream_name());
    assert_eq!(s("kinesis_stream_arn"), stream.stream_arn());
    let db = rds_instance(t, env).await;
    assert_eq!(
        Some(s("rds_instance_identifier").as_str()),
        db.db_instance_identifier()
    );
    let endpoint = db.endpoint().expect("endpoint");
    assert_eq!(Some(s("rds_endpoint").as_str()), endpoint.address());
    assert_eq!(outputs["rds_port"].as_i64(), endpoint.port().map(i64::from));
    for (k, name) in [
        ("rds_secret_arn", format!("medtech-rds-credentials-{env}")),
        (
            "redis_secret_arn",
            format!("medtech-redis-credentials-{env}"),
        ),
    ] {
        assert_eq!(Some(s(k).as_str()), secret(t, &name).await.arn(), "{k}");
    }
    assert_eq!(
        s("rds_security_group_id"),
        security_group_id(t, &format!("medtech-rds-sg-{env}")).await
    );
    assert_eq!(
        s("redis_security_group_id"),
        security_group_id(t, &format!("medtech-redis-sg-{env}")).await
    );
    let rg = replication_group(t, env).await;
    let ng = &rg.node_groups()[0];
    assert_eq!(
        Some(s("redis_primary_endpoint").as_str()),
        ng.primary_endpoint().and_then(|e| e.address())
    );
    assert_eq!(
        Some(s("redis_reader_endpoint").as_str()),
        ng.reader_endpoint().and_then(|e| e.address())
    );
    assert_eq!(outputs["redis_port"].as_i64(), Some(6379));
    assert_eq!(
        outputs["redis_port"].as_i64(),
        ng.primary_endpoint().and_then(|e| e.port()).map(i64::from)
    );
    let dbsg = t
        .rds
        .describe_db_subnet_groups()
        .db_subnet_group_name(s("db_subnet_group_name"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        dbsg.db_subnet_groups()[0].db_subnet_group_name(),
        Some(format!("medtech-db-subnets-{env}").as_str())
    );
    let csg = t
        .elasticache
        .describe_cache_subnet_groups()
        .cache_subnet_group_name(s("elasticache_subnet_group_name"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        csg.cache_subnet_groups()[0].cache_subnet_group_name(),
        Some(format!("medtech-redis-subnets-{env}").as_str())
    );
    assert_eq!(
        s("kinesis_producer_role_arn"),
        role(t, &format!("medtech-kinesis-producer-{env}"))
            .await
            .arn()
    );
    assert_eq!(
        s("secrets_reader_role_arn"),
        role(t, &format!("medtech-secrets-reader-{env}"))
            .await
            .arn()
    );
    assert_eq!(s("alarm_topic_arn"), topic_arn(t, env).await);
}

async fn check_verify(t: &TestContext, env: &str) {
    let out = t.medtech(&["verify", "--env", env, "--output", "json"]);
    assert!(
        out.status.success(),
        "verify of a fresh stack failed ({}):\n{}\n{}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn up_creates_every_resource_with_every_setting() {
    let t = TestContext::new("full").await;
    write_user_config(&t);
    t.run_ok(&["up"]);
    let env = t.env.as_str();
    let t = &t;
    run_areas(vec![
        ("outputs", Box::pin(check_outputs(t, env))),
        ("kms", Box::pin(check_kms(t, env))),
        (
            "log groups + flow logs",
            Box::pin(check_log_groups_and_flow_logs(t, env)),
        ),
        ("vpc endpoints", Box::pin(check_endpoints(t, env))),
        ("kinesis", Box::pin(check_kinesis(t, env))),
        ("secrets", Box::pin(check_secrets(t, env))),
        ("rds", Box::pin(check_rds(t, env))),
        ("redis", Box::pin(check_redis(t, env))),
        ("iam", Box::pin(check_iam(t, env))),
        ("sns + alarms", Box::pin(check_alarms(t, env))),
        ("verify", Box::pin(check_verify(t, env))),
    ])
    .await;
}

#[tokio::test]
async fn no_secret_value_reaches_outputs_state_or_logs() {
    let t = TestContext::new("hush").await;
    let env = t.env.clone();
    let trace = [("RUST_LOG", "trace")];
    let run = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--env", &env, "-vvv"]);
        let out = t.medtech_with(&all, &trace);
        assert!(
            out.status.success(),
            "medtech {all:?} failed with {}\n{}",
            out.status,
            tail(&stderr(&out))
        );
        out
    };
    let mut transcripts: Vec<(String, String)> = Vec::new();
    let mut record = |what: &str, out: &std::process::Output| {
        transcripts.push((format!("{what} stdout"), stdout(out)));
        transcripts.push((format!("{what} stderr"), stderr(out)));
    };
    record("up", &run(&["up"]));

    // The secret values, as Secrets Manager holds them.
    let (rds_text, rds) = secret_json(&t, &format!("medtech-rds-credentials-{env}")).await;
    let (redis_text, redis) = secret_json(&t, &format!("medtech-redis-credentials-{env}")).await;
    let mut needles = vec![rds_text, redis_text];
    needles.extend(rds["password"].as_str().map(str::to_owned));
    needles.extend(redis["auth_token"].as_str().map(str::to_owned));
    let encoded: Vec<String> = needles.iter().map(|n| percent_encoded(n)).collect();
    needles.extend(encoded);
    needles.retain(|n| n.len() >= 16);
    assert!(needles.len() >= 4, "could not read the two secret values");

    record("up again", &run(&["up"]));
    record("verify", &run(&["verify"]));
    record("outputs", &run(&["outputs"]));
    record("outputs env", &run(&["outputs", "--format", "env"]));
    record("outputs shell", &run(&["outputs", "--format", "shell"]));
    let written_before_destroy = files_under(t.dir.path());
    assert!(
        written_before_destroy
            .iter()
            .any(|(p, _)| p.ends_with("flat-outputs.json")),
        "no outputs file"
    );
    assert!(
        written_before_destroy
            .iter()
            .any(|(p, _)| p.ends_with(&format!("state/{env}.json"))),
        "no state file"
    );
    record(
        "destroy",
        &run(&[
            "destroy",
            "--yes",
            "--skip-final-snapshot",
            "--force-delete-secrets",
        ]),
    );
    // Trace logging really happened (otherwise this test proves little).
    let up_log = &transcripts[1].1;
    assert!(
        up_log.lines().count() > 20,
        "up -vvv with RUST_LOG=trace logged almost nothing:\n{up_log}"
    );

    let mut leaks = Vec::new();
    let all_text = written_before_destroy
        .into_iter()
        .map(|(p, text)| (format!("file {p}"), text))
        .chain(
            files_under(t.dir.path())
                .into_iter()
                .map(|(p, text)| (format!("file {p} (after destroy)"), text)),
        )
        .chain(transcripts);
    for (what, text) in all_text {
        for (i, needle) in needles.iter().enumerate() {
            if text.contains(needle.as_str()) {
                leaks.push(format!("{what} contains secret value #{i}"));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "secret values leaked:\n{}",
        leaks.join("\n")
    );
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

#[tokio::test]
async fn second_up_creates_nothing_and_rotates_nothing() {
    let t = TestContext::new("twice").await;
    t.run_ok(&["up"]);
    let env = t.env.clone();
    let swept = t.sweep_all(&env).await;
    let prints = fingerprint(&t, &env).await;
    let state = t.state()["resources"].clone();
    let outputs = t.outputs();
    let rds_secret = secret_json(&t, &format!("medtech-rds-credentials-{env}"))
        .await
        .0;
    let redis_secret = secret_json(&t, &format!("medtech-redis-credentials-{env}"))
        .await
        .0;
    assert!(
        prints.values().all(|v| v != "missing"),
        "first up left resources missing: {prints:#?}"
    );

    // plan agrees that there is nothing to do.
    let plan = t.medtech(&["plan", "--env", &env, "--detailed-exitcode"]);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "plan after up wants changes:\n{}",
        stdout(&plan)
    );

    let out = t.run_ok(&["up", "--output", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout).expect("json report");
    let changed: Vec<String> = report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| s["action"] != "unchanged")
        .map(|s| s.to_string())
        .collect();
    assert!(changed.is_empty(), "second up changed: {changed:#?}");

    assert_eq!(
        t.sweep_all(&env).await,
        swept,
        "second up changed what exists"
    );
    let after = fingerprint(&t, &env).await;
    let diff: Vec<String> = prints
        .keys()
        .chain(after.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|k| prints.get(*k) != after.get(*k))
        .map(|k| format!("{k}: {:?} -> {:?}", prints.get(k), after.get(k)))
        .collect();
    assert!(
        diff.is_empty(),
        "second up recreated, rotated or rewrote:\n{}",
        diff.join("\n")
    );
    assert_eq!(t.state()["resources"], state, "state changed");
    assert_eq!(t.outputs(), outputs, "outputs changed");
    assert_eq!(
        secret_json(&t, &format!("medtech-rds-credentials-{env}"))
            .await
            .0,
        rds_secret,
        "RDS secret value changed"
    );
    assert_eq!(
        secret_json(&t, &format!("medtech-redis-credentials-{env}"))
            .await
            .0,
        redis_secret,
        "Redis secret value changed"
    );
}

/// The kinds a full stack must show in `sweep_all`, with how many of each at least.
fn assert_full_sweep(env: &str, swept: &BTreeMap<&'static str, Vec<String>>) {
    let expected: &[(&str, usize)] = &[
        ("vpc", 1),
        ("subnet", 4),
        ("internet_gateway", 1),
        ("elastic_ip", 1),
        ("nat_gateway", 1),
        ("route_table", 2),
        ("security_group", 2),
        ("kms_alias", 1),
        ("kms_key", 1),
        ("log_group", 2),
        ("kinesis_stream", 1),
        ("secret", 2),
        ("db_instance", 1),
        ("db_parameter_group", 1),
        ("db_subnet_group", 1),
        ("replication_group", 1),
        ("cache_cluster", 2),
        ("cache_subnet_group", 1),
        ("iam_role", 4),
        ("iam_policy", 2),
        ("sns_topic", 1),
        ("alarm", 6),
        ("vpc_endpoint", 3),
        ("flow_log", 1),
    ];
    let short: Vec<String> = expected
        .iter()
        .filter(|(kind, n)| swept.get(kind).map_or(0, Vec::len) < *n)
        .map(|(kind, n)| format!("{kind}: want ≥ {n}, found {:?}", swept.get(kind)))
        .collect();
    assert!(
        short.is_empty(),
        "{env}: the stack is incomplete:\n{}",
        short.join("\n")
    );
}

#[tokio::test]
async fn destroy_leaves_nothing_in_any_service() {
    let t = TestContext::new("wipe").await;
    t.run_ok(&["up"]);
    let env = t.env.clone();
    assert_full_sweep(&env, &t.sweep_all(&env).await);
    let key_id = stack_key(&t, &env).await.key_id().to_owned();

    t.run_ok(&[
        "destroy",
        "--yes",
        "--skip-final-snapshot",
        "--force-delete-secrets",
    ]);
    let left: BTreeMap<_, _> = t
        .sweep_all(&env)
        .await
        .into_iter()
        .filter(|(_, ids)| !ids.is_empty())
        .collect();
    assert!(left.is_empty(), "destroy left {left:#?}");
    assert!(!t.state_file().exists(), "state file still there");
    let rds_logs = t
        .logs
        .describe_log_groups()
        .log_group_name_prefix(format!("/aws/rds/instance/medtech-rds-{env}/"))
        .send()
        .await
        .unwrap();
    assert!(
        rds_logs.log_groups().is_empty(),
        "destroy left the RDS log groups: {:?}",
        rds_logs.log_groups()
    );

    // KMS cannot delete at once: the key must be pending deletion.
    let key = t.kms.describe_key().key_id(&key_id).send().await.unwrap();
    assert_eq!(
        key.key_metadata()
            .and_then(|m| m.key_state())
            .map(|s| s.as_str()),
        Some("PendingDeletion")
    );
    // --force-delete-secrets: gone at once, not merely scheduled.
    for name in [
        format!("medtech-rds-credentials-{env}"),
        format!("medtech-redis-credentials-{env}"),
    ] {
        let d = t.secrets.describe_secret().secret_id(&name).send().await;
        assert!(d.is_err(), "{name} still exists: {d:?}");
    }
    // --skip-final-snapshot: no snapshot.
    let snaps = t.rds.describe_db_snapshots().send().await.unwrap();
    let snaps: Vec<&str> = snaps
        .db_snapshots()
        .iter()
        .filter_map(|s| s.db_snapshot_identifier())
        .filter(|s| s.starts_with(&format!("medtech-rds-{env}")))
        .collect();
    assert!(
        snaps.is_empty(),
        "snapshots despite --skip-final-snapshot: {snaps:?}"
    );
}

#[tokio::test]
async fn destroy_takes_a_final_snapshot_unless_told_not_to() {
    let t = TestContext::new("snap").await;
    t.run_ok(&["up"]);
    let env = t.env.clone();
    let instance = format!("medtech-rds-{env}");
    let key_arn = stack_key(&t, &env).await.arn().unwrap().to_owned();

    let started = chrono::Utc::now();
    t.run_ok(&["destroy", "--yes"]);
    let finished = chrono::Utc::now();

    let out = t.rds.describe_db_snapshots().send().await.unwrap();
    let prefix = format!("{instance}-final-");
    let finals: Vec<_> = out
        .db_snapshots()
        .iter()
        .filter(|s| {
            s.db_snapshot_identifier()
                .is_some_and(|id| id.to_ascii_lowercase().starts_with(&prefix))
        })
        .collect();
    assert_eq!(
        finals.len(),
        1,
        "final snapshots: {:?}",
        out.db_snapshots()
            .iter()
            .map(|s| s.db_snapshot_identifier())
            .collect::<Vec<_>>()
    );
    let snap = finals[0];
    let id = snap.db_snapshot_identifier().unwrap();
    let stamp = &id[prefix.len()..];
    assert!(
        !stamp.is_empty()
            && stamp.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !stamp.contains("--")
            && !stamp.ends_with('-'),
        "{id}: not a valid snapshot identifier suffix"
    );
    // The timestamp: its digits start with the date of the run (UTC).
    let digits: String = stamp.chars().filter(char::is_ascii_digit).collect();
    let dates = [
        started.format("%Y%m%d").to_string(),
        finished.format("%Y%m%d").to_string(),
    ];
    assert!(
        digits.len() >= 12 && dates.iter().any(|d| digits.starts_with(d.as_str())),
        "{id}: suffix is not a timestamp of this run"
    );
    assert_eq!(snap.db_instance_identifier(), Some(instance.as_str()));
    assert_eq!(snap.snapshot_type(), Some("manual"));
    assert_eq!(snap.encrypted(), Some(true), "final snapshot encrypted");
    assert_eq!(
        snap.kms_key_id(),
        Some(key_arn.as_str()),
        "final snapshot key"
    );

    // Everything else is gone (a snapshot is not in sweep_all: it is meant to stay).
    let left: BTreeMap<_, _> = t
        .sweep_all(&env)
        .await
        .into_iter()
        .filter(|(_, ids)| !ids.is_empty())
        .collect();
    assert!(left.is_empty(), "destroy left {left:#?}");
}

#[tokio::test]
async fn two_environments_in_one_account_do_not_touch_each_other() {
    let t = TestContext::new("alpha").await;
    t.run_ok(&["up"]);
    let alpha_swept = t.sweep_all("alpha").await;
    let alpha_prints = fingerprint(&t, "alpha").await;
    let alpha_state = t.state()["resources"].clone();
    assert_full_sweep("alpha", &alpha_swept);

    let up = t.medtech(&[
        "up",
        "--env",
        "bravo",
        "--vpc-cidr",
        "10.1.0.0/16",
        "--outputs-file",
        "bravo.json",
    ]);
    assert!(up.status.success(), "up bravo: {}", tail(&stderr(&up)));
    let bravo_swept = t.sweep_all("bravo").await;
    assert_full_sweep("bravo", &bravo_swept);
    // Nothing is shared: no id appears in both environments.
    let alpha_ids: BTreeSet<&String> = alpha_swept.values().flatten().collect();
    let shared: Vec<&String> = bravo_swept
        .values()
        .flatten()
        .filter(|id| alpha_ids.contains(id))
        .collect();
    assert!(shared.is_empty(), "shared between environments: {shared:?}");
    assert_eq!(
        t.sweep_all("alpha").await,
        alpha_swept,
        "up bravo changed alpha"
    );
    assert_eq!(
        fingerprint(&t, "alpha").await,
        alpha_prints,
        "up bravo changed alpha"
    );

    let destroyed = t.medtech(&[
        "destroy",
        "--env",
        "bravo",
        "--yes",
        "--skip-final-snapshot",
        "--force-delete-secrets",
    ]);
    assert!(
        destroyed.status.success(),
        "destroy bravo: {}",
        tail(&stderr(&destroyed))
    );
    let left: BTreeMap<_, _> = t
        .sweep_all("bravo")
        .await
        .into_iter()
        .filter(|(_, ids)| !ids.is_empty())
        .collect();
    assert!(left.is_empty(), "destroy bravo left {left:#?}");

    assert_eq!(
        t.sweep_all("alpha").await,
        alpha_swept,
        "destroy bravo changed alpha"
    );
    assert_eq!(
        fingerprint(&t, "alpha").await,
        alpha_prints,
        "destroy bravo changed alpha"
    );
    assert_eq!(t.state()["resources"], alpha_state);
    let verify = t.medtech(&["verify", "--env", "alpha"]);
    assert!(
        verify.status.success(),
        "alpha verify after bravo's destroy:\n{}",
        stdout(&verify)
    );
}

#[tokio::test]
async fn up_without_state_adopts_every_service_and_rotates_nothing() {
    let t = TestContext::new("adopt").await;
    t.run_ok(&["up"]);
    let env = t.env.clone();
    let swept = t.sweep_all(&env).await;
    assert_full_sweep(&env, &swept);
    let prints = fingerprint(&t, &env).await;
    let state = t.state()["resources"].clone();
    let outputs = t.outputs();

    // The state file is lost: everything must be found by tag or deterministic name, and the
    // secrets (which cannot be regenerated without breaking RDS and Redis clients) kept.
    std::fs::remove_file(t.state_file()).unwrap();
    let _ = std::fs::remove_file(t.path(&format!("state/{env}.json.bak")));
    t.run_ok(&["up"]);
    assert_eq!(
        t.sweep_all(&env).await,
        swept,
        "up without state duplicated or lost resources"
    );
    let after = fingerprint(&t, &env).await;
    let diff: Vec<String> = prints
        .keys()
        .chain(after.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|k| prints.get(*k) != after.get(*k))
        .map(|k| format!("{k}: {:?} -> {:?}", prints.get(k), after.get(k)))
        .collect();
    assert!(
        diff.is_empty(),
        "up without state recreated, rotated or rewrote:\n{}",
        diff.join("\n")
    );
    assert_eq!(t.state()["resources"], state, "adopted state differs");
    assert_eq!(t.outputs(), outputs, "outputs differ after adoption");
}

/// Kinesis pages `ListTagsForStream` (10 tags by default): a stream with more tags than one
/// page must still read as fully tagged, so `plan` sees nothing to do and `verify` passes.
#[tokio::test]
async fn kinesis_stream_with_more_tags_than_one_page_is_not_drift() {
    let t = TestContext::new("ktags").await;
    let user: String = (0..11)
        .map(|i| format!("Team{i:02} = \"t{i}\"\n"))
        .collect();
    std::fs::write(
        t.path("medtech.toml"),
        format!("[tags]\n{} = \"{}\"\n{user}", USER_TAG.0, USER_TAG.1),
    )
    .unwrap();
    t.run_ok(&["up"]);
    let name = format!("medtech-kinesis-{}", t.env);
    let mut tags = BTreeMap::new();
    let mut start: Option<String> = None;
    loop {
        let page = t
            .kinesis
            .list_tags_for_stream()
            .stream_name(&name)
            .set_exclusive_start_tag_key(start.clone())
            .send()
            .await
            .unwrap();
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
    let plan = t.medtech(&["plan", "--env", &t.env, "--detailed-exitcode"]);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "plan after up wants changes:\n{}",
        stdout(&plan)
    );
    check_verify(&t, &t.env).await;
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
    let checks: Vec<&Value> = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| {
            c["id"]
                .as_str()
                .is_some_and(|id| id.ends_with(".treat_missing_data"))
        })
        .collect();
    assert_eq!(checks.len(), 6, "one check per alarm: {checks:?}");
    assert!(
        checks.iter().all(|c| c["passed"] == Value::Bool(true)),
        "{checks:?}"
    );
}

/// The cache clusters an alarm watches, as CloudWatch reports it: its own dimension or, for a
/// metric-math alarm, the dimension of each query.
fn alarm_members(alarm: &aws_sdk_cloudwatch::types::MetricAlarm) -> BTreeSet<String> {
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
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["passed"] == Value::Bool(false))
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
        let out = t.medtech(&["verify", "--format", "json", "--env", &t.env]);
        let report: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("verify JSON: {e}: {}", stderr(&out)));
        (out.status.code(), failed_redis_alarm_checks(&report))
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

/// The flow-logs role must let the service find its log group (`logs:DescribeLogGroups`), or
/// the flow log exists and delivers nothing (`DeliverLogsStatus` FAILED). `verify` reads that
/// status, and `up` repairs the role.
#[tokio::test]
async fn flow_log_delivery_is_verified_and_repaired() {
    let t = TestContext::new("deliver").await;
    t.run_ok(&["up"]);
    let env = t.env.clone();
    let vpc = vpc_id(&t, &env).await;
    let delivery = || async {
        let out = t
            .ec2
            .describe_flow_logs()
            .filter(Filter::builder().name("resource-id").values(&vpc).build())
            .send()
            .await
            .unwrap();
        let log = &out.flow_logs()[0];
        (
            log.deliver_logs_status().map(str::to_owned),
            log.deliver_logs_error_message().map(str::to_owned),
        )
    };
    assert_eq!(delivery().await, (Some("SUCCESS".to_owned()), None));

    // Someone trims the role's policy to the three stream actions.
    let account = t
        .sts
        .get_caller_identity()
        .send()
        .await
        .unwrap()
        .account()
        .unwrap()
        .to_owned();
    let group = format!("arn:aws:logs:{REGION}:{account}:log-group:/medtech/{env}/vpc-flow");
    let trimmed = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        "Resource": [group.clone(), format!("{group}:*")]
    }]});
    t.iam
        .create_policy_version()
        .policy_arn(format!(
            "arn:aws:iam::{account}:policy/medtech-flow-logs-{env}"
        ))
        .policy_document(trimmed.to_string())
        .set_as_default(true)
        .send()
        .await
        .unwrap();
    assert_eq!(
        delivery().await,
        (Some("FAILED".to_owned()), Some("Access error".to_owned()))
    );
    let out = t.medtech(&["verify", "--env", &env, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("verify JSON");
    let failed: BTreeSet<&str> = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["passed"] == Value::Bool(false))
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert!(failed.contains("flow-logs.delivery"), "{failed:?}");

    t.run_ok(&["up"]);
    assert_eq!(delivery().await, (Some("SUCCESS".to_owned()), None));
    check_verify(&t, &env).await;
}

/// docs/iam-policy.json as the emulator can check it. moto evaluates the Resource element only
/// for IAM (role and policy ARNs, which stay as shipped) and checks every other service's call
/// against `*`, so the resources of the EC2, KMS, Logs, Kinesis, Secrets Manager, RDS,
/// ElastiCache, SNS, CloudWatch and tagging statements are widened to `*`. Conditions stay:
/// moto evaluates none of them for an identity policy (they pass), so the tag, CreateAction,
/// PassedToService, AWSServiceName and GrantIsForAWSResource conditions are not proven here,
/// nor are iam:PassRole, iam:CreateServiceLinkedRole and kms:CreateGrant, which AWS checks on
/// the caller's behalf and moto never does.
fn shipped_policy_for_the_emulator(without: Option<&str>) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/iam-policy.json");
    let mut policy: Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).expect("policy JSON");
    let mut found = without.is_none();
    for statement in policy["Statement"].as_array_mut().unwrap() {
        let resources: Vec<String> = match &statement["Resource"] {
            Value::String(one) => vec![one.clone()],
            many => as_strings(Some(many)),
        };
        if !resources.iter().all(|r| r.starts_with("arn:aws:iam::")) {
            statement["Resource"] = Value::from("*");
        }
        let actions = statement["Action"].as_array_mut().unwrap();
        for action in actions.iter() {
            assert!(
                !action.as_str().unwrap().ends_with(":*"),
                "service wildcard {action}"
            );
        }
        if let Some(without) = without {
            let before = actions.len();
            actions.retain(|a| a != without);
            found |= actions.len() != before;
        }
    }
    assert!(found, "{without:?} is not in docs/iam-policy.json");
    policy
}

#[tokio::test(flavor = "multi_thread")]
async fn the_shipped_iam_policy_runs_the_lifecycle_and_each_sampled_action_is_needed() {
    let t = TestContext::new("iampol").await;
    let user = "medtech-runner";
    let (key_id, secret) = t
        .create_user_with_policy(user, &shipped_policy_for_the_emulator(None))
        .await;
    let keys = [
        ("AWS_ACCESS_KEY_ID", key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", secret.as_str()),
    ];
    t.set_iam_enforcement(true);
    let run = |env: &str, args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--env", env]);
        (t.medtech_with(&all, &keys), all.join(" "))
    };
    let refused = [
        "access denied",
        "AccessDenied",
        "UnauthorizedOperation",
        "AuthorizationError",
    ];
    let lifecycle: [&[&str]; 5] = [
        &["up"],
        &["plan"],
        &["verify"],
        &["outputs"],
        &["state", "refresh"],
    ];
    for args in lifecycle {
        let (out, line) = run(&t.env, args);
        let err = stderr(&out);
        assert!(
            out.status.success(),
            "medtech {line} as the policy's user: {}\n{err}",
            out.status
        );
        assert!(!refused.iter().any(|r| err.contains(r)), "{line}:\n{err}");
    }

    // Each sample: the one action taken out, and the command that needs it. A create needs a
    // fresh environment; the reads and the delete run against the environment made above.
    let samples: [(&str, &str, &[&str]); 6] = [
        ("ec2:CreateNatGateway", "iampol-nat", &["up"]),
        ("iam:CreateRole", "iampol-role", &["up"]),
        ("kinesis:DescribeStreamSummary", "iampol", &["plan"]),
        // No read is verify's alone (up reads the same properties); this one is a property
        // verify checks (DNS support and hostnames).
        ("ec2:DescribeVpcAttribute", "iampol", &["verify"]),
        ("rds:DescribeDBInstances", "iampol", &["state", "refresh"]),
        ("kms:ScheduleKeyDeletion", "iampol", &["destroy", "--yes"]),
    ];
    for (action, env, args) in samples {
        t.put_user_policy(user, &shipped_policy_for_the_emulator(Some(action)))
            .await;
        let (out, line) = run(env, args);
        let err = stderr(&out);
        assert_eq!(
            out.status.code(),
            Some(4),
            "medtech {line} without {action}:\n{err}"
        );
        let last = err.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("error: ")
                && last.contains(&format!("may not call {action}"))
                && last.contains("docs/iam-policy.json"),
            "medtech {line} without {action}: last line {last:?}\n{err}"
        );
    }

    // With the action back, the interrupted destroy finishes.
    t.put_user_policy(user, &shipped_policy_for_the_emulator(None))
        .await;
    let (out, line) = run(&t.env, &["destroy", "--yes"]);
    let err = stderr(&out);
    assert!(
        out.status.success(),
        "medtech {line}: {}\n{err}",
        out.status
    );
    assert!(!refused.iter().any(|r| err.contains(r)), "{line}:\n{err}");
    t.set_iam_enforcement(false);
    let left = t.sweep(&t.env).await;
    assert!(
        left.values().all(Vec::is_empty),
        "left after destroy: {left:?}"
    );
}

/// Issue 11 (item 2) and issue 18: a non-forced `destroy` keeps the secrets recoverable and the
/// key pending deletion for the configured windows; the next `up` takes the key back, so the
/// restored secrets (encrypted with it) are readable, with the same ARN and value.
#[tokio::test]
async fn up_after_destroy_takes_the_key_back_and_restores_readable_secrets() {
    const KEY_DAYS: i64 = 8;
    const SECRET_DAYS: i64 = 9;
    let t = TestContext::new("reborn").await;
    std::fs::write(
        t.path("medtech.toml"),
        format!(
            "[destroy]\nkms_deletion_window_days = {KEY_DAYS}\nsecret_recovery_window_days = {SECRET_DAYS}\n"
        ),
    )
    .unwrap();
    t.run_ok(&["up"]);
    let env = t.env.clone();
    let key_before = stack_key(&t, &env).await;
    let names = [
        format!("medtech-rds-credentials-{env}"),
        format!("medtech-redis-credentials-{env}"),
    ];
    let mut before = Vec::new();
    for name in &names {
        let (text, _) = secret_json(&t, name).await;
        before.push((secret(&t, name).await.arn().unwrap().to_owned(), text));
    }

    let destroyed = t.run_ok(&["destroy", "--yes"]);
    let now = chrono::Utc::now().timestamp();
    let near = |date: Option<&aws_smithy_types::DateTime>, days: i64, what: &str| {
        let at = date.unwrap_or_else(|| panic!("{what}: no date")).secs();
        let want = now + days * 86_400;
        assert!(
            (at - want).abs() < 600,
            "{what}: {at}, not {days} days from now ({want})"
        );
    };
    for name in &names {
        near(secret(&t, name).await.deleted_date(), SECRET_DAYS, name);
    }
    let pending = t
        .kms
        .describe_key()
        .key_id(key_before.key_id())
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .clone();
    assert_eq!(
        pending.key_state().map(|s| s.as_str()),
        Some("PendingDeletion")
    );
    near(pending.deletion_date(), KEY_DAYS, "KMS key deletion date");
    let warned = stderr(&destroyed);
    assert!(
        warned.contains("warning:")
            && warned.contains(key_before.key_id())
            && warned.contains(&format!("scheduled for deletion in {KEY_DAYS} days")),
        "no KMS warning from destroy:\n{}",
        tail(&warned)
    );

    t.run_ok(&["up"]);
    let key_after = stack_key(&t, &env).await;
    assert_eq!(
        key_after.key_id(),
        key_before.key_id(),
        "a new key was made"
    );
    assert_eq!(key_after.key_state().map(|s| s.as_str()), Some("Enabled"));
    assert_eq!(key_after.deletion_date(), None);
    for (name, (arn, text)) in names.iter().zip(&before) {
        let described = secret(&t, name).await;
        assert_eq!(
            described.arn(),
            Some(arn.as_str()),
            "{name}: another secret"
        );
        assert_eq!(described.deleted_date(), None, "{name}: still scheduled");
        assert!(
            is_key(described.kms_key_id(), &key_after, &env),
            "{name}: encrypted with {:?}",
            described.kms_key_id()
        );
        // Read through the SDK: the value must decrypt, and be the one from before destroy.
        let (now_text, _) = secret_json(&t, name).await;
        assert!(now_text == *text, "{name}: the value changed");
    }
}

// ---------------------------------------------------------------------------------------------
// Engine version: resolved through RDS, never a pinned minor that RDS has retired
// ---------------------------------------------------------------------------------------------

/// The version RDS answers as the default of `major`, read through the SDK.
async fn default_engine_version(
    t: &TestContext,
    major: &str,
) -> aws_sdk_rds::types::DbEngineVersion {
    let out = t
        .rds
        .describe_db_engine_versions()
        .engine("postgres")
        .engine_version(major)
        .default_only(true)
        .send()
        .await
        .unwrap();
    assert_eq!(out.db_engine_versions().len(), 1, "default of {major}");
    out.db_engine_versions()[0].clone()
}

async fn parameter_group_family(t: &TestContext, env: &str) -> String {
    let out = t
        .rds
        .describe_db_parameter_groups()
        .db_parameter_group_name(format!("medtech-pg-{env}"))
        .send()
        .await
        .unwrap();
    out.db_parameter_groups()[0]
        .db_parameter_group_family()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn up_runs_rds_default_minor_of_the_configured_major_and_refuses_a_major_upgrade() {
    let t = TestContext::new("engine").await;
    let env = t.env.clone();
    let default = default_engine_version(&t, "16").await;
    let version = default.engine_version().unwrap();

    let planned = stdout(&t.run_ok(&["plan"]));
    assert!(
        planned.contains(&format!("engine postgres 16 → {version}")),
        "plan does not show the chosen version:\n{planned}"
    );
    t.run_ok(&["up"]);
    let db = rds_instance(&t, &env).await;
    assert_eq!(db.engine_version(), Some(version), "engine version");
    assert_eq!(
        Some(parameter_group_family(&t, &env).await.as_str()),
        default.db_parameter_group_family(),
        "parameter group family"
    );
    assert_eq!(
        t.state()["resources"]["rds"]["attrs"]["engine_version"],
        Value::from(version),
        "version recorded in state"
    );

    // RDS upgrading the minor by itself is not drift.
    t.rds
        .modify_db_instance()
        .db_instance_identifier(format!("medtech-rds-{env}"))
        .engine_version("16.10")
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    t.run_ok(&["verify"]);
    assert!(
        stdout(&t.run_ok(&["plan"])).contains("No changes"),
        "a minor upgrade shows as a change"
    );

    // A new major is refused in one line that says what to do, and nothing is touched.
    std::fs::write(t.path("medtech.toml"), "[rds]\nengine_version = \"17\"\n").unwrap();
    let out = t.medtech(&["up", "--env", &env]);
    assert!(!out.status.success(), "a major upgrade was attempted");
    let err = stderr(&out);
    let line = err
        .lines()
        .find(|l| l.contains("major upgrade"))
        .unwrap_or_else(|| panic!("no refusal:\n{err}"));
    assert!(
        line.contains("rds.engine_version = \"16\"") && line.contains("PostgreSQL 16"),
        "{line}"
    );
    let db = rds_instance(&t, &env).await;
    assert_eq!(
        db.engine_version(),
        Some("16.10"),
        "the instance was changed"
    );
    assert_eq!(parameter_group_family(&t, &env).await, "postgres16");
}

#[tokio::test]
async fn a_pinned_full_version_and_the_postgres_master_user_are_honoured() {
    let t = TestContext::new("pinned").await;
    let env = t.env.clone();
    std::fs::write(
        t.path("medtech.toml"),
        "[rds]\nengine_version = \"16.10\"\nmaster_username = \"postgres\"\n",
    )
    .unwrap();
    let planned = stdout(&t.run_ok(&["plan"]));
    assert!(
        planned.contains("engine postgres 16.10 → 16.10"),
        "{planned}"
    );
    t.run_ok(&["up"]);
    let db = rds_instance(&t, &env).await;
    assert_eq!(db.engine_version(), Some("16.10"));
    assert_eq!(db.master_username(), Some("postgres"));
    assert_eq!(parameter_group_family(&t, &env).await, "postgres16");
}

#[tokio::test]
async fn a_retired_pinned_version_fails_plan_naming_the_field_and_the_choices() {
    let t = TestContext::new("retired").await;
    std::fs::write(t.path("medtech.toml"), "[rds]\nengine_version = \"16.4\"\n").unwrap();
    let out = t.medtech(&["plan", "--env", &t.env]);
    assert!(!out.status.success(), "plan accepted a retired version");
    let err = stderr(&out);
    assert!(
        err.contains("rds.engine_version \"16.4\" is not offered")
            && err.contains("16.8")
            && err.contains("set \"16\""),
        "{err}"
    );
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

/// Issue 11 (item 5): KMS is eventually consistent. With the latency model on, a new key is
/// NotFound to EnableKeyRotation/CreateAlias/PutKeyPolicy/TagResource for a few seconds; `up`
/// waits for it (bounded) instead of failing, and the key ends rotated and aliased.
#[tokio::test]
async fn up_waits_for_a_new_key_to_propagate() {
    // The other waits short, so the run is about the key.
    let quick: serde_json::Map<String, Value> = [
        "rds_create",
        "redis_create",
        "nat_create",
        "kinesis_create",
        "vpce_create",
        "iam_propagation",
    ]
    .iter()
    .map(|d| ((*d).to_owned(), Value::from(100)))
    .collect();
    let mut durations = quick;
    durations.insert("kms_propagation".into(), Value::from(60));
    let t = TestContext::with_behaviour(
        "kmsprop",
        serde_json::json!({"time_scale": 0.01, "durations": durations}),
    )
    .await;
    let out = t.medtech_with(
        &["up", "--env", "kmsprop"],
        &[("MEDTECH_TIME_SCALE", "0.01")],
    );
    assert!(out.status.success(), "up: {}", tail(&stderr(&out)));
    let env = t.env.clone();
    let key = stack_key(&t, &env).await;
    let rotation = t
        .kms
        .get_key_rotation_status()
        .key_id(key.key_id())
        .send()
        .await
        .unwrap();
    assert!(rotation.key_rotation_enabled());
    // The model did refuse: the run met the propagation delay and waited it out.
    let stats = t.emulator_stats();
    let refused = stats["operations"]["kms:EnableKeyRotation"]["refused"]
        .as_u64()
        .unwrap_or(0)
        + stats["operations"]["kms:CreateAlias"]["refused"]
            .as_u64()
            .unwrap_or(0);
    assert!(refused >= 1, "no propagation refusal met: {stats}");
}
