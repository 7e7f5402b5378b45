//! Tags on RDS resources, which are read and written by ARN rather than by name: the
//! service's two tag calls, for what `TagsByArn` does with them.

use async_trait::async_trait;
use aws_sdk_rds::types::Tag;
use serde_json::Value;

use crate::aws::AwsResultExt;
use crate::context::Ctx;
use crate::error::Error;
use crate::resources::common::tags_by_arn::TagsByArn;

pub(crate) struct RdsTags;

#[async_trait]
impl TagsByArn for RdsTags {
    type Tag = Tag;

    fn tag(key: String, value: String) -> Tag {
        Tag::builder().key(key).value(value).build()
    }

    fn pair(tag: &Tag) -> Option<(&str, &str)> {
        Some((tag.key()?, tag.value()?))
    }

    async fn list(ctx: &Ctx, arn: &str) -> Result<Value, Error> {
        let out = ctx
            .clients
            .rds
            .list_tags_for_resource()
            .resource_name(arn)
            .send()
            .await
            .op("rds:ListTagsForResource")?;
        Ok(Self::value(out.tag_list()))
    }

    async fn write(ctx: &Ctx, arn: &str, name: &str) -> Result<(), Error> {
        ctx.clients
            .rds
            .add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(Self::sdk(ctx, name)))
            .send()
            .await
            .op("rds:AddTagsToResource")?;
        Ok(())
    }
}
