//! The Redis alarms' metric math: one query per member cache cluster and the worst of them,
//! since a failover swaps which member is primary; and the members the group has now, to
//! find one an alarm does not watch.

use aws_sdk_cloudwatch::types::{
    Dimension, Metric as CloudWatchMetric, MetricAlarm, MetricDataQuery, MetricStat,
};

use super::spec::{MEMBER_DIMENSION, Spec};
use crate::context::{Ctx, ListKey};
use crate::error::Error;
use crate::resources::elasticache::replication_group;

/// The Redis group's members, as the alarms watch them.
const MEMBERS: ListKey<Vec<(String, String)>> =
    ListKey::new("elasticache:DescribeReplicationGroups");

/// The metric-math query id of the `i`-th member (ids must start with a lower-case letter).
fn member_query_id(i: usize) -> String {
    format!("m{}", i + 1)
}

/// The expression the Redis alarms fire on: per period, the worst member.
pub(super) fn worst_of(members: &[String]) -> String {
    let ids: Vec<String> = (0..members.len()).map(member_query_id).collect();
    format!("MAX([{}])", ids.join(","))
}

/// One query per member (data only, not alarmed on by itself), then the expression.
pub(super) fn member_queries(spec: &Spec, members: &[String]) -> Vec<MetricDataQuery> {
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

/// The group's members, as `member (role)`, that `alarm` does not watch: after a change of
/// node count, or a query edited by hand.
pub(super) async fn uncovered(ctx: &Ctx, alarm: &MetricAlarm) -> Result<Vec<String>, Error> {
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
    let watched = watched_members(alarm);
    Ok(members
        .iter()
        .filter(|(id, _)| !watched.contains(&id.as_str()))
        .map(|(id, role)| format!("{id} ({role})"))
        .collect())
}

/// The member cache clusters an alarm's metrics name.
pub(super) fn watched_members(alarm: &MetricAlarm) -> Vec<&str> {
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
