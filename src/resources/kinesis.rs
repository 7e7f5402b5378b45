//! The Kinesis stream that carries PHI events: provisioned shards, retention from config (a
//! week by default, and `verify` reports anything shorter), and server-side encryption with the
//! stack's key. Every change waits for ACTIVE first: the API refuses encryption and retention
//! changes on a stream that is CREATING or UPDATING.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_kinesis::types::{
    EncryptionType, ScalingType, StreamDescriptionSummary, StreamMode, StreamModeDetails,
    StreamStatus, Tag,
};
use serde_json::json;

use crate::aws::{AwsResultExt, ErrorKind};
use crate::context::Ctx;
use crate::control::{BACKUP, CONTINGENCY, Control, ENCRYPTION, Severity, control};
use crate::error::Error;
use crate::logical::Logical;
use crate::property::{Floor, Prop, Property, TAGS};
use crate::resource::{Change, Observed, Properties, Resource, Transition};
use crate::resources::common::{desired_tags, found, gone, tag_pairs};
use crate::resources::wait::{Pace, Waiter};
use crate::state::Record;

pub(crate) struct KinesisStream;

/// One property: stopping encryption clears both type and key, and is one drift, not two.
static ENCRYPTION_KMS: Property = Property::in_place(
    "encryption",
    control(
        "Stream encrypted at rest with the stack's key",
        Severity::Critical,
        ENCRYPTION,
        "run `medtech up` (StartStreamEncryption)",
        Some("kinesis_stream_encrypted_at_rest"),
        Some("KINESIS_STREAM_ENCRYPTED"),
    ),
);
static RETENTION: Property = Property::in_place(
    "retention_period_hours",
    control(
        "Stream retention as configured",
        Severity::Medium,
        BACKUP,
        "run `medtech up`",
        None,
        None,
    ),
);
/// A week, whatever the config asks: a config that keeps less on purpose passes the check
/// above and fails this one, which is the scanner's finding stated where an auditor looks.
static RETENTION_FLOOR: Floor = Floor {
    property: Property::in_place(
        "retention_at_least_a_week",
        control(
            "Stream keeps at least 168 hours (7 days) to replay PHI after a consumer outage",
            Severity::Low,
            BACKUP,
            "set kinesis.retention_hours to 168 or more, then run `medtech up`",
            Some("kinesis_stream_data_retention_period"),
            None,
        ),
    ),
    at_least: 168,
    unit: "hours",
};
const SIZED: Control = control(
    "Stream provisioned, sized and active as configured",
    Severity::Low,
    CONTINGENCY,
    "run `medtech up`",
    None,
    None,
);
/// On-demand streams price and scale differently; medtech sizes provisioned ones only.
static MODE: Property = Property::fixed("stream_mode", SIZED);
static SHARDS: Property = Property::in_place("shard_count", SIZED);
static STATUS: Property = Property::in_place("status", SIZED);

/// The most tags one ListTagsForStream call returns.
const TAG_PAGE: i32 = 50;

/// What CreateStream keeps, which takes no retention: any other is set after it.
const CREATED_RETENTION_HOURS: i32 = 24;

impl KinesisStream {
    fn timeout(ctx: &Ctx) -> Duration {
        Duration::from_secs(ctx.settings.services.timeouts.kinesis_minutes * 60)
    }

    async fn summary(ctx: &Ctx) -> Result<Option<StreamDescriptionSummary>, Error> {
        let out = ctx
            .clients
            .kinesis
            .describe_stream_summary()
            .stream_name(ctx.names().kinesis_stream())
            .send()
            .await
            .op("kinesis:DescribeStreamSummary");
        Ok(found(out)?.and_then(|out| out.stream_description_summary().cloned()))
    }

    /// Every tag of the stream. Kinesis pages them (10 by default, 50 at most), so a stream
    /// with more user tags than one page would otherwise look untagged, and be re-tagged on
    /// every run.
    async fn tags(ctx: &Ctx) -> Result<Vec<Tag>, Error> {
        let mut tags: Vec<Tag> = Vec::new();
        loop {
            let page = ctx
                .clients
                .kinesis
                .list_tags_for_stream()
                .stream_name(ctx.names().kinesis_stream())
                .limit(TAG_PAGE)
                .set_exclusive_start_tag_key(tags.last().map(|t| t.key().to_owned()))
                .send()
                .await
                .op("kinesis:ListTagsForStream")?;
            let more = page.has_more_tags() && !page.tags().is_empty();
            tags.extend(page.tags().iter().cloned());
            if !more {
                return Ok(tags);
            }
        }
    }

    async fn wait_active(&self, ctx: &Ctx) -> Result<(), Error> {
        self.waiter(ctx, "ACTIVE")
            .until_target(ctx, || async {
                let summary = Self::summary(ctx).await?;
                Ok(summary.map(|s| ((), s.stream_status().as_str().to_owned())))
            })
            .await
    }

    fn waiter(&self, ctx: &Ctx, goal: &'static str) -> Waiter {
        Waiter {
            resource: self.name(),
            goal,
            pending: &["CREATING", "UPDATING"],
            target: &["ACTIVE"],
            timeout: Self::timeout(ctx),
            pace: Pace::Adaptive,
        }
    }

    async fn set_retention(&self, ctx: &Ctx, current: Option<i32>) -> Result<(), Error> {
        let want = ctx.settings.services.kinesis.retention_hours;
        let kinesis = &ctx.clients.kinesis;
        let name = ctx.names().kinesis_stream();
        if current.is_some_and(|c| c > want) {
            kinesis
                .decrease_stream_retention_period()
                .stream_name(name)
                .retention_period_hours(want)
                .send()
                .await
                .op("kinesis:DecreaseStreamRetentionPeriod")?;
        } else {
            kinesis
                .increase_stream_retention_period()
                .stream_name(name)
                .retention_period_hours(want)
                .send()
                .await
                .op("kinesis:IncreaseStreamRetentionPeriod")?;
        }
        self.wait_active(ctx).await
    }

    async fn encrypt(&self, ctx: &Ctx) -> Result<(), Error> {
        ctx.clients
            .kinesis
            .start_stream_encryption()
            .stream_name(ctx.names().kinesis_stream())
            .encryption_type(EncryptionType::Kms)
            .key_id(ctx.arn_of(Logical::KmsKey)?)
            .send()
            .await
            .op("kinesis:StartStreamEncryption")?;
        // Encryption puts the stream back into UPDATING.
        self.wait_active(ctx).await
    }
}

/// The shard counts to pass through from `from` to `to`: UpdateShardCount accepts at most
/// double, and at least half, the current open shard count.
fn shard_steps(from: i32, to: i32) -> Vec<i32> {
    let mut steps = Vec::new();
    let mut now = from.max(1);
    while now != to {
        now = if to > now {
            to.min(now.saturating_mul(2))
        } else {
            to.max((now + 1) / 2)
        };
        steps.push(now);
    }
    steps
}

#[async_trait]
impl Resource for KinesisStream {
    fn name(&self) -> Logical {
        Logical::KinesisStream
    }

    fn depends_on(&self) -> Vec<Logical> {
        vec![Logical::KmsKey]
    }

    fn properties(&self) -> &'static [Prop] {
        const { &[&MODE, &SHARDS, &RETENTION, &ENCRYPTION_KMS, &STATUS, &TAGS] }
    }

    fn floors(&self) -> &'static [&'static Floor] {
        const { &[&RETENTION_FLOOR] }
    }

    /// Under a minute either way.
    fn typical_seconds(&self) -> u64 {
        30
    }

    fn in_transition(&self, observed: &Observed) -> Option<Transition> {
        Transition::of(observed, &STATUS, &["CREATING", "UPDATING"])
    }

    async fn settle(&self, ctx: &Ctx, _observed: &Observed) -> Result<(), Error> {
        self.wait_active(ctx).await
    }

    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error> {
        let config = &ctx.settings.services.kinesis;
        Ok(Properties::from([
            (&MODE, json!("PROVISIONED")),
            (&SHARDS, json!(config.shard_count)),
            (&RETENTION, json!(config.retention_hours)),
            (
                &ENCRYPTION_KMS,
                json!({"type": "KMS", "key_id": ctx.arn_of(Logical::KmsKey)?}),
            ),
            (&STATUS, json!("ACTIVE")),
            (&TAGS, desired_tags(ctx, &ctx.names().kinesis_stream())),
        ]))
    }

    async fn read(&self, ctx: &Ctx, _recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        let Some(summary) = Self::summary(ctx).await? else {
            return Ok(None);
        };
        // A stream on its way out is gone for our purposes; create waits out its deletion.
        if summary.stream_status() == &StreamStatus::Deleting {
            return Ok(None);
        }
        let tags = Self::tags(ctx).await?;
        let mode = summary
            .stream_mode_details()
            .map(|m| m.stream_mode().as_str())
            .unwrap_or("PROVISIONED");
        Ok(Some(Observed {
            record: Record::new(summary.stream_name()).with("arn", summary.stream_arn()),
            properties: Properties::from([
                (&MODE, json!(mode)),
                (&SHARDS, json!(summary.open_shard_count())),
                (&RETENTION, json!(summary.retention_period_hours())),
                (
                    &RETENTION_FLOOR.property,
                    json!(summary.retention_period_hours()),
                ),
                (
                    &ENCRYPTION_KMS,
                    json!({
                        "type": summary.encryption_type().map(EncryptionType::as_str),
                        "key_id": summary.key_id(),
                    }),
                ),
                (&STATUS, json!(summary.stream_status().as_str())),
                (
                    &TAGS,
                    // Kinesis allows a tag without a value: it reads as an empty one.
                    tag_pairs(tags.iter().map(|t| (t.key(), t.value().unwrap_or("")))),
                ),
            ]),
        }))
    }

    async fn create(&self, ctx: &Ctx) -> Result<Observed, Error> {
        let name = ctx.names().kinesis_stream();
        let created = ctx
            .clients
            .kinesis
            .create_stream()
            .stream_name(&name)
            .shard_count(ctx.settings.services.kinesis.shard_count)
            .stream_mode_details(
                StreamModeDetails::builder()
                    .stream_mode(StreamMode::Provisioned)
                    .build()
                    .map_err(|e| Error::resource(self.name(), e.to_string()))?,
            )
            .set_tags(Some(ctx.tags(&name).into_iter().collect()))
            .send()
            .await
            .op("kinesis:CreateStream");
        match created {
            // Stream names are unique: a retried create whose first response was lost.
            Err(e) if e.is(ErrorKind::NotReadyYet) || e.is(ErrorKind::AlreadyExists) => {
                if Self::summary(ctx)
                    .await?
                    .is_none_or(|s| s.stream_status() == &StreamStatus::Deleting)
                {
                    return Err(e.into());
                }
            }
            other => other.map(drop)?,
        }
        self.wait_active(ctx).await?;
        let current = self.read(ctx, None).await?;
        if let Some(current) = &current {
            ctx.set_record(self.name(), current.record.clone())?;
        }
        self.encrypt(ctx).await?;
        if ctx.settings.services.kinesis.retention_hours != CREATED_RETENTION_HOURS {
            self.set_retention(ctx, Some(CREATED_RETENTION_HOURS))
                .await?;
        }
        self.read_back(ctx, None).await
    }

    async fn update(&self, ctx: &Ctx, current: &Observed, changes: &[Change]) -> Result<(), Error> {
        let changed = |p: Prop| changes.iter().any(|c| c.property == p);
        let kinesis = &ctx.clients.kinesis;
        let name = ctx.names().kinesis_stream();
        // A stream found CREATING or UPDATING (a run stopped mid-wait) is waited for here.
        self.wait_active(ctx).await?;
        if changed(&RETENTION) {
            let now = current.properties.get(&RETENTION).and_then(|v| v.as_i64());
            self.set_retention(ctx, now.and_then(|n| i32::try_from(n).ok()))
                .await?;
        }
        if changed(&ENCRYPTION_KMS) {
            self.encrypt(ctx).await?;
        }
        if changed(&SHARDS) {
            let want = ctx.settings.services.kinesis.shard_count;
            let from = current
                .properties
                .get(&SHARDS)
                .and_then(|v| v.as_i64())
                .and_then(|n| i32::try_from(n).ok())
                .unwrap_or(want);
            let steps = shard_steps(from, want);
            for (done, step) in steps.iter().enumerate() {
                let scaled = kinesis
                    .update_shard_count()
                    .stream_name(&name)
                    .target_shard_count(*step)
                    .scaling_type(ScalingType::UniformScaling)
                    .send()
                    .await
                    .op("kinesis:UpdateShardCount");
                match scaled {
                    Err(e) if e.code.as_deref() == Some("LimitExceededException") => {
                        let now = if done == 0 { from } else { steps[done - 1] };
                        return Err(Error::resource(
                            self.name(),
                            format!(
                                "{e}. Kinesis changes a stream's shard count by at most double or half per call and at most 10 times per stream in a rolling 24 hours; {done} of the {} steps from {from} to {want} shards are done and the stream has {now}: run `medtech up` again once the earlier changes are a day old",
                                steps.len()
                            ),
                        ));
                    }
                    other => other.map(drop)?,
                }
                self.wait_active(ctx).await?;
            }
        }
        if changed(&TAGS) {
            kinesis
                .add_tags_to_stream()
                .stream_name(&name)
                .set_tags(Some(ctx.tags(&name).into_iter().collect()))
                .send()
                .await
                .op("kinesis:AddTagsToStream")?;
        }
        Ok(())
    }

    async fn destroy(&self, ctx: &Ctx, _current: &Observed) -> Result<(), Error> {
        gone(
            ctx.clients
                .kinesis
                .delete_stream()
                .stream_name(ctx.names().kinesis_stream())
                .enforce_consumer_deletion(true)
                .send()
                .await
                .op("kinesis:DeleteStream"),
        )?;
        self.waiter(ctx, "deleted")
            .until_gone(ctx, || async {
                let summary = Self::summary(ctx).await?;
                Ok(summary.map(|s| s.stream_status().as_str().to_owned()))
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::shard_steps;

    #[test]
    fn shard_changes_go_by_at_most_double_or_half() {
        assert_eq!(shard_steps(2, 2), Vec::<i32>::new());
        assert_eq!(shard_steps(1, 5), [2, 4, 5]);
        assert_eq!(shard_steps(5, 1), [3, 2, 1]);
        assert_eq!(shard_steps(2, 3), [3]);
        assert_eq!(shard_steps(500, 1).len(), 9);
        assert_eq!(shard_steps(1, 500).len(), 9);
    }
}
