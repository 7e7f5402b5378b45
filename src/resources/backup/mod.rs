//! AWS Backup of the RDS instance (HIPAA §164.308(a)(7)(ii)(A) data backup plan; Prowler's
//! `rds_instance_protected_by_backup_plan`): recovery points that outlive RDS's 35-day
//! automated backups. Three resources, and a role declared with the others in `resources`:
//!
//! - `vault`: `medtech-<env>`, encrypted with the stack's key (a vault's key never changes).
//! - `plan`: `medtech-<env>`, a daily rule and, when configured, a monthly one kept longer,
//!   both into the vault at `backup.schedule_hour_utc`.
//! - `selection`: the RDS instance, backed up through the role `medtech-backup-<env>`.
//!
//! The key policy needs no statement for AWS Backup: the vault uses the key through grants
//! that its creator makes (`CreateBackupVault` needs the runner's `kms:CreateGrant`,
//! `kms:GenerateDataKey`, `kms:Decrypt`, `kms:DescribeKey` and `kms:RetireGrant` on the key),
//! and the RDS recovery points keep the instance's own encryption, which the backup role's AWS
//! managed policies reach through RDS. Both are IAM policies, which the key policy's account
//! statement lets decide.
//!
//! **Vault lock is off by default.** A lock in compliance mode cannot be lifted once its grace
//! time has passed, by anyone: from then on `destroy` could never delete the vault or a
//! recovery point before its retention ends. That is the point of a lock in a production
//! account, and a choice for that account's owner (`[backup.vault_lock]`), not a default that
//! would leave every test or throw-away environment undeletable for years.
//!
//! **`destroy` keeps the recovery points**, as it keeps RDS's final snapshot: the selection
//! and the plan are deleted, and a vault that holds recovery points stays (AWS refuses to
//! delete it anyway) unless `destroy --delete-recovery-points`. The next `up` of the
//! environment finds the vault by its name and takes it back.

pub(crate) mod plan;
pub(crate) mod selection;
pub(crate) mod vault;

use std::collections::HashMap;

use serde_json::Value;

use crate::aws::AwsResultExt;
use crate::context::Ctx;
use crate::error::Error;
use crate::resources::common::tag_pairs;
use crate::resources::common::tagging;
use crate::state::Record;

/// The standard tags of the resource named `name`, as AWS Backup takes them.
fn tags(ctx: &Ctx, name: &str) -> HashMap<String, String> {
    ctx.tags(name).into_iter().collect()
}

/// The tags of the vault or plan at `arn`: from the environment's tag list when `recorded`
/// is the resource there, else through AWS Backup's own call.
async fn read_tags(ctx: &Ctx, recorded: Option<&Record>, arn: &str) -> Result<Value, Error> {
    tagging::tags_or(ctx, recorded, arn, || async {
        let out = ctx
            .clients
            .backup
            .list_tags()
            .resource_arn(arn)
            .send()
            .await
            .op("backup:ListTags")?;
        Ok(tag_pairs(
            out.tags()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        ))
    })
    .await
}

/// Puts the standard tags of `name` on the vault or plan at `arn`.
async fn write_tags(ctx: &Ctx, arn: &str, name: &str) -> Result<(), Error> {
    ctx.clients
        .backup
        .tag_resource()
        .resource_arn(arn)
        .set_tags(Some(tags(ctx, name)))
        .send()
        .await
        .op("backup:TagResource")?;
    Ok(())
}
