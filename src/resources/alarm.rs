//! The six CloudWatch alarms of the stack, each notifying the encrypted topic both when it
//! fires and when its data goes missing where that is an incident (a silent database is one;
//! an idle stream is not). Dimensions are the deterministic resource names, so alarms need
//! only the topic to exist, not the resources they watch.

use async_trait::async_trait;
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, MetricAlarm, Statistic, Tag};
use serde_json::{Value, json};

use super::common::{desired_tags, gone, listed, tag_pairs};
use super::sns_topic::SnsTopic;
use super::tagging;
use crate::aws::AwsResultExt;
use crate::context::Ctx;
use crate::error::Error;
use crate::resource::{Change, Observed, Properties, Resource};
use crate::state::Record;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

#[derive(Clone, Copy, Debug)]
pub enum Metric {
    KinesisIteratorAge,
    KinesisWriteThrottled,
    RdsCpu,
    RdsFreeStorage,
    RedisCpu,
    RedisReplicationLag,
}

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

impl Metric {
    pub const ALL: [Metric; 6] = [
        Metric::KinesisIteratorAge,
        Metric::KinesisWriteThrottled,
        Metric::RdsCpu,
        Metric::RdsFreeStorage,
        Metric::RedisCpu,
        Metric::RedisReplicationLag,
    ];

    /// The `<metric>` of `medtech-<metric>-E`, and the logical name's suffix.
    fn slug(self) -> &'static str {
        match self {
            Metric::KinesisIteratorAge => "kinesis-iterator-age",
            Metric::KinesisWriteThrottled => "kinesis-write-throttled",
            Metric::RdsCpu => "rds-cpu",
            Metric::RdsFreeStorage => "rds-free-storage",
            Metric::RedisCpu => "redis-cpu",
            Metric::RedisReplicationLag => "redis-replication-lag",
        }
    }
}

/// What one alarm watches and when it fires.
struct Spec {
    namespace: &'static str,
    metric: &'static str,
    statistic: Statistic,
    dimension: (&'static str, String),
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

/// Kinesis publishes these only while records flow: an idle stream has no data, and that is
/// healthy.
const IDLE_IS_HEALTHY: &str = "notBreaching";
/// RDS and ElastiCache report these every minute while the resource runs: no data means the
/// resource, or its metrics, are gone, which the on-call must hear about.
const SILENCE_IS_A_FAULT: &str = "missing";

pub struct Alarm {
    metric: Metric,
    logical: String,
}

impl Alarm {
    pub fn new(metric: Metric) -> Self {
        Self {
            metric,
            logical: format!("alarm-{}", metric.slug()),
        }
    }

    fn aws_name(&self, ctx: &Ctx) -> String {
        ctx.names().alarm(self.metric.slug())
    }

    fn spec(&self, ctx: &Ctx) -> Spec {
        let names = ctx.names();
        let limits = &ctx.settings.services.alarms;
        let stream = ("StreamName", names.kinesis_stream());
        let db = ("DBInstanceIdentifier", names.rds_instance());
        // ElastiCache reports per member cluster: `-001` is created primary, `-002` replica.
        let group = names.redis_replication_group();
        match self.metric {
            Metric::KinesisIteratorAge => Spec {
                namespace: "AWS/Kinesis",
                metric: "GetRecords.IteratorAgeMilliseconds",
                statistic: Statistic::Maximum,
                dimension: stream,
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
                dimension: stream,
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
                dimension: db,
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
                dimension: db,
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
                dimension: ("CacheClusterId", format!("{group}-001")),
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
                dimension: ("CacheClusterId", format!("{group}-002")),
                comparison: ComparisonOperator::GreaterThanThreshold,
                threshold: limits.redis_replication_lag_seconds,
                period: 60,
                evaluation_periods: 5,
                // Only a replica reports it: silence means the replica is gone or was
                // promoted by a failover, both worth a notification.
                missing_data: SILENCE_IS_A_FAULT,
                description: "The Redis replica is lagging behind the primary",
            },
        }
    }

    fn topic(ctx: &Ctx) -> Result<String, Error> {
        ctx.arn_of(SnsTopic::NAME)
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
        ctx.clients
            .cloudwatch
            .put_metric_alarm()
            .alarm_name(self.aws_name(ctx))
            .alarm_description(format!(
                "medtech {}: {}",
                ctx.settings.env(),
                spec.description
            ))
            .namespace(spec.namespace)
            .metric_name(spec.metric)
            .statistic(spec.statistic)
            .dimensions(
                Dimension::builder()
                    .name(spec.dimension.0)
                    .value(spec.dimension.1)
                    .build(),
            )
            .comparison_operator(spec.comparison)
            .threshold(spec.threshold)
            .period(spec.period)
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

fn observe(alarm: &MetricAlarm) -> Properties {
    let dimensions: serde_json::Map<String, Value> = alarm
        .dimensions()
        .iter()
        .filter_map(|d| Some((d.name()?.to_owned(), json!(d.value()?))))
        .collect();
    Properties::from([
        ("namespace", json!(alarm.namespace())),
        ("metric_name", json!(alarm.metric_name())),
        ("statistic", json!(alarm.statistic().map(Statistic::as_str))),
        ("dimensions", Value::Object(dimensions)),
        (
            "comparison_operator",
            json!(alarm.comparison_operator().map(ComparisonOperator::as_str)),
        ),
        ("threshold", json!(alarm.threshold())),
        ("period", json!(alarm.period())),
        ("evaluation_periods", json!(alarm.evaluation_periods())),
        ("treat_missing_data", json!(alarm.treat_missing_data())),
        ("actions_enabled", json!(alarm.actions_enabled())),
        ("alarm_actions", json!(alarm.alarm_actions())),
        (
            "insufficient_data_actions",
            json!(alarm.insufficient_data_actions()),
        ),
    ])
}

#[async_trait]
impl Resource for Alarm {
    fn name(&self) -> &str {
        &self.logical
    }

    fn kind(&self) -> &'static str {
        "cloudwatch_alarm"
    }

    fn depends_on(&self) -> Vec<&'static str> {
        vec![SnsTopic::NAME]
    }

    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error> {
        let spec = self.spec(ctx);
        let topic = Self::topic(ctx)?;
        Ok(Properties::from([
            ("namespace", json!(spec.namespace)),
            ("metric_name", json!(spec.metric)),
            ("statistic", json!(spec.statistic.as_str())),
            ("dimensions", json!({ spec.dimension.0: spec.dimension.1 })),
            ("comparison_operator", json!(spec.comparison.as_str())),
            ("threshold", json!(spec.threshold)),
            ("period", json!(spec.period)),
            ("evaluation_periods", json!(spec.evaluation_periods)),
            ("treat_missing_data", json!(spec.missing_data)),
            ("actions_enabled", json!(true)),
            ("alarm_actions", json!([topic])),
            ("insufficient_data_actions", json!([topic])),
            ("tags", desired_tags(ctx, &self.aws_name(ctx))),
        ]))
    }

    async fn read(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        let name = self.aws_name(ctx);
        let alarm = match listed(ctx, recorded, "cloudwatch:DescribeAlarms", || {
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
        let tags = match tagging::tags(ctx, recorded, &arn).await? {
            Some(tags) => tags,
            None => {
                let out = ctx
                    .clients
                    .cloudwatch
                    .list_tags_for_resource()
                    .resource_arn(&arn)
                    .send()
                    .await
                    .op("cloudwatch:ListTagsForResource")?;
                tag_pairs(
                    out.tags()
                        .iter()
                        .filter_map(|t| Some((t.key()?, t.value()?))),
                )
            }
        };
        let mut props = observe(&alarm);
        props.insert("tags", tags);
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
        if changes.iter().any(|c| c.property == "tags") {
            ctx.clients
                .cloudwatch
                .tag_resource()
                .resource_arn(current.record.attr("arn").unwrap_or_default())
                .set_tags(Some(self.tags(ctx)))
                .send()
                .await
                .op("cloudwatch:TagResource")?;
        }
        if changes.iter().any(|c| c.property != "tags") {
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
