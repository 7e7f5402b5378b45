//! The stack's customer-managed KMS key and its alias: symmetric, rotation on, and a key
//! policy that lets the account administer it, CloudWatch Logs of this region use it for this
//! environment's log groups only, and CloudWatch alarms and this account's RDS events publish
//! to the encrypted SNS topic.
//! Everything that can be encrypted in the stack uses this key. AWS Backup needs no statement:
//! the vault uses the key through grants its creator makes, and the backup role reaches the RDS
//! snapshots' key through RDS, both under IAM policies, which the account statement lets decide.
//!
//! `destroy` only schedules the key for deletion. The next `up` of the environment takes its
//! own key back (cancels the deletion, enables it, points the alias at it) rather than making a
//! new one: the secrets a non-forced destroy keeps, the final snapshot, the recovery points of
//! a kept backup vault and the log data are encrypted with it, and stay readable only through
//! it.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_kms::types::{KeyMetadata, KeySpec, KeyState, KeyUsageType, Tag};
use aws_sdk_resourcegroupstagging::types::TagFilter;
use serde_json::{Value, json};

use crate::aws::{AwsError, AwsResultExt, ErrorKind, Required, propagation};
use crate::context::Ctx;
use crate::control::{ACCESS_MGMT, Control, ENCRYPTION, Severity, control};
use crate::error::Error;
use crate::logical::Logical;
use crate::property::{Prop, Property, TAGS};
use crate::resource::{Change, Observed, Properties, Resource, unchangeable};
use crate::resources::common::tagging;
use crate::resources::common::{desired_tags, gone, tag_pairs};
use crate::state::Record;

pub(crate) struct KmsKey;

const SYMMETRIC: Control = control(
    "Symmetric encryption key with its alias",
    Severity::High,
    ENCRYPTION,
    "run `medtech up`",
    None,
    None,
);
static SPEC: Property = Property::fixed("key_spec", SYMMETRIC);
static USAGE: Property = Property::fixed("key_usage", SYMMETRIC);
static ALIAS: Property = Property::in_place("alias", SYMMETRIC);
static ENABLED: Property = Property::in_place(
    "enabled",
    control(
        "Key enabled, not pending deletion",
        Severity::Critical,
        ENCRYPTION,
        "cancel the deletion / enable the key, then `medtech up`",
        Some("kms_cmk_are_used"),
        Some("KMS_CMK_NOT_SCHEDULED_FOR_DELETION"),
    ),
);
static ROTATION: Property = Property::in_place(
    "rotation_enabled",
    control(
        "Automatic key rotation enabled",
        Severity::High,
        ENCRYPTION,
        "run `medtech up` (EnableKeyRotation)",
        Some("kms_cmk_rotation_enabled"),
        Some("CMK_BACKING_KEY_ROTATION_ENABLED"),
    ),
);
static POLICY: Property = Property::in_place(
    "policy",
    control(
        "Key policy: account administration, CloudWatch Logs of this environment, alarms and RDS events only",
        Severity::Critical,
        ACCESS_MGMT,
        "run `medtech up` (PutKeyPolicy)",
        Some("kms_key_not_publicly_accessible"),
        None,
    ),
);

/// How long calls about a key made (or re-enabled) seconds ago may still be refused. KMS is
/// eventually consistent: "the new KMS key might not be immediately available" to every part of
/// KMS ("Eventual consistency" in the KMS developer guide); terraform-provider-aws waits up to 3
/// minutes for it. Real cases settle within seconds.
const PROPAGATION: Duration = Duration::from_secs(120);

/// Whether `e` is KMS not yet knowing, or not yet knowing the state of, a key it just made:
/// `NotFoundException`, or `KMSInvalidStateException`/`DisabledException` while an
/// `EnableKey` or `CancelKeyDeletion` propagates.
fn not_propagated(e: &Error) -> bool {
    let Error::Aws(e) = e else {
        return false;
    };
    e.is(ErrorKind::NotFound)
        || matches!(
            e.code.as_deref(),
            Some("KMSInvalidStateException" | "DisabledException")
        )
}

/// How much a key left behind by this environment is worth taking back: a live one (made by a
/// `CreateKey` whose answer was lost) over one scheduled for deletion; `None` for a key that
/// can't be taken back (being deleted in another region, imported, unavailable).
fn rank(key: &KeyMetadata) -> Option<u8> {
    match key.key_state()? {
        KeyState::Enabled | KeyState::Disabled | KeyState::Creating => Some(1),
        KeyState::PendingDeletion => Some(0),
        _ => None,
    }
}

/// Runs a call about a key this run just created or re-enabled, again while KMS has not
/// propagated the key yet, for at most `PROPAGATION`.
async fn once_propagated<T, F, Fut>(ctx: &Ctx, call: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let pause = || async {
        ctx.status(Logical::KmsKey, "waiting for KMS to propagate the key");
        ctx.pause(Duration::from_secs(2)).await
    };
    propagation::once_known(ctx.scaled(PROPAGATION), not_propagated, pause, call).await
}

impl KmsKey {
    fn policy(ctx: &Ctx) -> Value {
        let c = &ctx.clients;
        let env = ctx.settings.env();
        json!({
            "Version": "2012-10-17",
            "Id": ctx.names().kms_key(),
            "Statement": [
                {
                    "Sid": "AccountAdministration",
                    "Effect": "Allow",
                    "Principal": {"AWS": c.account_root()},
                    "Action": "kms:*",
                    "Resource": "*"
                },
                {
                    "Sid": "CloudWatchLogsForThisEnvironment",
                    "Effect": "Allow",
                    "Principal": {"Service": format!("logs.{}.amazonaws.com", c.region)},
                    "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                    "Resource": "*",
                    "Condition": {
                        "ArnLike": {
                            "kms:EncryptionContext:aws:logs:arn": [
                                c.arn("logs", &format!("log-group:/medtech/{env}/*")),
                                c.arn("logs", &format!("log-group:{}*", ctx.names().rds_log_prefix()))
                            ]
                        }
                    }
                },
                {
                    "Sid": "CloudWatchAlarmsToEncryptedTopic",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:SourceAccount": c.account_id}}
                },
                {
                    // Without it RDS accepts its event subscriptions and drops their events.
                    "Sid": "RdsEventsToEncryptedTopic",
                    "Effect": "Allow",
                    "Principal": {"Service": "events.rds.amazonaws.com"},
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": c.account_id},
                        "ArnLike": {"aws:SourceArn": c.arn("rds", "*")}
                    }
                }
            ]
        })
    }

    fn tags(ctx: &Ctx) -> Result<Vec<Tag>, Error> {
        ctx.tags(&ctx.names().kms_key())
            .into_iter()
            .map(|(k, v)| {
                Tag::builder()
                    .tag_key(k)
                    .tag_value(v)
                    .build()
                    .map_err(|e| Error::resource(Logical::KmsKey, e.to_string()))
            })
            .collect()
    }

    async fn describe(ctx: &Ctx, key: &str) -> Result<Option<KeyMetadata>, Error> {
        match ctx
            .clients
            .kms
            .describe_key()
            .key_id(key)
            .send()
            .await
            .op("kms:DescribeKey")
        {
            Ok(out) => Ok(out.key_metadata().cloned().filter(|m| {
                // A key on its way out is not this resource; `up` makes a new one.
                !matches!(
                    m.key_state(),
                    Some(KeyState::PendingDeletion | KeyState::PendingReplicaDeletion)
                )
            })),
            Err(e) if e.is(ErrorKind::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// `aliased`: whether the stack's alias resolves to this key (known from the lookup).
    async fn observe(
        ctx: &Ctx,
        recorded: Option<&Record>,
        meta: &KeyMetadata,
        aliased: bool,
    ) -> Result<Observed, Error> {
        let kms = &ctx.clients.kms;
        let id = meta.key_id();
        let arn = meta.arn().required("kms:DescribeKey", "KeyMetadata.Arn")?;
        let rotation = async {
            Ok::<_, Error>(
                kms.get_key_rotation_status()
                    .key_id(id)
                    .send()
                    .await
                    .op("kms:GetKeyRotationStatus")?
                    .key_rotation_enabled(),
            )
        };
        let policy = async {
            let out = kms
                .get_key_policy()
                .key_id(id)
                .policy_name("default")
                .send()
                .await
                .op("kms:GetKeyPolicy")?;
            Ok::<_, Error>(
                out.policy()
                    .and_then(|p| serde_json::from_str(p).ok())
                    .unwrap_or(Value::Null),
            )
        };
        let tags = tagging::tags_or(ctx, recorded, arn, || async {
            let out = kms
                .list_resource_tags()
                .key_id(id)
                .send()
                .await
                .op("kms:ListResourceTags")?;
            Ok(tag_pairs(
                out.tags().iter().map(|t| (t.tag_key(), t.tag_value())),
            ))
        });
        // Independent reads: side by side, since the secrets and every encrypted resource wait
        // for the key.
        let (rotation, policy, tags) = tokio::try_join!(rotation, policy, tags)?;
        let alias_name = ctx.names().kms_alias();
        let alias = aliased.then(|| alias_name.clone());
        Ok(Observed {
            record: Record::new(id).with("arn", arn).with("alias", &alias_name),
            properties: Properties::from([
                (&SPEC, json!(meta.key_spec().map(KeySpec::as_str))),
                (&USAGE, json!(meta.key_usage().map(KeyUsageType::as_str))),
                (&ENABLED, json!(meta.enabled())),
                (&ROTATION, json!(rotation)),
                (&ALIAS, json!(alias)),
                (&POLICY, policy),
                (&TAGS, tags),
            ]),
        })
    }

    async fn point_alias(ctx: &Ctx, key: &str) -> Result<(), AwsError> {
        let alias = ctx.names().kms_alias();
        let created = ctx
            .clients
            .kms
            .create_alias()
            .alias_name(&alias)
            .target_key_id(key)
            .send()
            .await
            .op("kms:CreateAlias");
        match created {
            // The alias exists but points elsewhere (a key being retired): move it.
            Err(e) if e.is(ErrorKind::AlreadyExists) => {
                ctx.clients
                    .kms
                    .update_alias()
                    .alias_name(&alias)
                    .target_key_id(key)
                    .send()
                    .await
                    .op("kms:UpdateAlias")?;
                Ok(())
            }
            other => other.map(drop),
        }
    }

    /// This environment's own key that no alias names: one whose `CreateKey` answer was lost
    /// (AWS made it; CreateKey takes no client token), or one an earlier `destroy` scheduled
    /// for deletion while KMS still has it. A live key comes before a retired one, and the
    /// newest first, should there be several.
    async fn left_behind(ctx: &Ctx) -> Result<Option<KeyMetadata>, Error> {
        let filter = |key: &str, value: &str| TagFilter::builder().key(key).values(value).build();
        let mut pages = ctx
            .clients
            .tagging
            .get_resources()
            .tag_filters(filter("Environment", ctx.settings.env().as_str()))
            .tag_filters(filter("Name", &ctx.names().kms_key()))
            .resource_type_filters("kms")
            .into_paginator()
            .send();
        let mut newest: Option<KeyMetadata> = None;
        while let Some(page) = pages.next().await {
            let page = page.op("tag:GetResources")?;
            for mapping in page.resource_tag_mapping_list() {
                let belongs = crate::tags::belongs_to(
                    ctx.settings.env(),
                    mapping.tags().iter().map(|t| (t.key(), t.value())),
                );
                let Some(arn) = mapping
                    .resource_arn()
                    .filter(|a| belongs && a.contains(":key/"))
                else {
                    continue;
                };
                let described = ctx
                    .clients
                    .kms
                    .describe_key()
                    .key_id(arn)
                    .send()
                    .await
                    .op("kms:DescribeKey");
                let meta = match described {
                    Ok(out) => out.key_metadata().cloned(),
                    // The tag index can still list a key whose deletion has completed.
                    Err(e) if e.is(ErrorKind::NotFound) => None,
                    Err(e) => return Err(e.into()),
                };
                let Some(meta) = meta.filter(|m| rank(m).is_some()) else {
                    continue;
                };
                if newest.as_ref().is_none_or(|n| {
                    (rank(n), n.creation_date()) < (rank(&meta), meta.creation_date())
                }) {
                    newest = Some(meta);
                }
            }
        }
        Ok(newest)
    }

    /// Takes the environment's key left behind back: cancels its deletion if one is scheduled,
    /// and enables it. The
    /// record comes first, so that a run stopped in between finds the key again (pending, or
    /// disabled: `update` enables it).
    async fn adopt(ctx: &Ctx, meta: &KeyMetadata) -> Result<String, Error> {
        let kms = &ctx.clients.kms;
        let id = meta.key_id().to_owned();
        let arn = meta.arn().required("kms:DescribeKey", "KeyMetadata.Arn")?;
        ctx.set_record(Logical::KmsKey, Record::new(&id).with("arn", arn))?;
        if meta.key_state() == Some(&KeyState::PendingDeletion) {
            ctx.status(
                Logical::KmsKey,
                "taking back this environment's key, which a previous destroy scheduled for deletion",
            );
            let cancelled = kms
                .cancel_key_deletion()
                .key_id(&id)
                .send()
                .await
                .op("kms:CancelKeyDeletion");
            match cancelled {
                // Not pending any more: a retry whose first response was lost.
                Err(e) if e.code.as_deref() == Some("KMSInvalidStateException") => {}
                other => drop(other?),
            }
        } else {
            ctx.status(
                Logical::KmsKey,
                "taking this environment's key that an earlier CreateKey made (its answer was lost)",
            );
        }
        once_propagated(ctx, || Self::set(ctx, &id, &ENABLED)).await?;
        Ok(id)
    }

    /// Rotation and alias of a key this run made or took back (and, for one taken back, the
    /// policy and tags of this run's config), side by side: everything encrypted waits for the
    /// key.
    async fn configure(ctx: &Ctx, id: &str, taken_back: bool) -> Result<(), Error> {
        let set = |property: Prop| once_propagated(ctx, move || Self::set(ctx, id, property));
        let refresh = async {
            if !taken_back {
                return Ok(());
            }
            tokio::try_join!(set(&POLICY), set(&TAGS)).map(drop)
        };
        tokio::try_join!(set(&ROTATION), set(&ALIAS), refresh).map(drop)
    }

    /// Brings `property` of the key `id` to what config wants: `update` for a property that
    /// drifted, `configure` for a key this run made or took back. Whether it is one that can be
    /// brought so.
    async fn set(ctx: &Ctx, id: &str, property: Prop) -> Result<bool, Error> {
        let kms = &ctx.clients.kms;
        match property {
            p if p == &ENABLED => {
                kms.enable_key()
                    .key_id(id)
                    .send()
                    .await
                    .op("kms:EnableKey")?;
            }
            p if p == &ROTATION => {
                kms.enable_key_rotation()
                    .key_id(id)
                    .send()
                    .await
                    .op("kms:EnableKeyRotation")?;
            }
            p if p == &ALIAS => Self::point_alias(ctx, id).await?,
            p if p == &POLICY => {
                kms.put_key_policy()
                    .key_id(id)
                    .policy_name("default")
                    .policy(Self::policy(ctx).to_string())
                    .send()
                    .await
                    .op("kms:PutKeyPolicy")?;
            }
            p if p == &TAGS => {
                kms.tag_resource()
                    .key_id(id)
                    .set_tags(Some(Self::tags(ctx)?))
                    .send()
                    .await
                    .op("kms:TagResource")?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

#[async_trait]
impl Resource for KmsKey {
    fn name(&self) -> Logical {
        Logical::KmsKey
    }

    fn depends_on(&self) -> Vec<Logical> {
        vec![]
    }

    fn properties(&self) -> &'static [Prop] {
        const { &[&SPEC, &USAGE, &ENABLED, &ROTATION, &ALIAS, &POLICY, &TAGS] }
    }

    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error> {
        Ok(Properties::from([
            (&SPEC, json!("SYMMETRIC_DEFAULT")),
            (&USAGE, json!("ENCRYPT_DECRYPT")),
            (&ENABLED, json!(true)),
            (&ROTATION, json!(true)),
            (&ALIAS, json!(ctx.names().kms_alias())),
            (&POLICY, Self::policy(ctx)),
            (&TAGS, desired_tags(ctx, &ctx.names().kms_key())),
        ]))
    }

    async fn read(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        // The alias is the key's name; the recorded id still finds a key whose alias was
        // lost or moved. Looking up by alias first also tells where the alias points.
        let by_alias = Self::describe(ctx, &ctx.names().kms_alias()).await?;
        let recorded_id = recorded.map(|r| r.id.as_str());
        match (by_alias, recorded_id) {
            (Some(meta), None) => Ok(Some(Self::observe(ctx, recorded, &meta, true).await?)),
            (Some(meta), Some(id)) if meta.key_id() == id => {
                Ok(Some(Self::observe(ctx, recorded, &meta, true).await?))
            }
            (by_alias, Some(id)) => match Self::describe(ctx, id).await? {
                Some(meta) => Ok(Some(Self::observe(ctx, recorded, &meta, false).await?)),
                // The recorded key is gone; the alias's key, if any, is adopted.
                None => match by_alias {
                    Some(meta) => Ok(Some(Self::observe(ctx, recorded, &meta, true).await?)),
                    None => Ok(None),
                },
            },
            (None, None) => Ok(None),
        }
    }

    async fn create(&self, ctx: &Ctx) -> Result<Observed, Error> {
        if let Some(left) = Self::left_behind(ctx).await? {
            let id = Self::adopt(ctx, &left).await?;
            Self::configure(ctx, &id, true).await?;
            return self.read_back(ctx, Some(&Record::new(&id))).await;
        }
        let out = ctx
            .clients
            .kms
            .create_key()
            .description(format!(
                "medtech {}: encrypts the HIPAA data pipeline",
                ctx.settings.env()
            ))
            .key_usage(KeyUsageType::EncryptDecrypt)
            .key_spec(KeySpec::SymmetricDefault)
            .policy(Self::policy(ctx).to_string())
            .set_tags(Some(Self::tags(ctx)?))
            .customize()
            .config_override(
                aws_sdk_kms::config::Builder::default()
                    .retry_config(aws_smithy_types::retry::RetryConfig::disabled()),
            )
            .send()
            .await
            .op("kms:CreateKey")?;
        let meta = out
            .key_metadata()
            .required("kms:CreateKey", "KeyMetadata")?;
        let id = meta.key_id().to_owned();
        let arn = meta.arn().required("kms:CreateKey", "KeyMetadata.Arn")?;
        ctx.set_record(self.name(), Record::new(&id).with("arn", arn))?;
        Self::configure(ctx, &id, false).await?;
        self.read_back(ctx, Some(&Record::new(&id))).await
    }

    async fn update(&self, ctx: &Ctx, current: &Observed, changes: &[Change]) -> Result<(), Error> {
        for change in changes {
            if !Self::set(ctx, &current.record.id, change.property).await? {
                return Err(unchangeable(self.name(), change));
            }
        }
        Ok(())
    }

    async fn destroy(&self, ctx: &Ctx, current: &Observed) -> Result<(), Error> {
        gone(
            ctx.clients
                .kms
                .delete_alias()
                .alias_name(ctx.names().kms_alias())
                .send()
                .await
                .op("kms:DeleteAlias"),
        )?;
        // KMS never deletes at once: the key stays recoverable for the configured window, so
        // data encrypted with it (snapshots, backups) is not lost by a mistaken destroy.
        let scheduled = ctx
            .clients
            .kms
            .schedule_key_deletion()
            .key_id(&current.record.id)
            .pending_window_in_days(ctx.settings.services.destroy.kms_deletion_window_days)
            .send()
            .await
            .op("kms:ScheduleKeyDeletion");
        match scheduled {
            // Already pending deletion.
            Err(e) if e.code.as_deref() == Some("KMSInvalidStateException") => Ok(()),
            other => gone(other),
        }
    }
}
