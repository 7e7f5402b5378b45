//! The SNS topic alarms notify: encrypted with the stack's key (the key policy lets CloudWatch
//! publish to it), with an optional e-mail subscription from config.

use async_trait::async_trait;
use aws_sdk_sns::types::Tag;
use serde_json::{Map, Value, json};

use crate::aws::AwsResultExt;
use crate::context::Ctx;
use crate::control::{ACTIVITY, ENCRYPTION, Severity, control};
use crate::error::Error;
use crate::logical::Logical;
use crate::property::{Prop, Property, TAGS};
use crate::resource::{Change, Observed, Properties, Resource, unchangeable};
use crate::resources::common::tagging;
use crate::resources::common::{desired_tags, found, gone, tag_pairs};
use crate::state::Record;

pub(crate) struct SnsTopic;

static KMS_KEY: Property = Property::in_place(
    "kms_master_key_id",
    control(
        "Alarm topic encrypted with the stack's key",
        Severity::High,
        ENCRYPTION,
        "run `medtech up`",
        Some("sns_topics_kms_encryption_at_rest_enabled"),
        Some("SNS_ENCRYPTED_KMS"),
    ),
);
/// Desired only when config names an e-mail address.
static EMAILS: Property = Property::in_place(
    "email_subscriptions",
    control(
        "Alarm notifications reach their subscribers",
        Severity::Low,
        ACTIVITY,
        "run `medtech up`",
        None,
        None,
    ),
);

impl SnsTopic {
    fn arn(ctx: &Ctx) -> String {
        ctx.clients.arn("sns", &ctx.names().alarm_topic())
    }

    fn tags(ctx: &Ctx) -> Vec<Tag> {
        ctx.tags(&ctx.names().alarm_topic())
            .into_iter()
            .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
            .collect()
    }

    async fn subscribe(ctx: &Ctx, email: &str) -> Result<(), Error> {
        ctx.clients
            .sns
            .subscribe()
            .topic_arn(Self::arn(ctx))
            .protocol("email")
            .endpoint(email)
            .send()
            .await
            .op("sns:Subscribe")?;
        Ok(())
    }

    /// The topic's email subscriptions, when `alarms.email` asks for one: without it there is
    /// nothing to compare them with (others' subscriptions are never drift).
    async fn emails(ctx: &Ctx, arn: &str) -> Result<Option<Map<String, Value>>, Error> {
        if ctx.settings.services.alarms.email.is_none() {
            return Ok(None);
        }
        let subscriptions = found(
            ctx.clients
                .sns
                .list_subscriptions_by_topic()
                .topic_arn(arn)
                .send()
                .await
                .op("sns:ListSubscriptionsByTopic"),
        )?;
        Ok(Some(
            subscriptions
                .iter()
                .flat_map(|out| out.subscriptions())
                .filter(|s| s.protocol() == Some("email"))
                .filter_map(|s| s.endpoint())
                .map(|e| (e.to_owned(), Value::Bool(true)))
                .collect(),
        ))
    }
}

#[async_trait]
impl Resource for SnsTopic {
    fn name(&self) -> Logical {
        Logical::AlarmTopic
    }

    fn depends_on(&self) -> Vec<Logical> {
        vec![Logical::KmsKey]
    }

    fn properties(&self) -> &'static [Prop] {
        const { &[&KMS_KEY, &EMAILS, &TAGS] }
    }

    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error> {
        let mut props = Properties::from([
            (&KMS_KEY, json!(ctx.arn_of(Logical::KmsKey)?)),
            (&TAGS, desired_tags(ctx, &ctx.names().alarm_topic())),
        ]);
        // An object, so that subscriptions others added are not drift.
        if let Some(email) = &ctx.settings.services.alarms.email {
            props.insert(&EMAILS, json!({ email.as_str(): true }));
        }
        Ok(props)
    }

    async fn read(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        let sns = &ctx.clients.sns;
        let arn = Self::arn(ctx);
        // The topic's ARN follows from its name: its attributes, tags and subscriptions are
        // asked for at once, the last two counting only once the first says it exists.
        let attributes = async {
            found(
                sns.get_topic_attributes()
                    .topic_arn(&arn)
                    .send()
                    .await
                    .op("sns:GetTopicAttributes"),
            )
        };
        let tags = tagging::tags_or(ctx, recorded, &arn, || async {
            let out = sns
                .list_tags_for_resource()
                .resource_arn(&arn)
                .send()
                .await
                .op("sns:ListTagsForResource")?;
            Ok(tag_pairs(out.tags().iter().map(|t| (t.key(), t.value()))))
        });
        let (attributes, tags, emails) = tokio::join!(attributes, tags, Self::emails(ctx, &arn));
        let Some(out) = attributes? else {
            return Ok(None);
        };
        // No KmsMasterKeyId attribute: the topic is not encrypted (reported as null, so drift).
        let kms_key = out.attributes().and_then(|a| a.get("KmsMasterKeyId"));
        let tags = tags?;
        let emails = emails?;
        Ok(Some(Observed {
            record: Record::new(&arn).with("arn", &arn),
            properties: Properties::from_iter(
                [(&KMS_KEY, json!(kms_key)), (&TAGS, tags)]
                    .into_iter()
                    .chain(emails.map(|emails| (&EMAILS, Value::Object(emails)))),
            ),
        }))
    }

    async fn create(&self, ctx: &Ctx) -> Result<Observed, Error> {
        // CreateTopic is idempotent by name: a retry returns the same topic.
        let out = ctx
            .clients
            .sns
            .create_topic()
            .name(ctx.names().alarm_topic())
            .attributes("KmsMasterKeyId", ctx.arn_of(Logical::KmsKey)?)
            .set_tags(Some(Self::tags(ctx)))
            .send()
            .await
            .op("sns:CreateTopic")?;
        let arn = out
            .topic_arn()
            .map_or_else(|| Self::arn(ctx), str::to_owned);
        ctx.set_record(self.name(), Record::new(&arn).with("arn", &arn))?;
        if let Some(email) = &ctx.settings.services.alarms.email {
            Self::subscribe(ctx, email).await?;
        }
        self.read_back(ctx, None).await
    }

    async fn update(&self, ctx: &Ctx, _: &Observed, changes: &[Change]) -> Result<(), Error> {
        let sns = &ctx.clients.sns;
        let arn = Self::arn(ctx);
        for change in changes {
            match change.property {
                p if p == &KMS_KEY => {
                    sns.set_topic_attributes()
                        .topic_arn(&arn)
                        .attribute_name("KmsMasterKeyId")
                        .attribute_value(ctx.arn_of(Logical::KmsKey)?)
                        .send()
                        .await
                        .op("sns:SetTopicAttributes")?;
                }
                p if p == &EMAILS => {
                    if let Some(email) = &ctx.settings.services.alarms.email {
                        Self::subscribe(ctx, email).await?;
                    }
                }
                p if p == &TAGS => {
                    sns.tag_resource()
                        .resource_arn(&arn)
                        .set_tags(Some(Self::tags(ctx)))
                        .send()
                        .await
                        .op("sns:TagResource")?;
                }
                _ => return Err(unchangeable(self.name(), change)),
            }
        }
        Ok(())
    }

    async fn destroy(&self, ctx: &Ctx, _current: &Observed) -> Result<(), Error> {
        gone(
            ctx.clients
                .sns
                .delete_topic()
                .topic_arn(Self::arn(ctx))
                .send()
                .await
                .op("sns:DeleteTopic"),
        )
    }
}
