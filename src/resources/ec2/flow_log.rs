//! VPC flow logs: ALL traffic of the VPC into the encrypted flow-log group, delivered through
//! the flow-logs role (HIPAA audit controls, Config rule `VPC_FLOW_LOGS_ENABLED`).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    FlowLog as SdkFlowLog, FlowLogsResourceType, LogDestinationType, ResourceType, TrafficType,
};
use serde_json::json;

use super::api::{self, filter, tags_value};
use super::delete::delete;
use super::describe;
use crate::aws::{AwsError, AwsResultExt};
use crate::context::Ctx;
use crate::control::{AUDIT, Control, Severity, control};
use crate::error::Error;
use crate::logical::{Logical, Purpose, RoleFor};
use crate::property::{Prop, Property, TAGS};
use crate::resource::{Change, Observed, Properties, Resource};
use crate::resources::common::desired_tags;
use crate::state::Record;

pub(crate) struct FlowLog;

const CAPTURED: Control = control(
    "VPC flow logs capture ALL traffic into the encrypted group",
    Severity::High,
    AUDIT,
    "run `medtech up`",
    Some("vpc_flow_logs_enabled"),
    Some("VPC_FLOW_LOGS_ENABLED"),
);
static RESOURCE: Property = Property::fixed("resource_id", CAPTURED);
static TRAFFIC: Property = Property::fixed("traffic_type", CAPTURED);
static DESTINATION_TYPE: Property = Property::fixed("log_destination_type", CAPTURED);
static GROUP: Property = Property::fixed("log_group_name", CAPTURED);
static ROLE: Property = Property::fixed("deliver_logs_permission_arn", CAPTURED);
/// In place although nothing on the flow log changes it: `update` explains what does (the
/// role's policy), where the engine's refusal would advise re-creating the environment.
static DELIVERY: Property = Property::in_place(
    "delivery",
    control(
        "AWS delivers the flow logs (DeliverLogsStatus SUCCESS): the role may write to the group",
        Severity::High,
        AUDIT,
        "run `medtech up` to repair the flow-logs role's policy, then `medtech verify` once AWS has delivered again",
        Some("vpc_flow_logs_enabled"),
        Some("VPC_FLOW_LOGS_ENABLED"),
    ),
);

impl FlowLog {
    fn observe(log: &SdkFlowLog) -> Result<Observed, AwsError> {
        Ok(Observed {
            record: Record::new(describe::id_of(log)?),
            properties: Properties::from([
                (&RESOURCE, json!(log.resource_id())),
                (&TRAFFIC, json!(log.traffic_type().map(TrafficType::as_str))),
                (
                    &DESTINATION_TYPE,
                    json!(log.log_destination_type().map(LogDestinationType::as_str)),
                ),
                (&GROUP, json!(log.log_group_name())),
                (&ROLE, json!(log.deliver_logs_permission_arn())),
                // Whether AWS can deliver through the role: a flow log that exists but
                // delivers nothing is no audit trail.
                (
                    &DELIVERY,
                    json!({
                        "status": log.deliver_logs_status(),
                        "error": log.deliver_logs_error_message(),
                    }),
                ),
                (&TAGS, tags_value(log.tags())),
            ]),
        })
    }

    fn role_arn(ctx: &Ctx) -> Result<String, Error> {
        ctx.arn_of(Logical::Role(RoleFor::FlowLogs))
    }
}

/// A role made seconds ago is not yet usable by the flow-logs service; AWS says so with a
/// generic error, told apart only by its message.
fn role_not_ready(e: &AwsError) -> bool {
    let d = e.detail.to_ascii_lowercase();
    d.contains("unable to assume") || (d.contains("role") && d.contains("does not exist"))
}

#[async_trait]
impl Resource for FlowLog {
    fn name(&self) -> Logical {
        Logical::FlowLog
    }

    fn depends_on(&self) -> Vec<Logical> {
        vec![
            Logical::Vpc,
            Logical::LogGroup(Purpose::FlowLogs),
            Logical::Role(RoleFor::FlowLogs),
        ]
    }

    fn properties(&self) -> &'static [Prop] {
        const {
            &[
                &RESOURCE,
                &TRAFFIC,
                &DESTINATION_TYPE,
                &GROUP,
                &ROLE,
                &DELIVERY,
                &TAGS,
            ]
        }
    }

    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error> {
        Ok(Properties::from([
            (&RESOURCE, json!(ctx.id_of(Logical::Vpc)?)),
            (&TRAFFIC, json!("ALL")),
            (&DESTINATION_TYPE, json!("cloud-watch-logs")),
            (&GROUP, json!(ctx.names().log_group(Purpose::FlowLogs))),
            (&ROLE, json!(Self::role_arn(ctx)?)),
            // AWS's error message, when there is one, is for the report, not compared.
            (&DELIVERY, json!({"status": "SUCCESS"})),
            (&TAGS, desired_tags(ctx, &ctx.names().flow_log())),
        ]))
    }

    async fn read(&self, ctx: &Ctx, _recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        let Some(vpc) = ctx.record(Logical::Vpc) else {
            return Ok(None);
        };
        let (name, filters) = (ctx.names().flow_log(), vec![filter("resource-id", vpc.id)]);
        let found = describe::ours(ctx, self.name(), &name, filters, |_: &SdkFlowLog| true).await?;
        Ok(found.map(|l| Self::observe(&l)).transpose()?)
    }

    async fn create(&self, ctx: &Ctx) -> Result<Observed, Error> {
        let vpc = ctx.id_of(Logical::Vpc)?;
        let role = Self::role_arn(ctx)?;
        let group = ctx.names().log_group(Purpose::FlowLogs);
        let token = api::client_token(ctx, self.name(), &[&vpc, &role, &group]);
        let started = std::time::Instant::now();
        let out = loop {
            let result = ctx
                .clients
                .ec2
                .create_flow_logs()
                .resource_ids(&vpc)
                .resource_type(FlowLogsResourceType::Vpc)
                .traffic_type(TrafficType::All)
                .log_destination_type(LogDestinationType::CloudWatchLogs)
                .log_group_name(&group)
                .deliver_logs_permission_arn(&role)
                .client_token(&token)
                .tag_specifications(api::tag_spec(
                    ctx,
                    ResourceType::VpcFlowLog,
                    &ctx.names().flow_log(),
                ))
                .send()
                .await
                .op("ec2:CreateFlowLogs");
            match result {
                Err(e)
                    if role_not_ready(&e)
                        && started.elapsed() < ctx.scaled(Duration::from_secs(120)) =>
                {
                    ctx.status(self.name(), "waiting for the new IAM role to propagate");
                    ctx.pause(Duration::from_secs(5)).await?;
                }
                other => break other?,
            }
        };
        if let Some(problem) = out.unsuccessful().first() {
            let message = problem
                .error()
                .and_then(|e| e.message())
                .unwrap_or("no reason given");
            return Err(Error::resource(
                self.name(),
                format!("AWS refused the flow log: {message}"),
            ));
        }
        self.read_back(ctx, None).await
    }

    async fn update(&self, ctx: &Ctx, current: &Observed, changes: &[Change]) -> Result<(), Error> {
        let (id, name) = (&current.record.id, ctx.names().flow_log());
        for change in changes {
            match change.property {
                // Nothing on the flow log sets it: the role's permissions do, and the role
                // was brought in line before this step.
                p if p == &DELIVERY => {
                    let observed = change.observed.as_ref();
                    let field = |key: &str| {
                        observed
                            .and_then(|v| v.get(key))
                            .and_then(|v| v.as_str())
                            .map(str::to_owned)
                    };
                    return Err(Error::resource(
                        self.name(),
                        format!(
                            "AWS reports flow-log delivery {} ({}): the role {} must allow logs:CreateLogStream, logs:PutLogEvents, logs:DescribeLogStreams and logs:DescribeLogGroups; if this run just repaired the role, AWS updates the status at its next delivery: run `medtech verify` in a few minutes",
                            field("status").unwrap_or_else(|| "unknown".to_owned()),
                            field("error").unwrap_or_else(|| "no reason given".to_owned()),
                            Self::role_arn(ctx)?,
                        ),
                    ));
                }
                _ => api::retag_or_refuse(ctx, self.name(), id, &name, change).await?,
            }
        }
        Ok(())
    }

    async fn destroy(&self, ctx: &Ctx, current: &Observed) -> Result<(), Error> {
        delete::<SdkFlowLog>(ctx, &current.record.id).await
    }
}
