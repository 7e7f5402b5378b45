//! The SNS topic alarms notify: encrypted with the stack's key (the key policy lets CloudWatch
//! publish to it), with an optional e-mail subscription from config.

use async_trait::async_trait;
use aws_sdk_sns::types::Tag;
use serde_json::{Value, json};

use crate::aws::AwsResultExt;
use crate::context::Ctx;
use crate::error::Error;
use crate::logical::Logical;
use crate::resource::{Change, Observed, Properties, Resource};
use crate::resources::common::{desired_tags, found, gone, tag_pairs, unchangeable};
use crate::resources::tagging;
use crate::state::Record;

pub(crate) struct SnsTopic;

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
}

#[async_trait]
impl Resource for SnsTopic {
    fn name(&self) -> Logical {
        Logical::AlarmTopic
    }

    fn kind(&self) -> &'static str {
        "sns_topic"
    }

    fn depends_on(&self) -> Vec<Logical> {
        vec![Logical::KmsKey]
    }

    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error> {
        let mut props = Properties::from([
            ("kms_master_key_id", json!(ctx.arn_of(Logical::KmsKey)?)),
            ("tags", desired_tags(ctx, &ctx.names().alarm_topic())),
        ]);
        // An object, so that subscriptions others added are not drift.
        if let Some(email) = &ctx.settings.services.alarms.email {
            props.insert("email_subscriptions", json!({ email.as_str(): true }));
        }
        Ok(props)
    }

    async fn read(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        let sns = &ctx.clients.sns;
        let arn = Self::arn(ctx);
        let Some(out) = found(
            sns.get_topic_attributes()
                .topic_arn(&arn)
                .send()
                .await
                .op("sns:GetTopicAttributes"),
        )?
        else {
            return Ok(None);
        };
        // No KmsMasterKeyId attribute: the topic is not encrypted (reported as null, so drift).
        let kms_key = out.attributes().and_then(|a| a.get("KmsMasterKeyId"));
        let tags = tagging::tags_or(ctx, recorded, &arn, || async {
            let out = sns
                .list_tags_for_resource()
                .resource_arn(&arn)
                .send()
                .await
                .op("sns:ListTagsForResource")?;
            Ok(tag_pairs(out.tags().iter().map(|t| (t.key(), t.value()))))
        })
        .await?;
        let subscriptions = sns
            .list_subscriptions_by_topic()
            .topic_arn(&arn)
            .send()
            .await
            .op("sns:ListSubscriptionsByTopic")?;
        let emails: serde_json::Map<String, Value> = subscriptions
            .subscriptions()
            .iter()
            .filter(|s| s.protocol() == Some("email"))
            .filter_map(|s| s.endpoint())
            .map(|e| (e.to_owned(), Value::Bool(true)))
            .collect();
        Ok(Some(Observed {
            record: Record::new(&arn).with("arn", &arn),
            properties: Properties::from([
                ("kms_master_key_id", json!(kms_key)),
                ("email_subscriptions", Value::Object(emails)),
                ("tags", tags),
            ]),
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
                "kms_master_key_id" => {
                    sns.set_topic_attributes()
                        .topic_arn(&arn)
                        .attribute_name("KmsMasterKeyId")
                        .attribute_value(ctx.arn_of(Logical::KmsKey)?)
                        .send()
                        .await
                        .op("sns:SetTopicAttributes")?;
                }
                "email_subscriptions" => {
                    if let Some(email) = &ctx.settings.services.alarms.email {
                        Self::subscribe(ctx, email).await?;
                    }
                }
                "tags" => {
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
