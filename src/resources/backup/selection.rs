//! The plan's backup selection: the RDS instance, by ARN, backed up through the role
//! `medtech-backup-<env>`. AWS Backup cannot change a selection; medtech still counts a
//! change as one made in place: the selection is deleted and made again, which is quick and
//! loses nothing (recovery points belong to the vault, not to the selection).

use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_backup::operation::get_backup_selection::GetBackupSelectionOutput;
use serde_json::json;

use crate::aws::{AwsError, AwsResultExt, ErrorKind, Required};
use crate::context::Ctx;
use crate::control::{BACKUP, Severity, control};
use crate::error::Error;
use crate::logical::{Logical, RoleFor};
use crate::property::{Prop, Property};
use crate::resource::{Change, Observed, Properties, Resource};
use crate::resources::common::{Lookup, find, gone};
use crate::state::Record;

pub(crate) struct BackupSelection;

static RESOURCES: Property = Property::in_place(
    "resources",
    control(
        "The RDS instance is protected by the backup plan",
        Severity::High,
        BACKUP,
        "run `medtech up`",
        Some("rds_instance_protected_by_backup_plan"),
        Some("RDS_IN_BACKUP_PLAN"),
    ),
);
static ROLE: Property = Property::in_place(
    "iam_role_arn",
    control(
        "Backups run through the stack's backup role",
        Severity::Medium,
        BACKUP,
        "run `medtech up`",
        None,
        None,
    ),
);

/// Where state keeps the plan a selection belongs to: a selection id means nothing without it.
const PLAN_ID: &str = "plan_id";

/// How long AWS Backup may refuse a role made seconds ago (terraform-provider-aws waits as
/// long for it, hashicorp/terraform-provider-aws#9297).
const ROLE_PROPAGATION: Duration = Duration::from_secs(120);

/// A role AWS Backup cannot assume yet: IAM has not propagated it. AWS says so with a generic
/// InvalidParameterValueException, told apart only by its message.
fn role_not_ready(e: &AwsError) -> bool {
    e.code.as_deref() == Some("InvalidParameterValueException")
        && e.detail.contains("cannot be assumed by AWS Backup")
}

impl BackupSelection {
    async fn get(
        ctx: &Ctx,
        plan: &str,
        id: &str,
    ) -> Result<Vec<(String, GetBackupSelectionOutput)>, AwsError> {
        let out = ctx
            .clients
            .backup
            .get_backup_selection()
            .backup_plan_id(plan)
            .selection_id(id)
            .send()
            .await
            .op("backup:GetBackupSelection")?;
        Ok(vec![(id.to_owned(), out)])
    }

    /// The plan's selections of this name (AWS refuses a second one of a name in a plan, but
    /// says nothing of what was made before it).
    async fn named(
        ctx: &Ctx,
        plan: &str,
        name: &str,
    ) -> Result<Vec<(String, GetBackupSelectionOutput)>, AwsError> {
        let operation = "backup:ListBackupSelections";
        let listed = ctx
            .clients
            .backup
            .list_backup_selections()
            .backup_plan_id(plan);
        let listed = listed.into_paginator().items().send();
        let mut found = Vec::new();
        for selection in listed.try_collect().await.op(operation)? {
            if selection.selection_name() == Some(name) {
                let id = selection
                    .selection_id()
                    .required(operation, "SelectionId")?;
                found.extend(Self::get(ctx, plan, id).await?);
            }
        }
        Ok(found)
    }

    async fn create_selection(&self, ctx: &Ctx) -> Result<Option<Record>, Error> {
        let plan = ctx.id_of(Logical::BackupPlan)?;
        let selection = aws_sdk_backup::types::BackupSelection::builder()
            .selection_name(ctx.names().backup_selection())
            .iam_role_arn(ctx.arn_of(Logical::Role(RoleFor::Backup))?)
            .resources(ctx.arn_of(Logical::RdsInstance)?)
            .build()
            .map_err(|e| Error::resource(self.name(), e.to_string()))?;
        let started = Instant::now();
        let created = loop {
            let created = ctx
                .clients
                .backup
                .create_backup_selection()
                .backup_plan_id(&plan)
                .backup_selection(selection.clone())
                .send()
                .await
                .op("backup:CreateBackupSelection");
            match created {
                Err(e)
                    if role_not_ready(&e) && started.elapsed() < ctx.scaled(ROLE_PROPAGATION) =>
                {
                    ctx.status(self.name(), "waiting for the new backup role to propagate");
                    ctx.pause(Duration::from_secs(5)).await?;
                }
                other => break other,
            }
        };
        match created {
            Ok(out) => {
                let id = out
                    .selection_id()
                    .required("backup:CreateBackupSelection", "SelectionId")?;
                let record = Record::new(id).with(PLAN_ID, &plan);
                ctx.set_record(self.name(), record.clone())?;
                Ok(Some(record))
            }
            // A create whose answer was lost: found by name on read-back.
            Err(e) if e.is(ErrorKind::AlreadyExists) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete_selection(ctx: &Ctx, record: &Record) -> Result<(), Error> {
        let Some(plan) = record.attr(PLAN_ID) else {
            return Ok(());
        };
        gone(
            ctx.clients
                .backup
                .delete_backup_selection()
                .backup_plan_id(plan)
                .selection_id(&record.id)
                .send()
                .await
                .op("backup:DeleteBackupSelection"),
        )
    }
}

#[async_trait]
impl Resource for BackupSelection {
    fn name(&self) -> Logical {
        Logical::BackupSelection
    }

    fn depends_on(&self) -> Vec<Logical> {
        vec![
            Logical::BackupPlan,
            Logical::RdsInstance,
            Logical::Role(RoleFor::Backup),
        ]
    }

    fn properties(&self) -> &'static [Prop] {
        const { &[&RESOURCES, &ROLE] }
    }

    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error> {
        Ok(Properties::from([
            (&RESOURCES, json!([ctx.arn_of(Logical::RdsInstance)?])),
            (&ROLE, json!(ctx.arn_of(Logical::Role(RoleFor::Backup))?)),
        ]))
    }

    async fn read(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        // No plan, no selection: selections go with their plan.
        let Some(plan) = ctx.record(Logical::BackupPlan).map(|r| r.id) else {
            return Ok(None);
        };
        // A selection recorded under another plan (one made again) is looked for by name.
        let recorded = recorded.filter(|r| r.attr(PLAN_ID) == Some(plan.as_str()));
        let name = ctx.names().backup_selection();
        let plan_ref = plan.as_str();
        let found = find(
            self.name(),
            "backup selection",
            recorded,
            &name,
            |lookup| async move {
                match lookup {
                    Lookup::Id(id) => Self::get(ctx, plan_ref, &id).await,
                    Lookup::Name(name) => Self::named(ctx, plan_ref, &name).await,
                }
            },
        )
        .await?;
        let Some((id, out)) = found else {
            return Ok(None);
        };
        let selection = out
            .backup_selection()
            .required("backup:GetBackupSelection", "BackupSelection")?;
        let mut resources = selection.resources().to_vec();
        resources.sort();
        Ok(Some(Observed {
            record: Record::new(id).with(PLAN_ID, &plan),
            properties: Properties::from([
                (&RESOURCES, json!(resources)),
                (&ROLE, json!(selection.iam_role_arn())),
            ]),
        }))
    }

    async fn create(&self, ctx: &Ctx) -> Result<Observed, Error> {
        let record = self.create_selection(ctx).await?;
        self.read_back(ctx, record.as_ref()).await
    }

    /// Both properties are the selection's whole definition: a new selection replaces the old.
    async fn update(&self, ctx: &Ctx, current: &Observed, _: &[Change]) -> Result<(), Error> {
        Self::delete_selection(ctx, &current.record).await?;
        self.create_selection(ctx).await.map(drop)
    }

    async fn destroy(&self, ctx: &Ctx, current: &Observed) -> Result<(), Error> {
        Self::delete_selection(ctx, &current.record).await
    }
}
