//! The backup plan `medtech-<env>`: a daily rule kept `backup.daily_retention_days`, and a
//! monthly one kept `backup.monthly_retention_days` when that is not 0, both into the vault at
//! `backup.schedule_hour_utc`. A change is one `UpdateBackupPlan` of the whole plan, which AWS
//! keeps as a new version: reads ask for the current one.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_backup::operation::get_backup_plan::GetBackupPlanOutput;
use aws_sdk_backup::types::{BackupPlanInput, BackupRule, BackupRuleInput, Lifecycle};
use serde_json::{Value, json};

use super::{read_tags, tags, write_tags};
use crate::aws::{AwsError, AwsResultExt, ErrorKind, Required};
use crate::config::BACKUP_START_WINDOW_MINUTES;
use crate::context::Ctx;
use crate::control::{BACKUP, Severity, control};
use crate::error::Error;
use crate::logical::Logical;
use crate::property::{Prop, Property, TAGS};
use crate::resource::{Change, Observed, Properties, Resource};
use crate::resources::common::{Lookup, desired_tags, find, gone, recorded_attr, tag_pairs};
use crate::state::Record;

pub(crate) struct BackupPlan;

static DAILY: Property = Property::in_place(
    "daily_rule",
    control(
        "Daily backups into the stack's vault, kept backup.daily_retention_days",
        Severity::High,
        BACKUP,
        "run `medtech up` (UpdateBackupPlan)",
        Some("backup_plans_exist"),
        Some("BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK"),
    ),
);
/// `null` when `backup.monthly_retention_days` is 0: then a monthly rule is drift.
static MONTHLY: Property = Property::in_place(
    "monthly_rule",
    control(
        "Monthly backups kept backup.monthly_retention_days (none when 0)",
        Severity::Medium,
        BACKUP,
        "run `medtech up` (UpdateBackupPlan)",
        None,
        None,
    ),
);

const DAILY_RULE: &str = "daily";
const MONTHLY_RULE: &str = "monthly";
/// AWS Backup's schedules are UTC unless a rule says otherwise; said, so that drift to another
/// zone is seen.
const TIMEZONE: &str = "Etc/UTC";
/// A daily job not done within a day has missed its purpose.
const COMPLETION_WINDOW_MINUTES: i64 = 24 * 60;

/// One rule as the plan should have it: its schedule (`cron` in AWS Backup's six fields) and
/// how many days its recovery points are kept.
struct Rule {
    name: &'static str,
    schedule: String,
    retention_days: i32,
}

impl BackupPlan {
    fn rules(ctx: &Ctx) -> Vec<Rule> {
        let backup = &ctx.settings.services.backup;
        let hour = backup.schedule_hour_utc;
        let daily = Rule {
            name: DAILY_RULE,
            schedule: format!("cron(0 {hour} ? * * *)"),
            retention_days: backup.daily_retention_days,
        };
        let monthly = (backup.monthly_retention_days > 0).then(|| Rule {
            name: MONTHLY_RULE,
            schedule: format!("cron(0 {hour} 1 * ? *)"),
            retention_days: backup.monthly_retention_days,
        });
        std::iter::once(daily).chain(monthly).collect()
    }

    /// Recovery points carry the PHI tags of the database they are copies of.
    fn recovery_point_tags(ctx: &Ctx) -> HashMap<String, String> {
        tags(ctx, &ctx.names().rds_instance())
    }

    fn desired_rule(ctx: &Ctx, rule: &Rule) -> Value {
        json!({
            "schedule": rule.schedule,
            "timezone": TIMEZONE,
            "start_window_minutes": BACKUP_START_WINDOW_MINUTES,
            "completion_window_minutes": COMPLETION_WINDOW_MINUTES,
            "target_vault": ctx.names().backup_vault(),
            "delete_after_days": rule.retention_days,
            "cold_storage_after_days": null,
            "recovery_point_tags": desired_tags(ctx, &ctx.names().rds_instance()),
        })
    }

    fn observed_rule(rule: &BackupRule) -> Value {
        let lifecycle = rule.lifecycle();
        json!({
            "schedule": rule.schedule_expression(),
            "timezone": rule.schedule_expression_timezone(),
            "start_window_minutes": rule.start_window_minutes(),
            "completion_window_minutes": rule.completion_window_minutes(),
            "target_vault": rule.target_backup_vault_name(),
            "delete_after_days": lifecycle.and_then(Lifecycle::delete_after_days),
            "cold_storage_after_days": lifecycle.and_then(Lifecycle::move_to_cold_storage_after_days),
            "recovery_point_tags": tag_pairs(
                rule.recovery_point_tags()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            ),
        })
    }

    /// The whole plan as config wants it: every rule, for a create or an update alike.
    fn input(ctx: &Ctx) -> Result<BackupPlanInput, Error> {
        let invalid = |e: aws_sdk_backup::error::BuildError| {
            Error::resource(Logical::BackupPlan, e.to_string())
        };
        let rules = Self::rules(ctx)
            .iter()
            .map(|rule| {
                BackupRuleInput::builder()
                    .rule_name(rule.name)
                    .target_backup_vault_name(ctx.names().backup_vault())
                    .schedule_expression(&rule.schedule)
                    .schedule_expression_timezone(TIMEZONE)
                    .start_window_minutes(i64::from(BACKUP_START_WINDOW_MINUTES))
                    .completion_window_minutes(COMPLETION_WINDOW_MINUTES)
                    .lifecycle(
                        Lifecycle::builder()
                            .delete_after_days(i64::from(rule.retention_days))
                            .build(),
                    )
                    .set_recovery_point_tags(Some(Self::recovery_point_tags(ctx)))
                    .build()
                    .map_err(invalid)
            })
            .collect::<Result<Vec<_>, _>>()?;
        BackupPlanInput::builder()
            .backup_plan_name(ctx.names().backup_plan())
            .set_rules(Some(rules))
            .build()
            .map_err(invalid)
    }

    /// The current version of the plan `id`; `None` when it does not exist or was deleted
    /// (AWS still answers for a deleted plan, with its deletion date).
    async fn get(ctx: &Ctx, id: &str) -> Result<Vec<(String, GetBackupPlanOutput)>, AwsError> {
        let out = ctx
            .clients
            .backup
            .get_backup_plan()
            .backup_plan_id(id)
            .send()
            .await
            .op("backup:GetBackupPlan")?;
        Ok(match out.deletion_date() {
            Some(_) => Vec::new(),
            None => vec![(id.to_owned(), out)],
        })
    }

    /// The live plans named like this environment's. Plan names are not unique in AWS Backup
    /// (only a plan with the same whole document is refused), so there may be several.
    async fn named(ctx: &Ctx, name: &str) -> Result<Vec<(String, GetBackupPlanOutput)>, AwsError> {
        let operation = "backup:ListBackupPlans";
        let plans = ctx.clients.backup.list_backup_plans().into_paginator();
        let plans = plans.items().send().try_collect().await.op(operation)?;
        let mut found = Vec::new();
        for plan in plans
            .iter()
            .filter(|p| p.backup_plan_name() == Some(name) && p.deletion_date().is_none())
        {
            let id = plan.backup_plan_id().required(operation, "BackupPlanId")?;
            found.extend(Self::get(ctx, id).await?);
        }
        Ok(found)
    }

    fn record(plan: &GetBackupPlanOutput) -> Result<Record, Error> {
        let operation = "backup:GetBackupPlan";
        let id = plan.backup_plan_id().required(operation, "BackupPlanId")?;
        let arn = plan
            .backup_plan_arn()
            .required(operation, "BackupPlanArn")?;
        let mut record = Record::new(id).with("arn", arn);
        if let Some(version) = plan.version_id() {
            record = record.with("version_id", version);
        }
        Ok(record)
    }
}

#[async_trait]
impl Resource for BackupPlan {
    fn name(&self) -> Logical {
        Logical::BackupPlan
    }

    fn depends_on(&self) -> Vec<Logical> {
        vec![Logical::BackupVault]
    }

    fn properties(&self) -> &'static [Prop] {
        const { &[&DAILY, &MONTHLY, &TAGS] }
    }

    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error> {
        let rules = Self::rules(ctx);
        let rule = |name: &str| {
            rules
                .iter()
                .find(|r| r.name == name)
                .map_or(Value::Null, |r| Self::desired_rule(ctx, r))
        };
        Ok(Properties::from([
            (&DAILY, rule(DAILY_RULE)),
            (&MONTHLY, rule(MONTHLY_RULE)),
            (&TAGS, desired_tags(ctx, &ctx.names().backup_plan())),
        ]))
    }

    async fn read(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        let name = ctx.names().backup_plan();
        // The recorded plan's tags are asked for beside the plan, not after it: one round
        // trip for a no-op run. They count only if the plan found is the recorded one.
        let recorded_arn = recorded.and_then(|r| r.attr("arn"));
        let early_tags = async {
            match recorded_arn {
                Some(arn) => Some(read_tags(ctx, recorded, arn).await),
                None => None,
            }
        };
        let lookup = find(
            self.name(),
            "backup plan",
            recorded,
            &name,
            |lookup| async move {
                match lookup {
                    Lookup::Id(id) => Self::get(ctx, &id).await,
                    Lookup::Name(name) => Self::named(ctx, &name).await,
                }
            },
        );
        let (found, early_tags) = tokio::join!(lookup, early_tags);
        let found = found?;
        let Some((_, plan)) = found else {
            return Ok(None);
        };
        let record = Self::record(&plan)?;
        let rules = plan
            .backup_plan()
            .required("backup:GetBackupPlan", "BackupPlan")?
            .rules();
        let rule = |name: &str| {
            rules
                .iter()
                .find(|r| r.rule_name() == name)
                .map_or(Value::Null, Self::observed_rule)
        };
        let arn = recorded_attr(self.name(), &record, "arn")?;
        let tags = match early_tags {
            Some(tags) if recorded_arn == Some(arn) => tags?,
            _ => read_tags(ctx, None, arn).await?,
        };
        Ok(Some(Observed {
            properties: Properties::from([
                (&DAILY, rule(DAILY_RULE)),
                (&MONTHLY, rule(MONTHLY_RULE)),
                (&TAGS, tags),
            ]),
            record,
        }))
    }

    async fn create(&self, ctx: &Ctx) -> Result<Observed, Error> {
        let name = ctx.names().backup_plan();
        let created = ctx
            .clients
            .backup
            .create_backup_plan()
            .backup_plan(Self::input(ctx)?)
            .set_backup_plan_tags(Some(tags(ctx, &name)))
            .send()
            .await
            .op("backup:CreateBackupPlan");
        let record = match created {
            Ok(out) => {
                let operation = "backup:CreateBackupPlan";
                let id = out.backup_plan_id().required(operation, "BackupPlanId")?;
                let arn = out.backup_plan_arn().required(operation, "BackupPlanArn")?;
                Some(Record::new(id).with("arn", arn))
            }
            // The same document exists already: a create whose answer was lost, found by name.
            Err(e) if e.is(ErrorKind::AlreadyExists) => None,
            Err(e) => return Err(e.into()),
        };
        if let Some(record) = &record {
            ctx.set_record(self.name(), record.clone())?;
        }
        self.read_back(ctx, record.as_ref()).await
    }

    async fn update(&self, ctx: &Ctx, current: &Observed, changes: &[Change]) -> Result<(), Error> {
        let backup = &ctx.clients.backup;
        let id = current.record.id.as_str();
        let changed = |p: Prop| changes.iter().any(|c| c.property == p);
        // One call replaces the whole plan, whichever rule drifted.
        if changed(&DAILY) || changed(&MONTHLY) {
            backup
                .update_backup_plan()
                .backup_plan_id(id)
                .backup_plan(Self::input(ctx)?)
                .send()
                .await
                .op("backup:UpdateBackupPlan")?;
        }
        if changed(&TAGS) {
            let arn = recorded_attr(self.name(), &current.record, "arn")?;
            write_tags(ctx, arn, &ctx.names().backup_plan()).await?;
        }
        Ok(())
    }

    async fn destroy(&self, ctx: &Ctx, current: &Observed) -> Result<(), Error> {
        gone(
            ctx.clients
                .backup
                .delete_backup_plan()
                .backup_plan_id(&current.record.id)
                .send()
                .await
                .op("backup:DeleteBackupPlan"),
        )
    }
}
