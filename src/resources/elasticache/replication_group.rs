//! The ElastiCache Redis replication group: a primary and replica in two AZs with automatic
//! failover and Multi-AZ, TLS in transit, at-rest encryption with the stack's key, the AUTH
//! token from its secret, and daily snapshots kept at least a week. Creation takes 10–15
//! minutes on real AWS; `snapshotting` and `modifying` along the way are normal.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_elasticache::operation::describe_replication_groups::DescribeReplicationGroupsOutput;
use aws_sdk_elasticache::operation::modify_replication_group::builders::ModifyReplicationGroupFluentBuilder;
use aws_sdk_elasticache::types::{
    AutomaticFailoverStatus, CacheCluster, MultiAzStatus, ReplicationGroup as SdkGroup,
    ReplicationGroupPendingModifiedValues,
};
use serde_json::{Value, json};

use super::tags::CacheTags;
use crate::aws::{AwsError, AwsResultExt, ErrorKind, Required};
use crate::context::{Ctx, ListKey};
use crate::control::{
    ACCESS, AUTHN, BACKUP, CONTINGENCY, Control, ENCRYPTION, INTEGRITY, Severity, TRANSMISSION,
    control,
};
use crate::error::Error;
use crate::logical::{Guards, Holds, Logical};
use crate::property::{Prop, Property, TAGS};
use crate::resource::{Change, Observed, Properties, Resource, Transition, diff};
use crate::resources::common::desired_tags;
use crate::resources::common::settling::{Settling, first_found};
use crate::resources::common::tags_by_arn::TagsByArn;
use crate::resources::secretsmanager::credential;
use crate::resources::wait::Pace;
use crate::state::Record;

pub(crate) const REDIS_PORT: u16 = 6379;

/// Statuses from which a group becomes available without help.
const SETTLING: [&str; 3] = ["creating", "modifying", "snapshotting"];

pub(crate) struct ReplicationGroup;

const SHAPE: Control = control(
    "Replication group shape and state as configured",
    Severity::Low,
    CONTINGENCY,
    "run `medtech up`",
    None,
    None,
);
static ENGINE: Property = Property::fixed("engine", SHAPE);
static ENGINE_MAJOR: Property = Property::fixed("engine_major_version", SHAPE);
static NODE_TYPE: Property = Property::in_place("cache_node_type", SHAPE);
static PORT: Property = Property::fixed("port", SHAPE);
static MAINTENANCE_WINDOW: Property = Property::in_place("preferred_maintenance_window", SHAPE);
static STATUS: Property = Property::in_place("status", SHAPE);
const ENCRYPTED_AT_REST: Control = control(
    "Encrypted at rest with the stack's key",
    Severity::Critical,
    ENCRYPTION,
    "cannot change in place: re-create from a snapshot",
    Some("elasticache_redis_cluster_rest_encryption_enabled"),
    Some("ELASTICACHE_REPL_GRP_ENCRYPTED_AT_REST"),
);
static AT_REST_ENCRYPTION: Property =
    Property::fixed("at_rest_encryption_enabled", ENCRYPTED_AT_REST);
static KMS_KEY: Property = Property::fixed("kms_key_id", ENCRYPTED_AT_REST);
static TRANSIT_ENCRYPTION: Property = Property::fixed(
    "transit_encryption_enabled",
    control(
        "TLS in transit",
        Severity::Critical,
        TRANSMISSION,
        "cannot change in place: re-create",
        Some("elasticache_redis_cluster_in_transit_encryption_enabled"),
        Some("ELASTICACHE_REPL_GRP_ENCRYPTED_IN_TRANSIT"),
    ),
);
static AUTH_TOKEN: Property = Property::fixed(
    "auth_token_enabled",
    control(
        "Redis AUTH required",
        Severity::Critical,
        AUTHN,
        "cannot change in place: re-create",
        Some("elasticache_redis_replication_group_auth_enabled"),
        Some("ELASTICACHE_REPL_GRP_REDIS_AUTH_ENABLED"),
    ),
);
static AUTOMATIC_FAILOVER: Property = Property::in_place(
    "automatic_failover",
    control(
        "Automatic failover",
        Severity::High,
        CONTINGENCY,
        "run `medtech up`",
        Some("elasticache_redis_cluster_automatic_failover_enabled"),
        Some("ELASTICACHE_REPL_GRP_AUTO_FAILOVER_ENABLED"),
    ),
);
const REPLICATED: Control = control(
    "Multi-AZ with a replica",
    Severity::High,
    CONTINGENCY,
    "run `medtech up`",
    Some("elasticache_redis_cluster_multi_az_enabled"),
    None,
);
static MULTI_AZ: Property = Property::in_place("multi_az", REPLICATED);
static NODES: Property = Property::in_place("num_cache_clusters", REPLICATED);
const SNAPSHOTS: Control = control(
    "Daily snapshots kept at least 7 days",
    Severity::High,
    BACKUP,
    "run `medtech up`",
    Some("elasticache_redis_cluster_backup_enabled"),
    Some("ELASTICACHE_REDIS_CLUSTER_AUTOMATIC_BACKUP_CHECK"),
);
static SNAPSHOT_RETENTION: Property = Property::in_place("snapshot_retention_limit", SNAPSHOTS);
static SNAPSHOT_WINDOW: Property = Property::in_place("snapshot_window", SNAPSHOTS);
static AUTO_MINOR_UPGRADE: Property = Property::in_place(
    "auto_minor_version_upgrade",
    control(
        "Automatic minor version upgrades",
        Severity::Medium,
        INTEGRITY,
        "run `medtech up`",
        Some("elasticache_redis_cluster_auto_minor_version_upgrades"),
        Some("ELASTICACHE_AUTO_MINOR_VERSION_UPGRADE_CHECK"),
    ),
);
const PLACEMENT: Control = control(
    "Cache only in the private subnets, behind its security group",
    Severity::High,
    ACCESS,
    "run `medtech up`",
    Some("elasticache_cluster_uses_public_subnet"),
    None,
);
static SUBNET_GROUP: Property = Property::fixed("cache_subnet_group", PLACEMENT);
static SECURITY_GROUPS: Property = Property::in_place("security_group_ids", PLACEMENT);

/// The environment's replication group as ElastiCache describes it, `None` when there is none.
/// The Redis alarms look at it too, to cover every member: while the run has changed nothing,
/// they and the group's read share one call.
pub(crate) async fn describe(ctx: &Ctx) -> Result<Option<SdkGroup>, Error> {
    match ctx.listed(&GROUP, || describe_now(ctx)).await? {
        Some(group) => Ok(group.as_ref().clone()),
        None => describe_now(ctx).await,
    }
}

const GROUP: ListKey<Option<SdkGroup>> = ListKey::new("elasticache:DescribeReplicationGroups");

async fn describe_now(ctx: &Ctx) -> Result<Option<SdkGroup>, Error> {
    first_found(
        ctx.clients
            .elasticache
            .describe_replication_groups()
            .replication_group_id(ctx.names().redis_replication_group())
            .send()
            .await
            .op(ReplicationGroup::DESCRIBE),
        DescribeReplicationGroupsOutput::replication_groups,
    )
}

impl ReplicationGroup {
    async fn member(ctx: &Ctx, group: &SdkGroup) -> Result<Option<CacheCluster>, Error> {
        let Some(id) = group.member_clusters().first() else {
            return Ok(None);
        };
        let out = ctx
            .clients
            .elasticache
            .describe_cache_clusters()
            .cache_cluster_id(id)
            .send()
            .await
            .op("elasticache:DescribeCacheClusters")?;
        Ok(out.cache_clusters().first().cloned())
    }

    /// A ModifyReplicationGroup of the group, applied at once rather than in the
    /// maintenance window.
    pub(crate) fn modify(ctx: &Ctx) -> ModifyReplicationGroupFluentBuilder {
        ctx.clients
            .elasticache
            .modify_replication_group()
            .replication_group_id(ctx.names().redis_replication_group())
            .apply_immediately(true)
    }
}

#[async_trait]
impl Settling for ReplicationGroup {
    type Item = SdkGroup;
    const SETTLING: &'static [&'static str] = &SETTLING;
    /// Two nodes with encryption: about 10 minutes to create, 5 to delete.
    const USUAL_CREATE: Duration = Duration::from_secs(10 * 60);
    const USUAL_DELETE: Duration = Duration::from_secs(5 * 60);
    const DESCRIBE: &'static str = "elasticache:DescribeReplicationGroups";

    /// What state keeps of `group`, as `operation` (a describe, or the create) reported it.
    fn record(group: &SdkGroup, operation: &'static str) -> Result<Record, AwsError> {
        let node = group.node_groups().first();
        let mut record = Record::new(
            group
                .replication_group_id()
                .required(operation, "ReplicationGroupId")?,
        )
        .with("arn", group.arn().required(operation, "ARN")?);
        // No endpoint while the group is being created: recorded once AWS reports one.
        if let Some(primary) = node.and_then(|n| n.primary_endpoint()) {
            let address = primary
                .address()
                .required(operation, "PrimaryEndpoint.Address")?;
            record = record.with("primary_endpoint", address).with(
                "port",
                primary.port().unwrap_or(i32::from(REDIS_PORT)).to_string(),
            );
        }
        if let Some(reader) = node
            .and_then(|n| n.reader_endpoint())
            .and_then(|e| e.address())
        {
            record = record.with("reader_endpoint", reader);
        }
        Ok(record)
    }

    fn timeout_minutes(ctx: &Ctx) -> u64 {
        ctx.settings.services.timeouts.redis_minutes
    }

    async fn describe(&self, ctx: &Ctx) -> Result<Option<SdkGroup>, Error> {
        describe(ctx).await
    }

    fn status(group: &SdkGroup) -> Option<&str> {
        group.status()
    }

    fn has_pending(group: &SdkGroup) -> bool {
        group
            .pending_modified_values()
            .is_some_and(|p| *p != ReplicationGroupPendingModifiedValues::builder().build())
    }

    /// Some settings are read from the member clusters, so only a whole read tells whether
    /// they are applied already.
    async fn describes(
        &self,
        ctx: &Ctx,
        _group: &SdkGroup,
        wanted: &Properties,
    ) -> Result<bool, Error> {
        let read = self.read(ctx, None).await?;
        Ok(read.is_some_and(|r| diff(wanted, &r.properties).is_empty()))
    }
}

#[async_trait]
impl Resource for ReplicationGroup {
    fn name(&self) -> Logical {
        Logical::ReplicationGroup
    }

    fn depends_on(&self) -> Vec<Logical> {
        vec![
            Logical::KmsKey,
            Logical::Secret(Holds::RedisAuthToken),
            Logical::CacheSubnetGroup,
            Logical::SecurityGroup(Guards::Redis),
        ]
    }

    fn properties(&self) -> &'static [Prop] {
        const {
            &[
                &ENGINE,
                &ENGINE_MAJOR,
                &NODE_TYPE,
                &NODES,
                &AUTOMATIC_FAILOVER,
                &MULTI_AZ,
                &TRANSIT_ENCRYPTION,
                &AT_REST_ENCRYPTION,
                &KMS_KEY,
                &AUTH_TOKEN,
                &AUTO_MINOR_UPGRADE,
                &PORT,
                &SNAPSHOT_RETENTION,
                &SNAPSHOT_WINDOW,
                &MAINTENANCE_WINDOW,
                &SUBNET_GROUP,
                &SECURITY_GROUPS,
                &STATUS,
                &TAGS,
            ]
        }
    }

    fn typical_seconds(&self) -> u64 {
        Self::USUAL_CREATE.as_secs()
    }

    fn in_transition(&self, observed: &Observed) -> Option<Transition> {
        Transition::of(observed, &STATUS, &SETTLING)
    }

    async fn settle(&self, ctx: &Ctx, _observed: &Observed) -> Result<(), Error> {
        self.wait_available(ctx, Pace::Adaptive).await.map(drop)
    }

    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error> {
        let redis = &ctx.settings.services.redis;
        Ok(Properties::from([
            (&ENGINE, json!("redis")),
            (&ENGINE_MAJOR, json!(redis.engine_version.split('.').next())),
            (&NODE_TYPE, json!(redis.node_type)),
            (&NODES, json!(redis.num_cache_clusters)),
            (&AUTOMATIC_FAILOVER, json!("enabled")),
            (&MULTI_AZ, json!("enabled")),
            (&TRANSIT_ENCRYPTION, json!(true)),
            (&AT_REST_ENCRYPTION, json!(true)),
            (&KMS_KEY, json!(ctx.arn_of(Logical::KmsKey)?)),
            (&AUTH_TOKEN, json!(true)),
            (&AUTO_MINOR_UPGRADE, json!(true)),
            (&PORT, json!(REDIS_PORT)),
            (&SNAPSHOT_RETENTION, json!(redis.snapshot_retention_days)),
            (&SNAPSHOT_WINDOW, json!(redis.snapshot_window)),
            (&MAINTENANCE_WINDOW, json!(redis.maintenance_window)),
            (&SUBNET_GROUP, json!(ctx.names().cache_subnet_group())),
            (
                &SECURITY_GROUPS,
                json!([ctx.id_of(Logical::SecurityGroup(Guards::Redis))?]),
            ),
            (&STATUS, json!("available")),
            (
                &TAGS,
                desired_tags(ctx, &ctx.names().redis_replication_group()),
            ),
        ]))
    }

    async fn read(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        let Some(group) = self.describe(ctx).await? else {
            return Ok(None);
        };
        // Going away: for `up`, it no longer exists (create then waits for the id to be free).
        if group.status() == Some("deleting") {
            return Ok(None);
        }
        let member = Self::member(ctx, &group).await?;
        // No member cluster described (none listed yet): no security groups to report.
        let mut groups: Vec<&str> = member.as_ref().map_or_else(Vec::new, |m| {
            m.security_groups()
                .iter()
                .filter_map(|g| g.security_group_id())
                .collect()
        });
        groups.sort();
        let port = group
            .node_groups()
            .first()
            .and_then(|n| n.primary_endpoint())
            .and_then(|e| e.port());
        // ElastiCache refuses tag calls on a group that is not available; its tags are
        // then unknown (null), and `up` re-applies them once it is.
        let tags = match group.arn() {
            Some(arn) if group.status() == Some("available") => {
                CacheTags::read(ctx, recorded, arn).await?
            }
            _ => Value::Null,
        };
        Ok(Some(Observed {
            record: Self::record(&group, Self::DESCRIBE)?,
            properties: Properties::from([
                (
                    &ENGINE,
                    json!(member.as_ref().and_then(|m| m.engine()).or(group.engine())),
                ),
                (
                    &ENGINE_MAJOR,
                    json!(
                        member
                            .as_ref()
                            .and_then(|m| m.engine_version())
                            .and_then(|v| v.split('.').next())
                    ),
                ),
                (&NODE_TYPE, json!(group.cache_node_type())),
                (&NODES, json!(group.member_clusters().len())),
                (
                    &AUTOMATIC_FAILOVER,
                    json!(
                        group
                            .automatic_failover()
                            .map(AutomaticFailoverStatus::as_str)
                    ),
                ),
                (
                    &MULTI_AZ,
                    json!(group.multi_az().map(MultiAzStatus::as_str)),
                ),
                (
                    &TRANSIT_ENCRYPTION,
                    json!(group.transit_encryption_enabled()),
                ),
                (
                    &AT_REST_ENCRYPTION,
                    json!(group.at_rest_encryption_enabled()),
                ),
                (&KMS_KEY, json!(group.kms_key_id())),
                (&AUTH_TOKEN, json!(group.auth_token_enabled())),
                (
                    &AUTO_MINOR_UPGRADE,
                    json!(member.as_ref().and_then(|m| m.auto_minor_version_upgrade())),
                ),
                (&PORT, json!(port)),
                (&SNAPSHOT_RETENTION, json!(group.snapshot_retention_limit())),
                (&SNAPSHOT_WINDOW, json!(group.snapshot_window())),
                (
                    &MAINTENANCE_WINDOW,
                    json!(
                        member
                            .as_ref()
                            .and_then(|m| m.preferred_maintenance_window())
                    ),
                ),
                (
                    &SUBNET_GROUP,
                    json!(member.as_ref().and_then(|m| m.cache_subnet_group_name())),
                ),
                (&SECURITY_GROUPS, json!(groups)),
                (&STATUS, json!(group.status())),
                (&TAGS, tags),
            ]),
        }))
    }

    async fn create(&self, ctx: &Ctx) -> Result<Observed, Error> {
        let redis = &ctx.settings.services.redis;
        let id = ctx.names().redis_replication_group();
        let token = credential::current(ctx, Holds::RedisAuthToken).await?;
        let created = ctx
            .clients
            .elasticache
            .create_replication_group()
            .replication_group_id(&id)
            .replication_group_description(format!("medtech {}: PHI cache", ctx.settings.env()))
            .engine("redis")
            .engine_version(&redis.engine_version)
            .cache_node_type(&redis.node_type)
            .num_cache_clusters(redis.num_cache_clusters)
            .automatic_failover_enabled(true)
            .multi_az_enabled(true)
            .transit_encryption_enabled(true)
            .at_rest_encryption_enabled(true)
            .kms_key_id(ctx.arn_of(Logical::KmsKey)?)
            .auth_token(token.expose())
            .port(i32::from(REDIS_PORT))
            .cache_subnet_group_name(ctx.names().cache_subnet_group())
            .security_group_ids(ctx.id_of(Logical::SecurityGroup(Guards::Redis))?)
            .snapshot_retention_limit(redis.snapshot_retention_days)
            .snapshot_window(&redis.snapshot_window)
            .preferred_maintenance_window(&redis.maintenance_window)
            .auto_minor_version_upgrade(true)
            .set_tags(Some(CacheTags::sdk(ctx, &id)))
            .send()
            .await
            .op("elasticache:CreateReplicationGroup");
        drop(token);
        match created {
            Ok(out) => self.record_created(
                ctx,
                out.replication_group(),
                "elasticache:CreateReplicationGroup",
            )?,
            // A create whose response was lost: the wait below adopts it. One still being
            // deleted keeps its id: NotReadyYet makes the engine try again later.
            Err(e) if e.is(ErrorKind::AlreadyExists) => {
                if self
                    .describe(ctx)
                    .await?
                    .is_some_and(|g| g.status() == Some("deleting"))
                {
                    return Err(Error::Aws(crate::aws::AwsError {
                        kind: ErrorKind::NotReadyYet,
                        ..e
                    }));
                }
            }
            Err(e) => return Err(e.into()),
        }
        self.wait_created(ctx).await
    }

    async fn update(&self, ctx: &Ctx, current: &Observed, changes: &[Change]) -> Result<(), Error> {
        let redis = &ctx.settings.services.redis;
        let elasticache = &ctx.clients.elasticache;
        let id = ctx.names().redis_replication_group();
        let changed = |p: Prop| changes.iter().any(|c| c.property == p);
        self.wait_available(ctx, Pace::Adaptive).await?;
        if changed(&NODES) {
            let have = current
                .properties
                .get(&NODES)
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let replicas = redis.num_cache_clusters - 1;
            let accepted = if have < i64::from(redis.num_cache_clusters) {
                elasticache
                    .increase_replica_count()
                    .replication_group_id(&id)
                    .new_replica_count(replicas)
                    .apply_immediately(true)
                    .send()
                    .await
                    .op("elasticache:IncreaseReplicaCount")?
                    .replication_group
            } else {
                elasticache
                    .decrease_replica_count()
                    .replication_group_id(&id)
                    .new_replica_count(replicas)
                    .apply_immediately(true)
                    .send()
                    .await
                    .op("elasticache:DecreaseReplicaCount")?
                    .replication_group
            };
            let count: Vec<&Change> = changes.iter().filter(|c| c.property == &NODES).collect();
            self.wait_modified(ctx, accepted.as_ref(), &count).await?;
        }
        let mut modify = Self::modify(ctx);
        let mut modified = Vec::new();
        for change in changes {
            modify = match change.property {
                p if p == &NODE_TYPE => modify.cache_node_type(&redis.node_type),
                p if p == &AUTOMATIC_FAILOVER => modify.automatic_failover_enabled(true),
                p if p == &MULTI_AZ => modify
                    .multi_az_enabled(true)
                    .automatic_failover_enabled(true),
                p if p == &SNAPSHOT_RETENTION => {
                    modify.snapshot_retention_limit(redis.snapshot_retention_days)
                }
                p if p == &SNAPSHOT_WINDOW => modify.snapshot_window(&redis.snapshot_window),
                p if p == &MAINTENANCE_WINDOW => {
                    modify.preferred_maintenance_window(&redis.maintenance_window)
                }
                p if p == &SECURITY_GROUPS => {
                    modify.security_group_ids(ctx.id_of(Logical::SecurityGroup(Guards::Redis))?)
                }
                p if p == &AUTO_MINOR_UPGRADE => modify.auto_minor_version_upgrade(true),
                _ => continue,
            };
            modified.push(change);
        }
        if !modified.is_empty() {
            let accepted = modify
                .send()
                .await
                .op("elasticache:ModifyReplicationGroup")?;
            self.wait_modified(ctx, accepted.replication_group(), &modified)
                .await?;
        }
        if changed(&TAGS) {
            CacheTags::rewrite(ctx, self.name(), &current.record, &id).await?;
        }
        Ok(())
    }

    async fn destroy(&self, ctx: &Ctx, _current: &Observed) -> Result<(), Error> {
        if let Some(group) = self.describe(ctx).await? {
            self.wait_unless_at_rest(ctx, &group).await?;
        }
        let deleted = ctx
            .clients
            .elasticache
            .delete_replication_group()
            .replication_group_id(ctx.names().redis_replication_group())
            .retain_primary_cluster(false)
            .send()
            .await
            .op("elasticache:DeleteReplicationGroup");
        self.wait_deleted(ctx, deleted).await
    }
}
