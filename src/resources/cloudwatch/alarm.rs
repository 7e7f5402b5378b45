//! The alarm resource: its properties, how one is put, read back and deleted.

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
use crate::state::Record;

use super::members::{self, member_queries, worst_of};
use super::spec::{self, Spec, Watched};

const ALARMS: ListKey<Vec<(String, MetricAlarm)>> = ListKey::new("cloudwatch:DescribeAlarms");

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

    fn spec(&self, ctx: &Ctx) -> Spec {
        spec::spec(self.metric, ctx)
    }

    fn aws_name(&self, ctx: &Ctx) -> String {
        ctx.names().alarm(self.metric.slug())
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
            props.insert(
                &UNCOVERED_MEMBERS,
                json!(members::uncovered(ctx, &alarm).await?),
            );
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
    use crate::resources::cloudwatch::members::watched_members;
    use crate::resources::cloudwatch::spec::{MEMBER_DIMENSION, SILENCE_IS_A_FAULT};

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
