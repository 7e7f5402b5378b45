//! VPC flow logs: ALL traffic of the VPC into the encrypted flow-log group, delivered through
//! the flow-logs role (HIPAA audit controls, Config rule `VPC_FLOW_LOGS_ENABLED`).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    FlowLog as SdkFlowLog, FlowLogsResourceType, LogDestinationType, ResourceType, TrafficType,
};
use serde_json::json;

use super::api::{self, filter, is_ours, tags_value};
use super::describe;
use crate::aws::{AwsError, AwsResultExt};
use crate::context::Ctx;
use crate::error::Error;
use crate::logical::{Logical, Purpose, RoleFor};
use crate::resource::{Change, Observed, Properties, Resource};
use crate::resources::common::{desired_tags, gone, single};
use crate::state::Record;

pub(crate) struct FlowLog;

impl FlowLog {
    fn observe(log: &SdkFlowLog) -> Result<Observed, AwsError> {
        Ok(Observed {
            record: Record::new(describe::id_of(log)?),
            properties: Properties::from([
                ("resource_id", json!(log.resource_id())),
                (
                    "traffic_type",
                    json!(log.traffic_type().map(TrafficType::as_str)),
                ),
                (
                    "log_destination_type",
                    json!(log.log_destination_type().map(LogDestinationType::as_str)),
                ),
                ("log_group_name", json!(log.log_group_name())),
                (
                    "deliver_logs_permission_arn",
                    json!(log.deliver_logs_permission_arn()),
                ),
                // Whether AWS can deliver through the role: a flow log that exists but
                // delivers nothing is no audit trail.
                (
                    "delivery",
                    json!({
                        "status": log.deliver_logs_status(),
                        "error": log.deliver_logs_error_message(),
                    }),
                ),
                ("tags", tags_value(log.tags())),
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

    fn kind(&self) -> &'static str {
        "flow_log"
    }

    fn depends_on(&self) -> Vec<Logical> {
        vec![
            Logical::Vpc,
            Logical::LogGroup(Purpose::FlowLogs),
            Logical::Role(RoleFor::FlowLogs),
        ]
    }

    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error> {
        Ok(Properties::from([
            ("resource_id", json!(ctx.id_of(Logical::Vpc)?)),
            ("traffic_type", json!("ALL")),
            ("log_destination_type", json!("cloud-watch-logs")),
            ("log_group_name", json!(ctx.names().flow_log_group())),
            ("deliver_logs_permission_arn", json!(Self::role_arn(ctx)?)),
            // AWS's error message, when there is one, is for the report, not compared.
            ("delivery", json!({"status": "SUCCESS"})),
            ("tags", desired_tags(ctx, &ctx.names().flow_log())),
        ]))
    }

    async fn read(&self, ctx: &Ctx, _recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        let Some(vpc) = ctx.record(Logical::Vpc) else {
            return Ok(None);
        };
        let all: Vec<SdkFlowLog> =
            describe::filtered(ctx, vec![filter("resource-id", vpc.id)]).await?;
        let name = ctx.names().flow_log();
        let ours = all
            .into_iter()
            .filter(|l| is_ours(ctx, l.tags(), &name))
            .collect();
        Ok(single(self.name(), "flow log", describe::with_ids(ours)?)?
            .map(|(_, l)| Self::observe(&l))
            .transpose()?)
    }

    async fn create(&self, ctx: &Ctx) -> Result<Observed, Error> {
        let vpc = ctx.id_of(Logical::Vpc)?;
        let role = Self::role_arn(ctx)?;
        let group = ctx.names().flow_log_group();
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
                "delivery" => {
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
        let ec2 = &ctx.clients.ec2;
        let deleted = ec2.delete_flow_logs().flow_log_ids(&current.record.id);
        gone(deleted.send().await.op("ec2:DeleteFlowLogs"))
    }
}
