//! What each of the six alarms watches and when it fires: the one place to change a metric,
//! a threshold's meaning, a period or what silence counts as. The thresholds themselves are
//! settings (`[alarms]`).

use aws_sdk_cloudwatch::types::{ComparisonOperator, Statistic};
use serde_json::{Value, json};

use crate::context::Ctx;
use crate::logical::Metric;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// What one alarm watches and when it fires.
pub(super) struct Spec {
    pub(super) namespace: &'static str,
    pub(super) metric: &'static str,
    pub(super) statistic: Statistic,
    pub(super) watched: Watched,
    pub(super) comparison: ComparisonOperator,
    pub(super) threshold: f64,
    pub(super) period: i32,
    pub(super) evaluation_periods: i32,
    /// What a period without data counts as (`TreatMissingData`): `notBreaching` where the
    /// metric exists only with traffic, `missing` (INSUFFICIENT_DATA, which notifies) where
    /// AWS always reports it and its absence is itself a fault.
    pub(super) missing_data: &'static str,
    pub(super) description: &'static str,
}

/// Whose metric an alarm watches.
pub(super) enum Watched {
    /// One resource, by its dimension.
    One(&'static str, String),
    /// Every member cache cluster of the Redis group, alarmed on the worst of them.
    Members(Vec<String>),
}

/// The dimension ElastiCache reports its per-node metrics under.
pub(super) const MEMBER_DIMENSION: &str = "CacheClusterId";

impl Watched {
    /// The `dimensions` property: `{name: value}`, or `{CacheClusterId: [members]}`.
    pub(super) fn dimensions(&self) -> Value {
        match self {
            Watched::One(name, value) => json!({ *name: value }),
            Watched::Members(members) => json!({ MEMBER_DIMENSION: members }),
        }
    }
}

/// Kinesis publishes these only while records flow: an idle stream has no data, and that is
/// healthy.
const IDLE_IS_HEALTHY: &str = "notBreaching";
/// RDS and ElastiCache report these every minute while the resource runs: no data means the
/// resource, or its metrics, are gone, which the on-call must hear about.
pub(super) const SILENCE_IS_A_FAULT: &str = "missing";

/// What the alarm on `metric` watches and when it fires.
pub(super) fn spec(metric: Metric, ctx: &Ctx) -> Spec {
    let names = ctx.names();
    let limits = &ctx.settings.services.alarms;
    let stream = || Watched::One("StreamName", names.kinesis_stream());
    let db = || Watched::One("DBInstanceIdentifier", names.rds_instance());
    // Member cache clusters are `<group>-001` … `<group>-00N`; which is primary changes
    // with every failover.
    let group = names.redis_replication_group();
    let members = || {
        (1..=ctx.settings.services.redis.num_cache_clusters)
            .map(|i| format!("{group}-{i:03}"))
            .collect()
    };
    match metric {
        Metric::KinesisIteratorAge => Spec {
            namespace: "AWS/Kinesis",
            metric: "GetRecords.IteratorAgeMilliseconds",
            statistic: Statistic::Maximum,
            watched: stream(),
            comparison: ComparisonOperator::GreaterThanThreshold,
            threshold: limits.kinesis_iterator_age_ms,
            period: 300,
            evaluation_periods: 1,
            // GetRecords.* exists only while a consumer reads.
            missing_data: IDLE_IS_HEALTHY,
            description: "Consumers are falling behind the PHI event stream",
        },
        Metric::KinesisWriteThrottled => Spec {
            namespace: "AWS/Kinesis",
            metric: "WriteProvisionedThroughputExceeded",
            statistic: Statistic::Sum,
            watched: stream(),
            comparison: ComparisonOperator::GreaterThanOrEqualToThreshold,
            threshold: limits.kinesis_write_throttled_records,
            period: 300,
            evaluation_periods: 1,
            // Reported only for periods with writes.
            missing_data: IDLE_IS_HEALTHY,
            description: "Writes to the PHI event stream are being throttled",
        },
        Metric::RdsCpu => Spec {
            namespace: "AWS/RDS",
            metric: "CPUUtilization",
            statistic: Statistic::Average,
            watched: db(),
            comparison: ComparisonOperator::GreaterThanThreshold,
            threshold: limits.rds_cpu_percent,
            period: 300,
            evaluation_periods: 3,
            missing_data: SILENCE_IS_A_FAULT,
            description: "Database CPU has been high for 15 minutes",
        },
        Metric::RdsFreeStorage => Spec {
            namespace: "AWS/RDS",
            metric: "FreeStorageSpace",
            statistic: Statistic::Minimum,
            watched: db(),
            comparison: ComparisonOperator::LessThanThreshold,
            threshold: limits.rds_free_storage_gb * GIB,
            period: 300,
            evaluation_periods: 1,
            missing_data: SILENCE_IS_A_FAULT,
            description: "Database free storage is low",
        },
        Metric::RedisCpu => Spec {
            namespace: "AWS/ElastiCache",
            metric: "EngineCPUUtilization",
            statistic: Statistic::Average,
            watched: Watched::Members(members()),
            comparison: ComparisonOperator::GreaterThanThreshold,
            threshold: limits.redis_cpu_percent,
            period: 300,
            evaluation_periods: 3,
            missing_data: SILENCE_IS_A_FAULT,
            description: "Redis engine CPU has been high for 15 minutes",
        },
        Metric::RedisReplicationLag => Spec {
            namespace: "AWS/ElastiCache",
            metric: "ReplicationLag",
            statistic: Statistic::Maximum,
            watched: Watched::Members(members()),
            comparison: ComparisonOperator::GreaterThanThreshold,
            threshold: limits.redis_replication_lag_seconds,
            period: 60,
            evaluation_periods: 5,
            // Only replicas report it, so the worst member is the worst replica whichever
            // member is primary; silence means no replica is left, worth a notification.
            missing_data: SILENCE_IS_A_FAULT,
            description: "A Redis replica is lagging behind the primary",
        },
    }
}
