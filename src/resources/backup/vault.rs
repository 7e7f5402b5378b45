//! The backup vault `medtech-<env>`: encrypted with the stack's key, tagged, and locked only
//! when `[backup.vault_lock]` asks (see the module above for why not by default). `destroy`
//! deletes its recovery points only when told to; a vault that still holds any is kept.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_backup::operation::describe_backup_vault::DescribeBackupVaultOutput;
use aws_sdk_backup::types::RecoveryPointStatus;
use serde_json::{Value, json};

use super::{read_tags, tags, write_tags};
use crate::aws::{AwsResultExt, ErrorKind, Required};
use crate::context::Ctx;
use crate::control::{BACKUP, ENCRYPTION, Severity, control};
use crate::error::Error;
use crate::logical::Logical;
use crate::property::{Prop, Property, TAGS};
use crate::resource::{Change, Observed, Properties, Resource, unchangeable};
use crate::resources::common::{desired_tags, found, gone};
use crate::resources::wait::{Pace, Poll, paced};
use crate::state::Record;

pub(crate) struct BackupVault;

static KMS_KEY: Property = Property::fixed(
    "encryption_key_arn",
    control(
        "Backup vault encrypted with the stack's key",
        Severity::High,
        ENCRYPTION,
        "cannot change in place: a vault keeps its key; empty the vault and re-create it",
        Some("backup_vaults_encrypted"),
        Some("BACKUP_RECOVERY_POINT_ENCRYPTED"),
    ),
);
/// Desired only when config asks for a lock: without one, a lock the account's owner added
/// is theirs to keep.
static LOCK: Property = Property::in_place(
    "vault_lock",
    control(
        "Vault lock as configured in backup.vault_lock",
        Severity::Medium,
        BACKUP,
        "run `medtech up` (PutBackupVaultLockConfiguration); a compliance-mode lock past its grace time cannot change",
        None,
        None,
    ),
);

/// How long RDS takes to delete the snapshots behind a vault's recovery points, at most.
const EMPTYING: Duration = Duration::from_secs(30 * 60);
/// How long AWS Backup may still count recovery points that are gone (a vault deleted just
/// after its last recovery point is refused for a while).
const COUNT_LAG: Duration = Duration::from_secs(5 * 60);

impl BackupVault {
    fn arn(ctx: &Ctx) -> String {
        ctx.clients.arn(
            "backup",
            &format!("backup-vault:{}", ctx.names().backup_vault()),
        )
    }

    async fn describe(ctx: &Ctx) -> Result<Option<DescribeBackupVaultOutput>, Error> {
        found(
            ctx.clients
                .backup
                .describe_backup_vault()
                .backup_vault_name(ctx.names().backup_vault())
                .send()
                .await
                .op("backup:DescribeBackupVault"),
        )
    }

    fn record(vault: &DescribeBackupVaultOutput) -> Result<Record, Error> {
        let operation = "backup:DescribeBackupVault";
        let name = vault
            .backup_vault_name()
            .required(operation, "BackupVaultName")?;
        let arn = vault
            .backup_vault_arn()
            .required(operation, "BackupVaultArn")?;
        Ok(Record::new(name).with("arn", arn))
    }

    /// The lock as `LOCK` compares it; `null` for a vault without one.
    fn lock(vault: &DescribeBackupVaultOutput) -> Value {
        if vault.locked() != Some(true) {
            return Value::Null;
        }
        json!({
            "min_retention_days": vault.min_retention_days(),
            "max_retention_days": vault.max_retention_days(),
            // Only a compliance-mode lock has a date from which it can no longer change.
            "compliance": vault.lock_date().is_some(),
        })
    }

    async fn put_lock(ctx: &Ctx) -> Result<(), Error> {
        let Some(lock) = &ctx.settings.services.backup.vault_lock else {
            return Ok(());
        };
        ctx.clients
            .backup
            .put_backup_vault_lock_configuration()
            .backup_vault_name(ctx.names().backup_vault())
            .min_retention_days(i64::from(lock.min_retention_days))
            .set_max_retention_days(lock.max_retention_days.map(i64::from))
            .set_changeable_for_days(lock.changeable_for_days.map(i64::from))
            .send()
            .await
            .op("backup:PutBackupVaultLockConfiguration")?;
        Ok(())
    }

    /// The vault's recovery points still there, and whether AWS is already deleting each;
    /// none for a vault that is gone.
    async fn recovery_points(ctx: &Ctx) -> Result<Vec<(String, bool)>, Error> {
        let operation = "backup:ListRecoveryPointsByBackupVault";
        let listed = ctx
            .clients
            .backup
            .list_recovery_points_by_backup_vault()
            .backup_vault_name(ctx.names().backup_vault())
            .into_paginator();
        let points = match listed.items().send().try_collect().await.op(operation) {
            Err(e) if e.is(ErrorKind::NotFound) => return Ok(Vec::new()),
            other => other?,
        };
        points
            .iter()
            .map(|point| {
                let arn = point
                    .recovery_point_arn()
                    .required(operation, "RecoveryPointArn")?;
                let deleting = point.status() == Some(&RecoveryPointStatus::Deleting);
                Ok((arn.to_owned(), deleting))
            })
            .collect()
    }

    /// Deletes every recovery point and waits until the vault lists none.
    async fn empty(&self, ctx: &Ctx, points: &[(String, bool)]) -> Result<(), Error> {
        let name = ctx.names().backup_vault();
        ctx.status(
            self.name(),
            &format!("deleting {} recovery points", points.len()),
        );
        for (arn, _) in points.iter().filter(|(_, deleting)| !deleting) {
            gone(
                ctx.clients
                    .backup
                    .delete_recovery_point()
                    .backup_vault_name(&name)
                    .recovery_point_arn(arn)
                    .send()
                    .await
                    .op("backup:DeleteRecoveryPoint"),
            )?;
        }
        paced(
            ctx,
            self.name(),
            "empty",
            EMPTYING,
            Pace::Adaptive,
            || async {
                let left = Self::recovery_points(ctx).await?.len();
                Ok(match left {
                    0 => Poll::Ready(()),
                    n => Poll::Pending(format!("{n} recovery points deleting")),
                })
            },
        )
        .await
    }

    /// Deletes the empty vault, again while AWS still counts recovery points just deleted.
    async fn delete(&self, ctx: &Ctx) -> Result<(), Error> {
        paced(
            ctx,
            self.name(),
            "deleted",
            COUNT_LAG,
            Pace::Adaptive,
            || async {
                let deleted = ctx
                    .clients
                    .backup
                    .delete_backup_vault()
                    .backup_vault_name(ctx.names().backup_vault())
                    .send()
                    .await
                    .op("backup:DeleteBackupVault");
                match deleted {
                    Err(e) if e.code.as_deref() == Some("InvalidRequestException") => Ok(
                        Poll::Pending("still counted as holding recovery points".to_owned()),
                    ),
                    other => gone(other).map(Poll::Ready),
                }
            },
        )
        .await
    }
}

/// The vault `destroy` left in place and how many recovery points it holds; `None` once it
/// is gone.
pub(crate) async fn kept(ctx: &Ctx) -> Result<Option<(Record, i64)>, Error> {
    let Some(vault) = BackupVault::describe(ctx).await? else {
        return Ok(None);
    };
    Ok(Some((
        BackupVault::record(&vault)?,
        vault.number_of_recovery_points(),
    )))
}

#[async_trait]
impl Resource for BackupVault {
    fn name(&self) -> Logical {
        Logical::BackupVault
    }

    fn depends_on(&self) -> Vec<Logical> {
        vec![Logical::KmsKey]
    }

    fn properties(&self) -> &'static [Prop] {
        const { &[&KMS_KEY, &LOCK, &TAGS] }
    }

    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error> {
        let mut props = Properties::from([
            (&KMS_KEY, json!(ctx.arn_of(Logical::KmsKey)?)),
            (&TAGS, desired_tags(ctx, &ctx.names().backup_vault())),
        ]);
        if let Some(lock) = &ctx.settings.services.backup.vault_lock {
            props.insert(
                &LOCK,
                json!({
                    "min_retention_days": lock.min_retention_days,
                    "max_retention_days": lock.max_retention_days,
                    "compliance": lock.changeable_for_days.is_some(),
                }),
            );
        }
        Ok(props)
    }

    async fn read(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        // The ARN follows from the name: the vault and its tags are asked for at once, the
        // tags counting only once the vault is known to exist.
        let arn = Self::arn(ctx);
        let (vault, tags) = tokio::join!(Self::describe(ctx), read_tags(ctx, recorded, &arn));
        let Some(vault) = vault? else {
            return Ok(None);
        };
        Ok(Some(Observed {
            record: Self::record(&vault)?,
            properties: Properties::from([
                (&KMS_KEY, json!(vault.encryption_key_arn())),
                (&LOCK, Self::lock(&vault)),
                (&TAGS, tags?),
            ]),
        }))
    }

    async fn create(&self, ctx: &Ctx) -> Result<Observed, Error> {
        let name = ctx.names().backup_vault();
        let created = ctx
            .clients
            .backup
            .create_backup_vault()
            .backup_vault_name(&name)
            .encryption_key_arn(ctx.arn_of(Logical::KmsKey)?)
            .set_backup_vault_tags(Some(tags(ctx, &name)))
            .send()
            .await
            .op("backup:CreateBackupVault");
        match created {
            Ok(out) => {
                let arn = out
                    .backup_vault_arn()
                    .required("backup:CreateBackupVault", "BackupVaultArn")?;
                ctx.set_record(self.name(), Record::new(&name).with("arn", arn))?;
            }
            // Vault names are unique: a create whose answer was lost; read back below.
            Err(e) if e.is(ErrorKind::AlreadyExists) => {}
            Err(e) => return Err(e.into()),
        }
        Self::put_lock(ctx).await?;
        self.read_back(ctx, None).await
    }

    async fn update(&self, ctx: &Ctx, _: &Observed, changes: &[Change]) -> Result<(), Error> {
        for change in changes {
            match change.property {
                p if p == &LOCK => Self::put_lock(ctx).await?,
                p if p == &TAGS => {
                    write_tags(ctx, &Self::arn(ctx), &ctx.names().backup_vault()).await?;
                }
                _ => return Err(unchangeable(self.name(), change)),
            }
        }
        Ok(())
    }

    async fn destroy(&self, ctx: &Ctx, _current: &Observed) -> Result<(), Error> {
        let points = Self::recovery_points(ctx).await?;
        if !points.is_empty() {
            if !ctx.settings.services.destroy.delete_recovery_points {
                // Kept, like RDS's final snapshot; `destroy` names it once the run is over.
                ctx.status(
                    self.name(),
                    &format!("kept with its {} recovery points", points.len()),
                );
                return Ok(());
            }
            self.empty(ctx, &points).await?;
        }
        self.delete(ctx).await
    }
}
