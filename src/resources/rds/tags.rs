//! Tags on RDS resources, which are read and written by ARN rather than by name.

use aws_sdk_rds::types::Tag;
use serde_json::Value;

use crate::aws::AwsResultExt;
use crate::context::Ctx;
use crate::error::Error;
use crate::resources::common::tag_pairs;
use crate::resources::tagging;
use crate::state::Record;

pub(crate) fn sdk(ctx: &Ctx, name: &str) -> Vec<Tag> {
    ctx.tags(name)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The tags of the RDS resource at `arn`: from the environment's tag list when it holds them.
pub(crate) async fn read(ctx: &Ctx, recorded: Option<&Record>, arn: &str) -> Result<Value, Error> {
    tagging::tags_or(ctx, recorded, arn, || async {
        let out = ctx
            .clients
            .rds
            .list_tags_for_resource()
            .resource_name(arn)
            .send()
            .await
            .op("rds:ListTagsForResource")?;
        Ok(tag_pairs(
            out.tag_list()
                .iter()
                .filter_map(|t| Some((t.key()?, t.value()?))),
        ))
    })
    .await
}

pub(crate) async fn write(ctx: &Ctx, arn: &str, name: &str) -> Result<(), Error> {
    ctx.clients
        .rds
        .add_tags_to_resource()
        .resource_name(arn)
        .set_tags(Some(sdk(ctx, name)))
        .send()
        .await
        .op("rds:AddTagsToResource")?;
    Ok(())
}
