//! The six CloudWatch alarms of the stack, each notifying the encrypted topic both when it
//! fires and when its data goes missing where that is an incident (a silent database is one;
//! an idle stream is not). Dimensions are the deterministic resource names, so alarms need
//! only the topic to exist, not the resources they watch.
//!
//! ElastiCache reports per member cache cluster, and a failover swaps which member is
//! primary, so the Redis alarms watch every member through metric math (`MAX` over one query
//! per member) instead of pinning a role to a member id. Their read-back also checks the
//! members the replication group has now, with their roles, against the ones watched.

use async_trait::async_trait;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, Metric as CloudWatchMetric, MetricAlarm, MetricDataQuery,
    MetricStat, Statistic, Tag,
};
use serde_json::{Value, json};

use crate::aws::AwsResultExt;
use crate::context::{Ctx, ListKey};
use crate::control::{ACTIVITY, Control, Severity, control};
use crate::error::Error;
use crate::logical::{Logical, Metric};
use crate::property::{Prop, Property, TAGS};
use crate::resource::{Change, Observed, Properties, Resource};
use crate::resources::common::tagging;
use crate::resources::common::{desired_tags, gone, listed, recorded_attr, tag_pairs};
use crate::resources::elasticache::replication_group;
use crate::state::Record;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

const ALARMS: ListKey<Vec<(String, MetricAlarm)>> = ListKey::new("cloudwatch:DescribeAlarms");
/// The Redis group's members, as the alarms watch them.
const MEMBERS: ListKey<Vec<(String, String)>> =
    ListKey::new("elasticache:DescribeReplicationGroups");

/// The alarms named `names` (one call takes up to 100), keyed by name.
async fn describe(ctx: &Ctx, names: Vec<String>) -> Result<Vec<(String, MetricAlarm)>, Error> {
    let out = ctx
        .clients
        .cloudwatch
        .describe_alarms()
        .set_alarm_names(Some(names))
        .send()
        .await
        .op("cloudwatch:DescribeAlarms")?;
    Ok(out
        .metric_alarms()
        .iter()
        .filter_map(|a| Some((a.alarm_name()?.to_owned(), a.clone())))
        .collect())
}

/// What one alarm watches and when it fires.
struct Spec {
    namespace: &'static str,
    metric: &'static str,
    statistic: Statistic,
    watched: Watched,
    comparison: ComparisonOperator,
    threshold: f64,
    period: i32,
    evaluation_periods: i32,
    /// What a period without data counts as (`TreatMissingData`): `notBreaching` where the
    /// metric exists only with traffic, `missing` (INSUFFICIENT_DATA, which notifies) where
    /// AWS always reports it and its absence is itself a fault.
    missing_data: &'static str,
    description: &'static str,
}

/// Whose metric an alarm watches.
enum Watched {
    /// One resource, by its dimension.
    One(&'static str, String),
    /// Every member cache cluster of the Redis group, alarmed on the worst of them.
    Members(Vec<String>),
}

/// The dimension ElastiCache reports its per-node metrics under.
const MEMBER_DIMENSION: &str = "CacheClusterId";

impl Watched {
    /// The `dimensions` property: `{name: value}`, or `{CacheClusterId: [members]}`.
    fn dimensions(&self) -> Value {
        match self {
            Watched::One(name, value) => json!({ *name: value }),
            Watched::Members(members) => json!({ MEMBER_DIMENSION: members }),
        }
    }
}

/// The metric-math query id of the `i`-th member (ids must start with a lower-case letter).
fn member_query_id(i: usize) -> String {
    format!("m{}", i + 1)
}

/// The expression the Redis alarms fire on: per period, the worst member.
fn worst_of(members: &[String]) -> String {
    let ids: Vec<String> = (0..members.len()).map(member_query_id).collect();
    format!("MAX([{}])", ids.join(","))
}

/// Kinesis publishes these only while records flow: an idle stream has no data, and that is
/// healthy.
const IDLE_IS_HEALTHY: &str = "notBreaching";
/// RDS and ElastiCache report these every minute while the resource runs: no data means the
/// resource, or its metrics, are gone, which the on-call must hear about.
const SILENCE_IS_A_FAULT: &str = "missing";

pub(crate) struct Alarm {
    metric: Metric,
}

const WATCHES: Control = control(
    "Alarm watches the intended metric with the configured threshold",
    Severity::Medium,
    ACTIVITY,
    "run `medtech up` (PutMetricAlarm)",
    None,
    None,
);
static NAMESPACE: Property = Property::in_place("namespace", WATCHES);
static METRIC_NAME: Property = Property::in_place("metric_name", WATCHES);
static STATISTIC: Property = Property::in_place("statistic", WATCHES);
static DIMENSIONS: Property = Property::in_place("dimensions", WATCHES);
static PERIOD: Property = Property::in_place("period", WATCHES);
/// Set on the Redis alarms only: the metric math over their members.
static EXPRESSION: Property = Property::in_place("expression", WATCHES);
static COMPARISON: Property = Property::in_place("comparison_operator", WATCHES);
static THRESHOLD: Property = Property::in_place("threshold", WATCHES);
static EVALUATION_PERIODS: Property = Property::in_place("evaluation_periods", WATCHES);
static MISSING_DATA: Property = Property::in_place(
    "treat_missing_data",
    control(
        "Missing data is treated as the metric requires: healthy for Kinesis traffic metrics, a notification for metrics AWS always reports",
        Severity::Medium,
        ACTIVITY,
        "run `medtech up` (PutMetricAlarm TreatMissingData)",
        None,
        None,
    ),
);
const NOTIFIES: Control = control(
    "Alarm notifies the topic on alarm and on missing data",
    Severity::High,
    ACTIVITY,
    "run `medtech up` (PutMetricAlarm)",
    Some("cloudwatch_alarm_actions_enabled"),
    Some("CLOUDWATCH_ALARM_ACTION_CHECK"),
);
static ACTIONS_ENABLED: Property = Property::in_place("actions_enabled", NOTIFIES);
static ALARM_ACTIONS: Property = Property::in_place("alarm_actions", NOTIFIES);
static INSUFFICIENT_DATA_ACTIONS: Property =
    Property::in_place("insufficient_data_actions", NOTIFIES);
/// The replication group's current members (`<id> (<role>)`) that a Redis alarm does not
/// watch: empty when the alarm covers the primary and every replica. Redis alarms only.
static UNCOVERED_MEMBERS: Property = Property::in_place(
    "uncovered_members",
    control(
        "Redis alarm watches every current member of the replication group, the primary and each replica, whichever a failover made primary",
        Severity::High,
        ACTIVITY,
        "run `medtech up` (PutMetricAlarm over every member)",
        None,
        None,
    ),
);

impl Alarm {
    pub(crate) fn new(metric: Metric) -> Self {
        Self { metric }
    }

    fn aws_name(&self, ctx: &Ctx) -> String {
        ctx.names().alarm(self.metric.slug())
    }

    fn spec(&self, ctx: &Ctx) -> Spec {
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
        match self.metric {
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

    fn topic(ctx: &Ctx) -> Result<String, Error> {
        ctx.arn_of(Logical::AlarmTopic)
    }

    fn arn(&self, ctx: &Ctx) -> String {
        ctx.clients
            .arn("cloudwatch", &format!("alarm:{}", self.aws_name(ctx)))
    }

    fn tags(&self, ctx: &Ctx) -> Vec<Tag> {
        ctx.tags(&self.aws_name(ctx))
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect()
    }

    /// PutMetricAlarm creates or fully replaces the alarm: one call serves create and repair.
    async fn put(&self, ctx: &Ctx) -> Result<(), Error> {
        let spec = self.spec(ctx);
        let topic = Self::topic(ctx)?;
        let request = ctx
            .clients
            .cloudwatch
            .put_metric_alarm()
            .alarm_name(self.aws_name(ctx))
            .alarm_description(format!(
                "medtech {}: {}",
                ctx.settings.env(),
                spec.description
            ));
        // CloudWatch takes either one metric or metric math, never both.
        let request = match &spec.watched {
            Watched::One(name, value) => request
                .namespace(spec.namespace)
                .metric_name(spec.metric)
                .statistic(spec.statistic.clone())
                .dimensions(Dimension::builder().name(*name).value(value).build())
                .period(spec.period),
            Watched::Members(members) => request.set_metrics(Some(member_queries(&spec, members))),
        };
        request
            .comparison_operator(spec.comparison)
            .threshold(spec.threshold)
            .evaluation_periods(spec.evaluation_periods)
            .treat_missing_data(spec.missing_data)
            .actions_enabled(true)
            .alarm_actions(&topic)
            .insufficient_data_actions(&topic)
            .set_tags(Some(self.tags(ctx)))
            .send()
            .await
            .op("cloudwatch:PutMetricAlarm")?;
        Ok(())
    }
}

/// One query per member (data only, not alarmed on by itself), then the expression.
fn member_queries(spec: &Spec, members: &[String]) -> Vec<MetricDataQuery> {
    let mut queries: Vec<MetricDataQuery> = members
        .iter()
        .enumerate()
        .map(|(i, member)| {
            let metric = CloudWatchMetric::builder()
                .namespace(spec.namespace)
                .metric_name(spec.metric)
                .dimensions(
                    Dimension::builder()
                        .name(MEMBER_DIMENSION)
                        .value(member)
                        .build(),
                )
                .build();
            MetricDataQuery::builder()
                .id(member_query_id(i))
                .metric_stat(
                    MetricStat::builder()
                        .metric(metric)
                        .period(spec.period)
                        .stat(spec.statistic.as_str())
                        .build(),
                )
                .return_data(false)
                .build()
        })
        .collect();
    queries.push(
        MetricDataQuery::builder()
            .id("worst")
            .label("worst member")
            .expression(worst_of(members))
            .return_data(true)
            .build(),
    );
    queries
}

/// One value when every member query agrees (as medtech puts them), else all of them, so
/// that a hand-edited query reads as drift.
fn uniform<T: serde::Serialize + PartialEq>(values: &[T]) -> Value {
    match values.split_first() {
        Some((first, rest)) if rest.iter().all(|v| v == first) => json!(first),
        _ => json!(values),
    }
}

/// The watched metric as `desired` states it, for a single-metric and a metric-math alarm
/// alike: a math alarm's dimensions are `{name: [value per query]}`.
fn observe_metric(alarm: &MetricAlarm) -> [(Prop, Value); 6] {
    let expression = alarm
        .metrics()
        .iter()
        .find(|q| q.return_data() == Some(true))
        .and_then(MetricDataQuery::expression);
    let stats: Vec<&MetricStat> = alarm
        .metrics()
        .iter()
        .filter_map(MetricDataQuery::metric_stat)
        .collect();
    if stats.is_empty() {
        let dimensions: serde_json::Map<String, Value> = alarm
            .dimensions()
            .iter()
            .filter_map(|d| Some((d.name()?.to_owned(), json!(d.value()?))))
            .collect();
        return [
            (&NAMESPACE, json!(alarm.namespace())),
            (&METRIC_NAME, json!(alarm.metric_name())),
            (&STATISTIC, json!(alarm.statistic().map(Statistic::as_str))),
            (&DIMENSIONS, Value::Object(dimensions)),
            (&PERIOD, json!(alarm.period())),
            (&EXPRESSION, json!(expression)),
        ];
    }
    let metrics: Vec<Option<&CloudWatchMetric>> = stats.iter().map(|s| s.metric()).collect();
    let mut dimensions = serde_json::Map::new();
    for d in metrics.iter().flatten().flat_map(|m| m.dimensions()) {
        if let (Some(name), Some(value)) = (d.name(), d.value())
            && let Value::Array(values) = dimensions.entry(name).or_insert_with(|| json!([]))
        {
            values.push(json!(value));
        }
    }
    let field = |f: fn(&CloudWatchMetric) -> Option<&str>| -> Vec<Option<&str>> {
        metrics.iter().map(|m| m.and_then(f)).collect()
    };
    [
        (&NAMESPACE, uniform(&field(CloudWatchMetric::namespace))),
        (&METRIC_NAME, uniform(&field(CloudWatchMetric::metric_name))),
        (
            &STATISTIC,
            uniform(&stats.iter().map(|s| s.stat()).collect::<Vec<_>>()),
        ),
        (&DIMENSIONS, Value::Object(dimensions)),
        (
            &PERIOD,
            uniform(&stats.iter().map(|s| s.period()).collect::<Vec<_>>()),
        ),
        (&EXPRESSION, json!(expression)),
    ]
}

/// The member cache clusters an alarm's metrics name.
fn watched_members(alarm: &MetricAlarm) -> Vec<&str> {
    let in_queries = alarm
        .metrics()
        .iter()
        .filter_map(|q| q.metric_stat()?.metric())
        .flat_map(|m| m.dimensions());
    alarm
        .dimensions()
        .iter()
        .chain(in_queries)
        .filter(|d| d.name() == Some(MEMBER_DIMENSION))
        .filter_map(Dimension::value)
        .collect()
}

/// The replication group's members as ElastiCache reports them now, each with its current
/// role (`primary`, `replica`); none while the group does not exist.
async fn current_members(ctx: &Ctx) -> Result<Vec<(String, String)>, Error> {
    let Some(group) = replication_group::describe(ctx).await? else {
        return Ok(Vec::new());
    };
    let roles: Vec<(&str, &str)> = group
        .node_groups()
        .iter()
        .flat_map(|g| g.node_group_members())
        .filter_map(|m| Some((m.cache_cluster_id()?, m.current_role()?)))
        .collect();
    Ok(group
        .member_clusters()
        .iter()
        .map(|id| {
            let role = roles
                .iter()
                .find(|(member, _)| member == id)
                .map_or("member", |(_, role)| role);
            (id.clone(), role.to_owned())
        })
        .collect())
}

fn observe(alarm: &MetricAlarm) -> Properties {
    let mut props = Properties::from(observe_metric(alarm));
    props.extend([
        (
            &COMPARISON,
            json!(alarm.comparison_operator().map(ComparisonOperator::as_str)),
        ),
        (&THRESHOLD, json!(alarm.threshold())),
        (&EVALUATION_PERIODS, json!(alarm.evaluation_periods())),
        (&MISSING_DATA, json!(alarm.treat_missing_data())),
        (&ACTIONS_ENABLED, json!(alarm.actions_enabled())),
        (&ALARM_ACTIONS, json!(alarm.alarm_actions())),
        (
            &INSUFFICIENT_DATA_ACTIONS,
            json!(alarm.insufficient_data_actions()),
        ),
    ]);
    props
}

#[async_trait]
impl Resource for Alarm {
    fn name(&self) -> Logical {
        Logical::Alarm(self.metric)
    }

    fn depends_on(&self) -> Vec<Logical> {
        vec![Logical::AlarmTopic]
    }

    fn properties(&self) -> &'static [Prop] {
        // Alarms over the cache's members (`Watched::Members`) also watch their expression and
        // that every member is covered: the first two.
        const ALL: [Prop; 15] = [
            &EXPRESSION,
            &UNCOVERED_MEMBERS,
            &NAMESPACE,
            &METRIC_NAME,
            &STATISTIC,
            &DIMENSIONS,
            &COMPARISON,
            &THRESHOLD,
            &PERIOD,
            &EVALUATION_PERIODS,
            &MISSING_DATA,
            &ACTIONS_ENABLED,
            &ALARM_ACTIONS,
            &INSUFFICIENT_DATA_ACTIONS,
            &TAGS,
        ];
        let all: &'static [Prop] = const { &ALL };
        match self.metric {
            Metric::RedisCpu | Metric::RedisReplicationLag => all,
            _ => &all[2..],
        }
    }

    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error> {
        let spec = self.spec(ctx);
        let topic = Self::topic(ctx)?;
        let mut desired = Properties::from([
            (&NAMESPACE, json!(spec.namespace)),
            (&METRIC_NAME, json!(spec.metric)),
            (&STATISTIC, json!(spec.statistic.as_str())),
            (&DIMENSIONS, spec.watched.dimensions()),
            (&COMPARISON, json!(spec.comparison.as_str())),
            (&THRESHOLD, json!(spec.threshold)),
            (&PERIOD, json!(spec.period)),
            (&EVALUATION_PERIODS, json!(spec.evaluation_periods)),
            (&MISSING_DATA, json!(spec.missing_data)),
            (&ACTIONS_ENABLED, json!(true)),
            (&ALARM_ACTIONS, json!([topic])),
            (&INSUFFICIENT_DATA_ACTIONS, json!([topic])),
            (&TAGS, desired_tags(ctx, &self.aws_name(ctx))),
        ]);
        if let Watched::Members(members) = &spec.watched {
            desired.insert(&EXPRESSION, json!(worst_of(members)));
            // Whatever the configuration says, the members the group has now, primary and
            // replicas alike, must all be watched.
            desired.insert(&UNCOVERED_MEMBERS, json!([]));
        }
        Ok(desired)
    }

    async fn read(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        let name = self.aws_name(ctx);
        let alarm = match listed(ctx, recorded, &ALARMS, || {
            describe(
                ctx,
                Metric::ALL.map(|m| ctx.names().alarm(m.slug())).to_vec(),
            )
        })
        .await?
        {
            Some(alarm) => Some(alarm),
            None => describe(ctx, vec![name.clone()])
                .await?
                .into_iter()
                .find(|(n, _)| *n == name)
                .map(|(_, alarm)| alarm),
        };
        let Some(alarm) = alarm else {
            return Ok(None);
        };
        let arn = alarm
            .alarm_arn()
            .map_or_else(|| self.arn(ctx), str::to_owned);
        let tags = tagging::tags_or(ctx, recorded, &arn, || async {
            let out = ctx
                .clients
                .cloudwatch
                .list_tags_for_resource()
                .resource_arn(&arn)
                .send()
                .await
                .op("cloudwatch:ListTagsForResource")?;
            Ok(tag_pairs(
                out.tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?, t.value()?))),
            ))
        })
        .await?;
        let mut props = observe(&alarm);
        props.insert(&TAGS, tags);
        if matches!(self.spec(ctx).watched, Watched::Members(_)) {
            // Both Redis alarms read the group: one call serves them while nothing changed.
            let listed = ctx.listed(&MEMBERS, || current_members(ctx)).await?;
            let fetched;
            let members: &[(String, String)] = match &listed {
                Some(members) => members,
                None => {
                    fetched = current_members(ctx).await?;
                    &fetched
                }
            };
            let watched = watched_members(&alarm);
            let uncovered: Vec<String> = members
                .iter()
                .filter(|(id, _)| !watched.contains(&id.as_str()))
                .map(|(id, role)| format!("{id} ({role})"))
                .collect();
            props.insert(&UNCOVERED_MEMBERS, json!(uncovered));
        }
        Ok(Some(Observed {
            record: Record::new(&name).with("arn", &arn),
            properties: props,
        }))
    }

    async fn create(&self, ctx: &Ctx) -> Result<Observed, Error> {
        self.put(ctx).await?;
        self.read_back(ctx, None).await
    }

    async fn update(&self, ctx: &Ctx, current: &Observed, changes: &[Change]) -> Result<(), Error> {
        if changes.iter().any(|c| c.property == &TAGS) {
            ctx.clients
                .cloudwatch
                .tag_resource()
                .resource_arn(recorded_attr(self.name(), &current.record, "arn")?)
                .set_tags(Some(self.tags(ctx)))
                .send()
                .await
                .op("cloudwatch:TagResource")?;
        }
        if changes.iter().any(|c| c.property != &TAGS) {
            self.put(ctx).await?;
        }
        Ok(())
    }

    async fn destroy(&self, ctx: &Ctx, _current: &Observed) -> Result<(), Error> {
        gone(
            ctx.clients
                .cloudwatch
                .delete_alarms()
                .alarm_names(self.aws_name(ctx))
                .send()
                .await
                .op("cloudwatch:DeleteAlarms"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(watched: Watched) -> Spec {
        Spec {
            namespace: "AWS/ElastiCache",
            metric: "EngineCPUUtilization",
            statistic: Statistic::Average,
            watched,
            comparison: ComparisonOperator::GreaterThanThreshold,
            threshold: 75.0,
            period: 300,
            evaluation_periods: 3,
            missing_data: SILENCE_IS_A_FAULT,
            description: "test",
        }
    }

    fn members() -> Vec<String> {
        vec!["g-001".to_owned(), "g-002".to_owned()]
    }

    #[test]
    fn a_member_math_alarm_reads_back_as_desired() {
        let spec = spec(Watched::Members(members()));
        let alarm = MetricAlarm::builder()
            .set_metrics(Some(member_queries(&spec, &members())))
            .build();
        let observed = observe(&alarm);
        assert_eq!(observed[&DIMENSIONS], spec.watched.dimensions());
        assert_eq!(observed[&EXPRESSION], json!("MAX([m1,m2])"));
        assert_eq!(observed[&NAMESPACE], json!("AWS/ElastiCache"));
        assert_eq!(observed[&STATISTIC], json!("Average"));
        assert_eq!(observed[&PERIOD], json!(300));
        assert_eq!(watched_members(&alarm), ["g-001", "g-002"]);
    }

    #[test]
    fn a_member_query_edited_by_hand_is_drift() {
        let spec = spec(Watched::Members(members()));
        let mut queries = member_queries(&spec, &members());
        queries[1] = MetricDataQuery::builder()
            .id("m2")
            .metric_stat(
                MetricStat::builder()
                    .metric(
                        CloudWatchMetric::builder()
                            .namespace(spec.namespace)
                            .metric_name(spec.metric)
                            .build(),
                    )
                    .period(60)
                    .stat("Minimum")
                    .build(),
            )
            .build();
        let observed = observe(&MetricAlarm::builder().set_metrics(Some(queries)).build());
        assert_eq!(observed[&STATISTIC], json!(["Average", "Minimum"]));
        assert_eq!(observed[&PERIOD], json!([300, 60]));
        assert_eq!(
            observed[&DIMENSIONS],
            json!({ MEMBER_DIMENSION: ["g-001"] })
        );
    }

    #[test]
    fn an_alarm_pinned_to_one_member_watches_only_it() {
        let alarm = MetricAlarm::builder()
            .namespace("AWS/ElastiCache")
            .metric_name("EngineCPUUtilization")
            .dimensions(
                Dimension::builder()
                    .name(MEMBER_DIMENSION)
                    .value("g-001")
                    .build(),
            )
            .build();
        let observed = observe(&alarm);
        assert_eq!(observed[&DIMENSIONS], json!({ MEMBER_DIMENSION: "g-001" }));
        assert_ne!(
            observed[&DIMENSIONS],
            spec(Watched::Members(members())).watched.dimensions()
        );
        assert_eq!(observed[&EXPRESSION], Value::Null);
        assert_eq!(watched_members(&alarm), ["g-001"]);
    }
}
