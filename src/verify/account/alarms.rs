//! The CIS 3.x metric-filter alarms: for each event the benchmark wants an alarm on, a metric
//! filter on the log group of a counted trail (multi-region, logging) whose pattern catches the
//! event, and a CloudWatch alarm with an action on the filter's metric.
//!
//! Patterns are compared as Prowler compares them: spacing around `=` and `!=` and quotes do
//! not matter, and the pattern must name every key term of the benchmark's own pattern (`CIS`
//! below). Prowler's regular expressions also want the terms in the benchmark's order; this
//! check takes them in any order, so a filter written from `CIS` passes both.

use std::collections::{BTreeMap, BTreeSet};

use futures::future::try_join_all;
use serde_json::json;

use super::cloudtrail::Trail;
use crate::aws::{AwsError, AwsResultExt, Clients, ErrorKind, Required};
use crate::control::{ACTIVITY, Control, Severity, control};
use crate::verify::Check;

/// One event the benchmark wants an alarm on.
pub(super) struct Alarmed {
    pub(super) check: (&'static str, Control),
    /// The terms a pattern must contain, as `normalised` writes them.
    terms: &'static [&'static str],
    /// The benchmark's pattern, for the expected value.
    cis: &'static str,
}

const FIX: &str = "`aws logs put-metric-filter` on the trail's log group with the expected pattern, then `aws cloudwatch put-metric-alarm` on its metric with `--alarm-actions TOPIC_ARN` (docs/account-baseline.md)";

/// `164.308(a)(5)(ii)(C)`: procedures for monitoring log-in attempts.
const LOGIN_MONITORING: &str = "164.308(a)(5)(ii)(C) log-in monitoring";

const fn alarmed(
    name: &'static str,
    title: &'static str,
    safeguard: &'static str,
    prowler: &'static str,
    terms: &'static [&'static str],
    cis: &'static str,
) -> Alarmed {
    Alarmed {
        check: (
            name,
            control(title, Severity::Medium, safeguard, FIX, Some(prowler), None),
        ),
        terms,
        cis,
    }
}

pub(super) const ALARMED: [Alarmed; 7] = [
    alarmed(
        "alarm_root_usage",
        "Use of the root user raises a CloudWatch alarm (metric filter on the trail's log group)",
        ACTIVITY,
        "cloudwatch_log_metric_filter_root_usage",
        &[
            "$.userIdentity.type=Root",
            "$.userIdentity.invokedBy NOT EXISTS",
            "$.eventType!=AwsServiceEvent",
        ],
        r#"{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }"#,
    ),
    alarmed(
        "alarm_authentication_failures",
        "Failed console sign-ins raise a CloudWatch alarm (metric filter on the trail's log group)",
        LOGIN_MONITORING,
        "cloudwatch_log_metric_filter_authentication_failures",
        &[
            "$.eventName=ConsoleLogin",
            "$.errorMessage=Failed authentication",
        ],
        r#"{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }"#,
    ),
    alarmed(
        "alarm_network_acl_changes",
        "Network ACL changes raise a CloudWatch alarm (metric filter on the trail's log group)",
        ACTIVITY,
        "cloudwatch_changes_to_network_acls_alarm_configured",
        &[
            "$.eventName=CreateNetworkAcl",
            "$.eventName=CreateNetworkAclEntry",
            "$.eventName=DeleteNetworkAcl",
            "$.eventName=DeleteNetworkAclEntry",
            "$.eventName=ReplaceNetworkAclEntry",
            "$.eventName=ReplaceNetworkAclAssociation",
        ],
        "{ ($.eventName = CreateNetworkAcl) || ($.eventName = CreateNetworkAclEntry) || ($.eventName = DeleteNetworkAcl) || ($.eventName = DeleteNetworkAclEntry) || ($.eventName = ReplaceNetworkAclEntry) || ($.eventName = ReplaceNetworkAclAssociation) }",
    ),
    alarmed(
        "alarm_network_gateway_changes",
        "Network gateway changes raise a CloudWatch alarm (metric filter on the trail's log group)",
        ACTIVITY,
        "cloudwatch_changes_to_network_gateways_alarm_configured",
        &[
            "$.eventName=CreateCustomerGateway",
            "$.eventName=DeleteCustomerGateway",
            "$.eventName=AttachInternetGateway",
            "$.eventName=CreateInternetGateway",
            "$.eventName=DeleteInternetGateway",
            "$.eventName=DetachInternetGateway",
        ],
        "{ ($.eventName = CreateCustomerGateway) || ($.eventName = DeleteCustomerGateway) || ($.eventName = AttachInternetGateway) || ($.eventName = CreateInternetGateway) || ($.eventName = DeleteInternetGateway) || ($.eventName = DetachInternetGateway) }",
    ),
    alarmed(
        "alarm_route_table_changes",
        "Route table changes raise a CloudWatch alarm (metric filter on the trail's log group)",
        ACTIVITY,
        "cloudwatch_changes_to_network_route_tables_alarm_configured",
        &[
            "$.eventName=CreateRoute",
            "$.eventName=CreateRouteTable",
            "$.eventName=ReplaceRoute",
            "$.eventName=ReplaceRouteTableAssociation",
            "$.eventName=DeleteRouteTable",
            "$.eventName=DeleteRoute",
            "$.eventName=DisassociateRouteTable",
        ],
        "{ ($.eventName = CreateRoute) || ($.eventName = CreateRouteTable) || ($.eventName = ReplaceRoute) || ($.eventName = ReplaceRouteTableAssociation) || ($.eventName = DeleteRouteTable) || ($.eventName = DeleteRoute) || ($.eventName = DisassociateRouteTable) }",
    ),
    alarmed(
        "alarm_vpc_changes",
        "VPC changes raise a CloudWatch alarm (metric filter on the trail's log group)",
        ACTIVITY,
        "cloudwatch_changes_to_vpcs_alarm_configured",
        &[
            "$.eventName=CreateVpc",
            "$.eventName=DeleteVpc",
            "$.eventName=ModifyVpcAttribute",
            "$.eventName=AcceptVpcPeeringConnection",
            "$.eventName=CreateVpcPeeringConnection",
            "$.eventName=DeleteVpcPeeringConnection",
            "$.eventName=RejectVpcPeeringConnection",
            "$.eventName=AttachClassicLinkVpc",
            "$.eventName=DetachClassicLinkVpc",
            "$.eventName=DisableVpcClassicLink",
            "$.eventName=EnableVpcClassicLink",
        ],
        "{ ($.eventName = CreateVpc) || ($.eventName = DeleteVpc) || ($.eventName = ModifyVpcAttribute) || ($.eventName = AcceptVpcPeeringConnection) || ($.eventName = CreateVpcPeeringConnection) || ($.eventName = DeleteVpcPeeringConnection) || ($.eventName = RejectVpcPeeringConnection) || ($.eventName = AttachClassicLinkVpc) || ($.eventName = DetachClassicLinkVpc) || ($.eventName = DisableVpcClassicLink) || ($.eventName = EnableVpcClassicLink) }",
    ),
    alarmed(
        "alarm_security_group_changes",
        "Security group changes raise a CloudWatch alarm (metric filter on the trail's log group)",
        ACTIVITY,
        "cloudwatch_log_metric_filter_security_group_changes",
        &[
            "$.eventName=AuthorizeSecurityGroupIngress",
            "$.eventName=AuthorizeSecurityGroupEgress",
            "$.eventName=RevokeSecurityGroupIngress",
            "$.eventName=RevokeSecurityGroupEgress",
            "$.eventName=CreateSecurityGroup",
            "$.eventName=DeleteSecurityGroup",
        ],
        "{ ($.eventName = AuthorizeSecurityGroupIngress) || ($.eventName = AuthorizeSecurityGroupEgress) || ($.eventName = RevokeSecurityGroupIngress) || ($.eventName = RevokeSecurityGroupEgress) || ($.eventName = CreateSecurityGroup) || ($.eventName = DeleteSecurityGroup) }",
    ),
];

/// A metric filter on a counted trail's log group.
struct Filter {
    group: String,
    name: String,
    /// The pattern as `normalised` writes it.
    pattern: String,
    /// The metrics it feeds: (namespace, name).
    metrics: Vec<Metric>,
}

type Metric = (String, String);

pub(super) async fn checks(clients: &Clients, trails: &[Trail]) -> Result<Vec<Check>, AwsError> {
    let groups = log_groups(&clients.region, &clients.account_id, trails);
    let filters = try_join_all(groups.iter().map(|g| filters_of(clients, g))).await?;
    let filters: Vec<Filter> = filters.into_iter().flatten().collect();
    let wanted: BTreeSet<&Metric> = filters
        .iter()
        .filter(|f| ALARMED.iter().any(|a| a.caught_by(&f.pattern)))
        .flat_map(|f| &f.metrics)
        .collect();
    let alarms = try_join_all(wanted.into_iter().map(|m| alarm_on(clients, m))).await?;
    let alarms: BTreeMap<&Metric, String> = alarms.into_iter().flatten().collect();
    let no_group = format!(
        "no logging multi-region trail delivers to CloudWatch Logs in {}",
        clients.region
    );
    Ok(ALARMED
        .iter()
        .map(|a| a.check(&groups, &filters, &alarms, &no_group))
        .collect())
}

/// The names of the counted trails' log groups in this account and `region` (a group of
/// another region is checked by `verify --account` there, another account's in that account).
fn log_groups(region: &str, account: &str, trails: &[Trail]) -> Vec<String> {
    let mut groups: Vec<String> = trails
        .iter()
        .filter(|t| t.counts())
        .filter_map(|t| t.log_group.as_deref())
        .filter_map(|arn| group_in(region, account, arn))
        .collect();
    groups.sort();
    groups.dedup();
    groups
}

/// The group name of `arn:PARTITION:logs:REGION:ACCOUNT:log-group:NAME[:*]` when in `region`
/// and `account`.
fn group_in(region: &str, account: &str, arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "logs", r, a, "log-group", name, ..]
            if *r == region && *a == account && !name.is_empty() =>
        {
            Some((*name).to_owned())
        }
        _ => None,
    }
}

async fn filters_of(clients: &Clients, group: &str) -> Result<Vec<Filter>, AwsError> {
    let listed = clients.logs.describe_metric_filters().log_group_name(group);
    let listed = listed.into_paginator().items().send().try_collect().await;
    let filters = match listed.op("logs:DescribeMetricFilters") {
        // The trail names a group that is gone: it has no filter.
        Err(e) if e.is(ErrorKind::NotFound) => return Ok(Vec::new()),
        other => other?,
    };
    filters
        .iter()
        .map(|f| {
            Ok(Filter {
                group: group.to_owned(),
                name: f
                    .filter_name()
                    .required("logs:DescribeMetricFilters", "filterName")?
                    .to_owned(),
                // An empty pattern, which matches every event, may come back as none.
                pattern: normalised(f.filter_pattern().unwrap_or_default()),
                metrics: f
                    .metric_transformations()
                    .iter()
                    .map(|m| (m.metric_namespace().to_owned(), m.metric_name().to_owned()))
                    .collect(),
            })
        })
        .collect()
}

/// The name of an alarm on `metric` that acts (actions enabled, at least one alarm action).
async fn alarm_on<'m>(
    clients: &Clients,
    metric: &'m Metric,
) -> Result<Option<(&'m Metric, String)>, AwsError> {
    let (namespace, name) = metric;
    let found = clients
        .cloudwatch
        .describe_alarms_for_metric()
        .namespace(namespace)
        .metric_name(name)
        .send()
        .await
        .op("cloudwatch:DescribeAlarmsForMetric")?;
    found
        .metric_alarms()
        .iter()
        .find(|a| a.actions_enabled().unwrap_or(false) && !a.alarm_actions().is_empty())
        .map(|a| {
            let name = a
                .alarm_name()
                .required("cloudwatch:DescribeAlarmsForMetric", "AlarmName")?;
            Ok((metric, name.to_owned()))
        })
        .transpose()
}

impl Alarmed {
    /// Whether a normalised pattern names every key term, each a whole term (`CreateRoute` is
    /// not found in `CreateRouteTable`).
    fn caught_by(&self, pattern: &str) -> bool {
        self.terms.iter().all(|term| {
            pattern.match_indices(term).any(|(at, _)| {
                pattern[at + term.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !c.is_ascii_alphanumeric() && c != '_')
            })
        })
    }

    fn check(
        &self,
        groups: &[String],
        filters: &[Filter],
        alarms: &BTreeMap<&Metric, String>,
        no_group: &str,
    ) -> Check {
        let expected = json!(format!(
            "a metric filter like {} on the trail's log group, with an alarm that has an action",
            self.cis
        ));
        let (observed, passed) = if groups.is_empty() {
            (no_group.to_owned(), false)
        } else {
            self.found(groups, filters, alarms)
        };
        Check::account(self.check, expected, json!(observed), passed)
    }

    /// What the filters on `groups` and their alarms give for this event, and whether it passes.
    fn found(
        &self,
        groups: &[String],
        filters: &[Filter],
        alarms: &BTreeMap<&Metric, String>,
    ) -> (String, bool) {
        let catching: Vec<&Filter> = filters
            .iter()
            .filter(|f| self.caught_by(&f.pattern))
            .collect();
        let alarmed = catching
            .iter()
            .find_map(|f| f.metrics.iter().find_map(|m| alarms.get(m)).map(|a| (f, a)));
        match (catching.first(), alarmed) {
            (_, Some((f, alarm))) => (
                format!("filter {} on {}, alarm {alarm}", f.name, f.group),
                true,
            ),
            (None, _) => (
                format!("no metric filter on {} catches it", groups.join(", ")),
                false,
            ),
            (Some(f), None) => {
                let metrics: Vec<String> = f
                    .metrics
                    .iter()
                    .map(|(ns, name)| format!("{ns}/{name}"))
                    .collect();
                let text = format!(
                    "filter {} on {}: no alarm with an action on its metric ({})",
                    f.name,
                    f.group,
                    metrics.join(", ")
                );
                (text, false)
            }
        }
    }
}

/// A filter pattern without what does not change its meaning: quotes, runs of blanks, blanks
/// around `=` and `!=`.
fn normalised(pattern: &str) -> String {
    let unquoted: String = pattern.chars().filter(|c| *c != '"').collect();
    unquoted
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace(" !=", "!=")
        .replace("!= ", "!=")
        .replace(" =", "=")
        .replace("= ", "=")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_benchmark_pattern_is_caught_by_its_own_check_alone() {
        for (i, a) in ALARMED.iter().enumerate() {
            let pattern = normalised(a.cis);
            for (j, b) in ALARMED.iter().enumerate() {
                assert_eq!(b.caught_by(&pattern), i == j, "{} by {}", a.cis, b.check.0);
            }
        }
    }

    #[test]
    fn spacing_and_quotes_do_not_matter() {
        let root = &ALARMED[0];
        let tight = r#"{$.userIdentity.type="Root"&&$.userIdentity.invokedBy   NOT EXISTS&&$.eventType!="AwsServiceEvent"}"#;
        assert!(root.caught_by(&normalised(tight)));
        let failures = &ALARMED[1];
        let spaced = "{ ( $.eventName  =  ConsoleLogin ) && ( $.errorMessage = \"Failed authentication\" ) }";
        assert!(failures.caught_by(&normalised(spaced)));
    }

    #[test]
    fn a_missing_term_or_a_longer_name_is_not_caught() {
        let routes = &ALARMED[4];
        let without_delete_route = routes.cis.replace("|| ($.eventName = DeleteRoute) ", "");
        assert!(!routes.caught_by(&normalised(&without_delete_route)));
        // `DeleteRouteTable` does not stand for `DeleteRoute`.
        assert!(without_delete_route.contains("DeleteRouteTable"));
        let negated = routes
            .cis
            .replace("$.eventName = CreateRoute)", "$.eventName != CreateRoute)");
        assert!(!routes.caught_by(&normalised(&negated)));
    }

    #[test]
    fn only_log_groups_of_this_region_and_account_are_read() {
        let arn = "arn:aws:logs:us-east-1:123456789012:log-group:CloudTrail/logs:*";
        let account = "123456789012";
        assert_eq!(
            group_in("us-east-1", account, arn).as_deref(),
            Some("CloudTrail/logs")
        );
        assert_eq!(group_in("eu-west-1", account, arn), None);
        assert_eq!(group_in("us-east-1", "210987654321", arn), None);
        assert_eq!(group_in("us-east-1", account, "not-an-arn"), None);
    }
}
