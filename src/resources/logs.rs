//! The CloudWatch Logs groups: `/medtech/E/audit` for the application's audit trail,
//! `/medtech/E/vpc-flow` for VPC flow logs, and the two RDS exports its logs to. RDS would make
//! those itself, unencrypted and kept forever, and `destroy` would leave them behind: made
//! here first, they are encrypted with the stack's key and kept for the configured retention
//! (at least 90 days), like the others.

use async_trait::async_trait;
use aws_sdk_cloudwatchlogs::types::LogGroup as SdkGroup;
use serde_json::json;

use crate::aws::{AwsResultExt, ErrorKind};
use crate::context::{Ctx, ListKey};
use crate::control::{AUDIT, ENCRYPTION, Severity, control};
use crate::error::Error;
use crate::logical::{Logical, Purpose};
use crate::property::{Prop, Property, TAGS};
use crate::resource::{Change, Observed, Properties, Resource, unchangeable};
use crate::resources::common::tagging;
use crate::resources::common::{desired_tags, gone, listed, tag_pairs};
use crate::state::Record;

/// Log groups by name, with one list per shared prefix.
type Groups = Vec<(String, SdkGroup)>;
const MEDTECH_GROUPS: ListKey<Groups> = ListKey::new("logs:DescribeLogGroups");
const RDS_GROUPS: ListKey<Groups> = ListKey::new("logs:DescribeLogGroups:rds");

pub(crate) struct LogGroup {
    purpose: Purpose,
}

static KMS_KEY: Property = Property::in_place(
    "kms_key_id",
    control(
        "Log group encrypted with the stack's key",
        Severity::High,
        ENCRYPTION,
        "run `medtech up` (AssociateKmsKey)",
        Some("cloudwatch_log_group_kms_encryption_enabled"),
        Some("CLOUDWATCH_LOG_GROUP_ENCRYPTED"),
    ),
);
static RETENTION: Property = Property::in_place(
    "retention_in_days",
    control(
        "Logs kept for the configured retention (at least 90 days)",
        Severity::High,
        AUDIT,
        "run `medtech up` (PutRetentionPolicy)",
        Some("cloudwatch_log_group_retention_policy_specific_days_enabled"),
        Some("CW_LOGGROUP_RETENTION_PERIOD_CHECK"),
    ),
);

impl LogGroup {
    pub(crate) fn new(purpose: Purpose) -> Self {
        Self { purpose }
    }

    fn aws_name(&self, ctx: &Ctx) -> String {
        ctx.names().log_group(self.purpose)
    }

    /// The prefix the group shares with its siblings, and the key of their batched list.
    fn listing(&self, ctx: &Ctx) -> (String, &'static ListKey<Groups>) {
        let key = match self.purpose {
            Purpose::Audit | Purpose::FlowLogs => &MEDTECH_GROUPS,
            Purpose::RdsPostgresql | Purpose::RdsUpgrade => &RDS_GROUPS,
        };
        (ctx.names().log_group_prefix(self.purpose), key)
    }

    fn arn(&self, ctx: &Ctx) -> String {
        ctx.clients
            .arn("logs", &format!("log-group:{}", self.aws_name(ctx)))
    }

    async fn describe(&self, ctx: &Ctx) -> Result<Option<SdkGroup>, Error> {
        let name = self.aws_name(ctx);
        Ok(describe_prefixed(ctx, name.clone())
            .await?
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, group)| group))
    }

    async fn set_retention(&self, ctx: &Ctx) -> Result<(), Error> {
        ctx.clients
            .logs
            .put_retention_policy()
            .log_group_name(self.aws_name(ctx))
            .retention_in_days(ctx.settings.services.logs.retention_days)
            .send()
            .await
            .op("logs:PutRetentionPolicy")?;
        Ok(())
    }
}

#[async_trait]
impl Resource for LogGroup {
    fn name(&self) -> Logical {
        Logical::LogGroup(self.purpose)
    }

    fn depends_on(&self) -> Vec<Logical> {
        vec![Logical::KmsKey]
    }

    fn properties(&self) -> &'static [Prop] {
        const { &[&KMS_KEY, &RETENTION, &TAGS] }
    }

    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error> {
        let key = ctx
            .record(Logical::KmsKey)
            .and_then(|r| r.attr("arn").map(str::to_owned));
        Ok(Properties::from([
            (&KMS_KEY, json!(key)),
            (&RETENTION, json!(ctx.settings.services.logs.retention_days)),
            (&TAGS, desired_tags(ctx, &self.aws_name(ctx))),
        ]))
    }

    async fn read(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        // Siblings share a prefix (`/medtech/E/`, or the instance's under `/aws/rds/`): one
        // call lists them.
        let (prefix, key) = self.listing(ctx);
        let group = match listed(ctx, recorded, key, || describe_prefixed(ctx, prefix)).await? {
            Some(group) => Some(group),
            None => self.describe(ctx).await?,
        };
        let Some(group) = group else {
            return Ok(None);
        };
        let tags = tagging::tags_or(ctx, recorded, &self.arn(ctx), || async {
            let out = ctx
                .clients
                .logs
                .list_tags_for_resource()
                .resource_arn(self.arn(ctx))
                .send()
                .await
                .op("logs:ListTagsForResource")?;
            Ok(out.tags().map_or_else(
                || json!({}),
                |t| tag_pairs(t.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            ))
        })
        .await?;
        Ok(Some(Observed {
            record: Record::new(self.aws_name(ctx)).with("arn", self.arn(ctx)),
            properties: Properties::from([
                (&KMS_KEY, json!(group.kms_key_id())),
                (&RETENTION, json!(group.retention_in_days())),
                (&TAGS, tags),
            ]),
        }))
    }

    async fn create(&self, ctx: &Ctx) -> Result<Observed, Error> {
        let key = ctx.arn_of(Logical::KmsKey)?;
        let created = ctx
            .clients
            .logs
            .create_log_group()
            .log_group_name(self.aws_name(ctx))
            .kms_key_id(key)
            .set_tags(Some(ctx.tags(&self.aws_name(ctx)).into_iter().collect()))
            .send()
            .await
            .op("logs:CreateLogGroup");
        match created {
            // A retried create whose first response was lost; the read below checks it.
            Err(e) if e.is(ErrorKind::AlreadyExists) => {}
            other => other.map(drop)?,
        }
        ctx.set_record(
            self.name(),
            Record::new(self.aws_name(ctx)).with("arn", self.arn(ctx)),
        )?;
        self.set_retention(ctx).await?;
        self.read_back(ctx, None).await
    }

    async fn update(&self, ctx: &Ctx, _: &Observed, changes: &[Change]) -> Result<(), Error> {
        let logs = &ctx.clients.logs;
        for change in changes {
            match change.property {
                p if p == &RETENTION => self.set_retention(ctx).await?,
                p if p == &KMS_KEY => {
                    logs.associate_kms_key()
                        .log_group_name(self.aws_name(ctx))
                        .kms_key_id(ctx.arn_of(Logical::KmsKey)?)
                        .send()
                        .await
                        .op("logs:AssociateKmsKey")?;
                }
                p if p == &TAGS => {
                    logs.tag_resource()
                        .resource_arn(self.arn(ctx))
                        .set_tags(Some(ctx.tags(&self.aws_name(ctx)).into_iter().collect()))
                        .send()
                        .await
                        .op("logs:TagResource")?;
                }
                _ => return Err(unchangeable(self.name(), change)),
            }
        }
        Ok(())
    }

    async fn destroy(&self, ctx: &Ctx, _current: &Observed) -> Result<(), Error> {
        gone(
            ctx.clients
                .logs
                .delete_log_group()
                .log_group_name(self.aws_name(ctx))
                .send()
                .await
                .op("logs:DeleteLogGroup"),
        )
    }
}

/// The log groups whose names start with `prefix`, keyed by name (one page: a prefix this
/// narrow never fills 50).
async fn describe_prefixed(ctx: &Ctx, prefix: String) -> Result<Groups, Error> {
    let out = ctx
        .clients
        .logs
        .describe_log_groups()
        .log_group_name_prefix(prefix)
        .send()
        .await
        .op("logs:DescribeLogGroups")?;
    Ok(out
        .log_groups()
        .iter()
        .filter_map(|g| Some((g.log_group_name()?.to_owned(), g.clone())))
        .collect())
}
