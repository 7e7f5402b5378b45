//! What is left in the account: every resource of the stack's services that belongs to one
//! environment, by its `Environment` tag or by the naming rule of STACK.md. Each kind is one
//! row of a table (how to list it); whether a listed item belongs to the environment is
//! decided once for every kind, so a kind added to the stack is one lister and one row.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::Filter;
use futures::future::LocalBoxFuture;

use aws_sdk_cloudwatch::types::AlarmType;
use aws_sdk_iam::types::PolicyScopeType;

use crate::common::{TestContext, named_for};

/// Ids (or ARNs where there is no id) by kind, sorted.
pub(crate) type Swept = BTreeMap<&'static str, Vec<String>>;

/// Lists one kind: every candidate in the account, filtered by `env` where the API can.
type Lister = for<'a> fn(&'a TestContext, &'a str) -> LocalBoxFuture<'a, Vec<Listed>>;

/// The EC2 kinds of [`TestContext::sweep`]: the network tier, listed by the `Environment` tag.
const NETWORK: &[(&str, Lister)] = &[
    ("vpc", vpcs),
    ("subnet", subnets),
    ("internet_gateway", internet_gateways),
    ("elastic_ip", addresses),
    ("nat_gateway", nat_gateways),
    ("route_table", route_tables),
    ("network_acl", network_acls),
    ("security_group", security_groups),
];

/// The other kinds of [`TestContext::sweep_all`], in an order where a kind that lives inside
/// another (a cache cluster in its group, an endpoint in its VPC) comes after it.
const SERVICES: &[(&str, Lister)] = &[
    ("kms_alias", kms_aliases),
    ("kms_key", kms_keys),
    ("log_group", log_groups),
    ("kinesis_stream", kinesis_streams),
    ("secret", secrets),
    ("db_instance", db_instances),
    ("db_parameter_group", db_parameter_groups),
    ("db_subnet_group", db_subnet_groups),
    ("db_event_subscription", db_event_subscriptions),
    ("replication_group", replication_groups),
    ("cache_cluster", cache_clusters),
    ("cache_subnet_group", cache_subnet_groups),
    ("iam_role", iam_roles),
    ("iam_policy", iam_policies),
    ("sns_topic", sns_topics),
    ("alarm", metric_alarms),
    ("alarm", composite_alarms),
    ("vpc_endpoint", vpc_endpoints),
    ("flow_log", flow_logs),
    ("backup_vault", backup_vaults),
    ("backup_plan", backup_plans),
    ("backup_selection", backup_selections),
];

/// One resource as its listing reports it.
pub(crate) struct Listed {
    /// What the sweep reports for it.
    id: String,
    /// Names the naming rule applies to: its name, its Name tag, a log group it writes to.
    names: Vec<String>,
    /// The resource of an already swept kind it lives in (its VPC, its replication group).
    within: Option<(&'static str, String)>,
    tags: TagSource,
}

impl Listed {
    fn new(id: &str, names: &[Option<&str>], tags: TagSource) -> Self {
        Self {
            id: id.to_owned(),
            names: names.iter().flatten().map(|n| (*n).to_owned()).collect(),
            within: None,
            tags,
        }
    }

    fn within(mut self, kind: &'static str, parent: Option<&str>) -> Self {
        self.within = parent.map(|p| (kind, p.to_owned()));
        self
    }

    fn also_named(mut self, name: Option<&str>) -> Self {
        self.names.extend(name.map(str::to_owned));
        self
    }

    fn tagged(mut self, tags: BTreeMap<String, String>) -> Self {
        self.tags = TagSource::Listed(tags);
        self
    }
}

/// Where a resource's tags are read: from its listing, or by a call of its own (made only when
/// its name does not already tie it to the environment).
pub(crate) enum TagSource {
    Listed(BTreeMap<String, String>),
    /// A kind without tags (KMS aliases): it belongs by name only.
    Untagged,
    KmsKey(String),
    LogGroup(String),
    KinesisStream(String),
    Rds(String),
    ElastiCache(String),
    IamRole(String),
    IamPolicy(String),
    Sns(String),
    CloudWatch(String),
    /// A backup vault or plan, by ARN.
    Backup(String),
}

/// Every page of a paginated SDK call, failing the test on an error.
macro_rules! pages {
    ($request:expr) => {
        $request
            .into_paginator()
            .send()
            .try_collect()
            .await
            .expect(stringify!($request))
    };
}

/// The one answer of an SDK call, failing the test on an error.
macro_rules! one {
    ($request:expr) => {
        vec![$request.send().await.expect(stringify!($request))]
    };
}

/// A [`Lister`]: `pages` fetches the answers, `items` names their list, and each item maps to
/// a [`Listed`] (or `None` to pass it over).
macro_rules! lister {
    ($lister:ident, |$t:ident, $env:ident| $pages:expr, $items:ident, |$item:ident| $listed:expr) => {
        fn $lister<'a>($t: &'a TestContext, $env: &'a str) -> LocalBoxFuture<'a, Vec<Listed>> {
            Box::pin(async move {
                let pages: Vec<_> = $pages;
                let items = pages.iter().flat_map(|p| p.$items());
                items.filter_map(|$item| $listed).collect()
            })
        }
    };
}

/// A tag-listing call, and the answer's tags as `(key, value)` options.
macro_rules! tag_call {
    ($request:expr, |$out:ident| $pairs:expr) => {{
        let $out = $request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: {e:?}", stringify!($request)));
        $pairs
            .filter_map(|(k, v): (Option<&str>, Option<&str>)| Some((k?.to_owned(), v?.to_owned())))
            .collect()
    }};
}

impl TestContext {
    /// Every EC2 resource of the network tier the emulator holds that is tagged with `env`,
    /// by kind, ids sorted.
    pub(crate) async fn sweep(&self, env: &str) -> Swept {
        self.sweep_kinds(env, NETWORK.iter()).await
    }

    /// Everything the emulator holds, in every service the stack uses, that carries the tag
    /// `Environment=<env>` or a name ending in `-<env>` / containing `/<env>/`: the kinds of
    /// [`TestContext::sweep`] plus KMS, CloudWatch Logs, Kinesis, Secrets Manager, RDS,
    /// ElastiCache, IAM, SNS, CloudWatch alarms, VPC endpoints, flow logs and AWS Backup (vaults,
    /// plans, selections). Every kind is present, empty when nothing is found, so two sweeps
    /// compare as a whole. Things already on their way out and no longer billable or usable
    /// are left out: KMS keys pending deletion, secrets scheduled for deletion, deleted VPC
    /// endpoints, NAT gateways and backup plans.
    pub(crate) async fn sweep_all(&self, env: &str) -> Swept {
        self.sweep_kinds(env, NETWORK.iter().chain(SERVICES)).await
    }

    /// Asserts that the emulator holds nothing of `env` in any service.
    pub(crate) async fn assert_nothing_left(&self, env: &str) {
        let left = self.left(env).await;
        assert!(left.is_empty(), "{env}: destroy left {left:#?}");
    }

    /// Asserts that the emulator holds nothing of `env` but its backup vault, which `destroy`
    /// keeps while it holds recovery points.
    pub(crate) async fn assert_only_the_vault_left(&self, env: &str) {
        let vault = Swept::from([("backup_vault", vec![format!("medtech-{env}")])]);
        assert_eq!(self.left(env).await, vault, "{env}: destroy left");
    }

    /// The kinds of which the emulator holds something of `env`.
    async fn left(&self, env: &str) -> Swept {
        self.sweep_all(env)
            .await
            .into_iter()
            .filter(|(_, ids)| !ids.is_empty())
            .collect()
    }

    /// What a full environment holds, per kind, as swept after an `up` in an emulator of its
    /// own without faults or latency.
    pub(crate) async fn reference_counts() -> BTreeMap<&'static str, usize> {
        let t = TestContext::new("ref").await;
        t.run_ok(&["up"]);
        counts(&t.sweep_all("ref").await)
    }

    async fn sweep_kinds(
        &self,
        env: &str,
        kinds: impl Iterator<Item = &(&'static str, Lister)>,
    ) -> Swept {
        let mut found = Swept::new();
        for (kind, list) in kinds {
            let mut ids = found.remove(kind).unwrap_or_default();
            for item in list(self, env).await {
                if self.belongs(&item, env, &found).await {
                    ids.push(item.id);
                }
            }
            ids.sort();
            ids.dedup();
            found.insert(kind, ids);
        }
        found
    }

    async fn belongs(&self, item: &Listed, env: &str, found: &Swept) -> bool {
        let inside = item
            .within
            .as_ref()
            .is_some_and(|(kind, parent)| found.get(kind).is_some_and(|ids| ids.contains(parent)));
        let env_tag = |tags: BTreeMap<String, String>| {
            tags.get("Environment").map(String::as_str) == Some(env)
        };
        inside
            || item.names.iter().any(|n| named_for(n, env))
            || env_tag(self.tags_of(&item.tags).await)
    }

    /// A resource's tags as its service reports them (one call, first page).
    pub(crate) async fn tags_of(&self, source: &TagSource) -> BTreeMap<String, String> {
        let (kms, logs, kinesis, rds) = (&self.kms, &self.logs, &self.kinesis, &self.rds);
        let (elasticache, iam, sns, cloudwatch) =
            (&self.elasticache, &self.iam, &self.sns, &self.cloudwatch);
        match source {
            TagSource::Listed(tags) => tags.clone(),
            TagSource::Untagged => BTreeMap::new(),
            TagSource::KmsKey(key) => tag_call!(kms.list_resource_tags().key_id(key), |out| out
                .tags()
                .iter()
                .map(|t| (Some(t.tag_key()), Some(t.tag_value())))),
            TagSource::LogGroup(arn) => {
                tag_call!(logs.list_tags_for_resource().resource_arn(arn), |out| out
                    .tags()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (Some(k.as_str()), Some(v.as_str()))))
            }
            TagSource::KinesisStream(name) => {
                tag_call!(kinesis.list_tags_for_stream().stream_name(name), |out| out
                    .tags()
                    .iter()
                    .map(|t| (Some(t.key()), Some(t.value().unwrap_or_default()))))
            }
            TagSource::Rds(arn) => {
                tag_call!(rds.list_tags_for_resource().resource_name(arn), |out| out
                    .tag_list()
                    .iter()
                    .map(|t| (t.key(), t.value())))
            }
            TagSource::ElastiCache(arn) => {
                tag_call!(
                    elasticache.list_tags_for_resource().resource_name(arn),
                    |out| out.tag_list().iter().map(|t| (t.key(), t.value()))
                )
            }
            TagSource::IamRole(name) => tag_call!(iam.list_role_tags().role_name(name), |out| out
                .tags()
                .iter()
                .map(|t| (Some(t.key()), Some(t.value())))),
            TagSource::IamPolicy(arn) => {
                tag_call!(iam.list_policy_tags().policy_arn(arn), |out| out
                    .tags()
                    .iter()
                    .map(|t| (Some(t.key()), Some(t.value()))))
            }
            TagSource::Sns(arn) => {
                tag_call!(sns.list_tags_for_resource().resource_arn(arn), |out| out
                    .tags()
                    .iter()
                    .map(|t| (Some(t.key()), Some(t.value()))))
            }
            TagSource::CloudWatch(arn) => {
                tag_call!(
                    cloudwatch.list_tags_for_resource().resource_arn(arn),
                    |out| out.tags().iter().map(|t| (t.key(), t.value()))
                )
            }
            TagSource::Backup(arn) => {
                let backup = crate::backup::client(self).await;
                tag_call!(backup.list_tags().resource_arn(arn), |out| out
                    .tags()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (Some(k.as_str()), Some(v.as_str()))))
            }
        }
    }
}

/// How many of each kind a sweep found.
pub(crate) fn counts(swept: &Swept) -> BTreeMap<&'static str, usize> {
    swept.iter().map(|(k, v)| (*k, v.len())).collect()
}

fn by_env(env: &str) -> Filter {
    Filter::builder()
        .name("tag:Environment")
        .values(env)
        .build()
}

/// An EC2 resource, which belongs by its tags alone.
fn ec2(id: Option<&str>, tags: &[aws_sdk_ec2::types::Tag]) -> Option<Listed> {
    Some(Listed::new(
        id?,
        &[],
        TagSource::Listed(crate::common::tags(tags)),
    ))
}

/// A resource known by `name` whose tags are read by ARN, when it has one.
fn named(name: Option<&str>, arn: Option<&str>, source: fn(String) -> TagSource) -> Option<Listed> {
    let name = name.unwrap_or_default();
    let tags = arn.map_or(TagSource::Untagged, |a| source(a.to_owned()));
    Some(Listed::new(name, &[Some(name)], tags))
}

/// A tag map from an SDK's tag list.
fn tag_map<'a>(pairs: impl Iterator<Item = (Option<&'a str>, Option<&'a str>)>) -> TagSource {
    let pairs = pairs.filter_map(|(k, v)| Some((k?.to_owned(), v?.to_owned())));
    TagSource::Listed(pairs.collect())
}

lister!(
    vpcs,
    |t, env| one!(t.ec2.describe_vpcs().filters(by_env(env))),
    vpcs,
    |v| ec2(v.vpc_id(), v.tags())
);
lister!(
    subnets,
    |t, env| one!(t.ec2.describe_subnets().filters(by_env(env))),
    subnets,
    |s| ec2(s.subnet_id(), s.tags())
);
lister!(
    internet_gateways,
    |t, env| one!(t.ec2.describe_internet_gateways().filters(by_env(env))),
    internet_gateways,
    |g| ec2(g.internet_gateway_id(), g.tags())
);
lister!(
    addresses,
    |t, env| one!(t.ec2.describe_addresses().filters(by_env(env))),
    addresses,
    |a| ec2(a.allocation_id(), a.tags())
);
lister!(
    route_tables,
    |t, env| one!(t.ec2.describe_route_tables().filters(by_env(env))),
    route_tables,
    |r| ec2(r.route_table_id(), r.tags())
);
lister!(
    network_acls,
    |t, env| one!(t.ec2.describe_network_acls().filters(by_env(env))),
    network_acls,
    |a| ec2(a.network_acl_id(), a.tags())
);
lister!(
    security_groups,
    |t, env| one!(t.ec2.describe_security_groups().filters(by_env(env))),
    security_groups,
    |g| ec2(g.group_id(), g.tags())
);
// Tags checked here rather than by the API: an emulator's tag filter on NAT gateways is not
// trusted.
lister!(
    nat_gateways,
    |t, _env| one!(t.ec2.describe_nat_gateways()),
    nat_gateways,
    |n| {
        let gone = n.state().map(|s| s.as_str()) == Some("deleted");
        if gone {
            None
        } else {
            ec2(n.nat_gateway_id(), n.tags())
        }
    }
);

lister!(
    kms_aliases,
    |t, _env| pages!(t.kms.list_aliases()),
    aliases,
    |a| {
        Some(Listed::new(
            a.alias_name()?,
            &[a.alias_name()],
            TagSource::Untagged,
        ))
    }
);
lister!(
    log_groups,
    |t, _env| pages!(t.logs.describe_log_groups()),
    log_groups,
    |g| {
        let arn = TagSource::LogGroup(crate::lookup::log_group_arn(g));
        Some(Listed::new(g.log_group_name()?, &[g.log_group_name()], arn))
    }
);
lister!(
    kinesis_streams,
    |t, _env| pages!(t.kinesis.list_streams()),
    stream_names,
    |n| {
        Some(Listed::new(
            n,
            &[Some(n)],
            TagSource::KinesisStream(n.clone()),
        ))
    }
);
// Secrets scheduled for deletion are passed over; the others are known by ARN.
lister!(
    secrets,
    |t, _env| pages!(t.secrets.list_secrets()),
    secret_list,
    |s| {
        let tags = tag_map(s.tags().iter().map(|t| (t.key(), t.value())));
        let listed = Listed::new(s.arn()?, &[s.name()], tags);
        s.deleted_date().is_none().then_some(listed)
    }
);
lister!(
    db_instances,
    |t, _env| pages!(t.rds.describe_db_instances()),
    db_instances,
    |i| {
        let tags = tag_map(i.tag_list().iter().map(|t| (t.key(), t.value())));
        Some(Listed::new(
            i.db_instance_identifier()?,
            &[i.db_instance_identifier()],
            tags,
        ))
    }
);
lister!(
    db_parameter_groups,
    |t, _env| pages!(t.rds.describe_db_parameter_groups()),
    db_parameter_groups,
    |g| {
        named(
            g.db_parameter_group_name(),
            g.db_parameter_group_arn(),
            TagSource::Rds,
        )
    }
);
lister!(
    db_event_subscriptions,
    |t, _env| pages!(t.rds.describe_event_subscriptions()),
    event_subscriptions_list,
    |e| named(
        e.cust_subscription_id(),
        e.event_subscription_arn(),
        TagSource::Rds
    )
);
lister!(
    db_subnet_groups,
    |t, _env| pages!(t.rds.describe_db_subnet_groups()),
    db_subnet_groups,
    |g| {
        named(
            g.db_subnet_group_name(),
            g.db_subnet_group_arn(),
            TagSource::Rds,
        )
    }
);
lister!(
    replication_groups,
    |t, _env| pages!(t.elasticache.describe_replication_groups()),
    replication_groups,
    |g| { named(g.replication_group_id(), g.arn(), TagSource::ElastiCache) }
);
// A member cluster belongs with its replication group, by that group's name or sweep.
lister!(
    cache_clusters,
    |t, _env| pages!(t.elasticache.describe_cache_clusters()),
    cache_clusters,
    |c| {
        let group = c.replication_group_id();
        let listed = named(c.cache_cluster_id(), c.arn(), TagSource::ElastiCache)?;
        Some(listed.also_named(group).within("replication_group", group))
    }
);
lister!(
    cache_subnet_groups,
    |t, _env| pages!(t.elasticache.describe_cache_subnet_groups()),
    cache_subnet_groups,
    |g| { named(g.cache_subnet_group_name(), g.arn(), TagSource::ElastiCache) }
);
lister!(
    iam_roles,
    |t, _env| pages!(t.iam.list_roles()),
    roles,
    |r| {
        let tags = TagSource::IamRole(r.role_name().to_owned());
        Some(Listed::new(r.arn(), &[Some(r.role_name())], tags))
    }
);
lister!(
    iam_policies,
    |t, _env| pages!(t.iam.list_policies().scope(PolicyScopeType::Local)),
    policies,
    |p| {
        let arn = p.arn().expect("policy arn");
        Some(Listed::new(
            arn,
            &[p.policy_name()],
            TagSource::IamPolicy(arn.to_owned()),
        ))
    }
);
// A topic's name is the last segment of its ARN.
lister!(
    sns_topics,
    |t, _env| pages!(t.sns.list_topics()),
    topics,
    |topic| {
        let arn = topic.topic_arn()?;
        Some(Listed::new(
            arn,
            &[arn.rsplit(':').next()],
            TagSource::Sns(arn.to_owned()),
        ))
    }
);
lister!(
    metric_alarms,
    |t, _env| pages!(
        t.cloudwatch
            .describe_alarms()
            .alarm_types(AlarmType::MetricAlarm)
    ),
    metric_alarms,
    |a| { named(a.alarm_name(), a.alarm_arn(), TagSource::CloudWatch) }
);
lister!(
    composite_alarms,
    |t, _env| pages!(
        t.cloudwatch
            .describe_alarms()
            .alarm_types(AlarmType::CompositeAlarm)
    ),
    composite_alarms,
    |a| { named(a.alarm_name(), a.alarm_arn(), TagSource::CloudWatch) }
);
// Endpoints not deleted: by tag or Name, or in one of this environment's VPCs.
lister!(
    vpc_endpoints,
    |t, _env| pages!(t.ec2.describe_vpc_endpoints()),
    vpc_endpoints,
    |e| {
        let state = e.state().map(|s| s.as_str().to_ascii_lowercase());
        let tags = crate::common::tags(e.tags());
        let listed = Listed::new(
            e.vpc_endpoint_id()?,
            &[tags.get("Name").map(String::as_str)],
            TagSource::Untagged,
        );
        let listed = listed.tagged(tags).within("vpc", e.vpc_id());
        (!matches!(state.as_deref(), Some("deleted" | "deleting"))).then_some(listed)
    }
);
// Flow logs: by tag, Name, log group, role, or of one of this environment's VPCs.
lister!(
    flow_logs,
    |t, _env| pages!(t.ec2.describe_flow_logs()),
    flow_logs,
    |f| {
        let tags = crate::common::tags(f.tags());
        let names = [
            tags.get("Name").map(String::as_str),
            f.log_group_name(),
            f.deliver_logs_permission_arn(),
        ];
        let listed = Listed::new(f.flow_log_id()?, &names, TagSource::Untagged);
        Some(listed.tagged(tags).within("vpc", f.resource_id()))
    }
);

/// Backup vaults, by name.
fn backup_vaults<'a>(t: &'a TestContext, _: &'a str) -> LocalBoxFuture<'a, Vec<Listed>> {
    Box::pin(async move {
        let backup = crate::backup::client(t).await;
        let pages: Vec<_> = pages!(backup.list_backup_vaults());
        let vaults = pages.iter().flat_map(|p| p.backup_vault_list());
        vaults
            .filter_map(|v| {
                named(
                    v.backup_vault_name(),
                    v.backup_vault_arn(),
                    TagSource::Backup,
                )
            })
            .collect()
    })
}

/// Backup plans not deleted, by id; their names are not unique.
fn backup_plans<'a>(t: &'a TestContext, _: &'a str) -> LocalBoxFuture<'a, Vec<Listed>> {
    Box::pin(async move {
        let backup = crate::backup::client(t).await;
        let pages: Vec<_> = pages!(backup.list_backup_plans());
        let plans = pages.iter().flat_map(|p| p.backup_plans_list());
        plans
            .filter(|p| p.deletion_date().is_none())
            .filter_map(|p| {
                let tags = TagSource::Backup(p.backup_plan_arn()?.to_owned());
                Some(Listed::new(
                    p.backup_plan_id()?,
                    &[p.backup_plan_name()],
                    tags,
                ))
            })
            .collect()
    })
}

/// The selections of every live plan: by name, or in one of this environment's plans.
fn backup_selections<'a>(t: &'a TestContext, _: &'a str) -> LocalBoxFuture<'a, Vec<Listed>> {
    Box::pin(async move {
        let backup = crate::backup::client(t).await;
        let mut selections = Vec::new();
        for plan in backup_plans(t, "").await {
            let pages: Vec<_> = pages!(backup.list_backup_selections().backup_plan_id(&plan.id));
            for s in pages.iter().flat_map(|p| p.backup_selections_list()) {
                let Some(id) = s.selection_id() else {
                    continue;
                };
                let listed = Listed::new(id, &[s.selection_name()], TagSource::Untagged);
                selections.push(listed.within("backup_plan", Some(&plan.id)));
            }
        }
        selections
    })
}

/// Customer keys not pending deletion; they belong by tag only.
fn kms_keys<'a>(t: &'a TestContext, _: &'a str) -> LocalBoxFuture<'a, Vec<Listed>> {
    Box::pin(async move {
        let pages: Vec<_> = pages!(t.kms.list_keys());
        let mut keys = Vec::new();
        for key_id in pages
            .iter()
            .flat_map(|p| p.keys())
            .filter_map(|k| k.key_id())
        {
            let described = t.kms.describe_key().key_id(key_id).send().await;
            let described = described.expect("kms DescribeKey");
            let meta = described.key_metadata().expect("key metadata");
            if meta.key_state().map(|s| s.as_str()) != Some("PendingDeletion")
                && meta.key_manager().map(|m| m.as_str()) != Some("AWS")
            {
                keys.push(Listed::new(
                    key_id,
                    &[],
                    TagSource::KmsKey(key_id.to_owned()),
                ));
            }
        }
        keys
    })
}
