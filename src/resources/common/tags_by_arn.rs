//! Tags as RDS and ElastiCache keep them: read and written by the resource's ARN, through
//! calls of the same names (`ListTagsForResource`, `AddTagsToResource`) and a `Tag` of the
//! same shape in each SDK. What medtech does with them (the environment's tag list first, the
//! property value, the set sent at creation) is said once here (`TagsByArn`), and so are the
//! calls themselves (`tags_by_arn!`), which differ only by the SDK crate that makes them.

use async_trait::async_trait;
use serde_json::Value;

use crate::context::Ctx;
use crate::error::Error;
use crate::logical::Logical;
use crate::resources::common::tagging;
use crate::resources::common::{recorded_attr, tag_pairs};
use crate::state::Record;

#[async_trait]
pub(crate) trait TagsByArn: Send + Sync {
    /// The service SDK's tag.
    type Tag;

    fn tag(key: String, value: String) -> Self::Tag;

    /// A tag's key and value; one AWS sent without either is not a tag medtech compares.
    fn pair(tag: &Self::Tag) -> Option<(&str, &str)>;

    /// The service's ListTagsForResource, as a property value.
    async fn list(ctx: &Ctx, arn: &str) -> Result<Value, Error>;

    /// The service's AddTagsToResource, of the tags the resource `name` should have.
    async fn write(ctx: &Ctx, arn: &str, name: &str) -> Result<(), Error>;

    /// The tags the resource `name` is created with.
    fn sdk(ctx: &Ctx, name: &str) -> Vec<Self::Tag> {
        ctx.tags(name)
            .into_iter()
            .map(|(k, v)| Self::tag(k, v))
            .collect()
    }

    /// Tags as a property value.
    fn value(tags: &[Self::Tag]) -> Value {
        tag_pairs(tags.iter().filter_map(Self::pair))
    }

    /// Puts the tags of `name` back on the recorded `resource`, at the ARN its record keeps.
    async fn rewrite(
        ctx: &Ctx,
        resource: Logical,
        record: &Record,
        name: &str,
    ) -> Result<(), Error> {
        Self::write(ctx, recorded_attr(resource, record, "arn")?, name).await
    }

    /// The tags of the resource at `arn`: from the environment's tag list when it holds them.
    async fn read(ctx: &Ctx, recorded: Option<&Record>, arn: &str) -> Result<Value, Error> {
        tagging::tags_or(ctx, recorded, arn, || Self::list(ctx, arn)).await
    }
}

/// `TagsByArn` for the service whose SDK crate is `$krate` and client `ctx.clients.$client`,
/// with the IAM actions of its two calls spelled out, so that a search finds them. A macro:
/// each SDK crate has its own client and `Tag`, with no trait in common, though the calls and
/// the `Tag` have the same names and shape in both.
macro_rules! tags_by_arn {
    ($tags:ident: $krate:ident, $client:ident, $list:literal, $add:literal) => {
        pub(crate) struct $tags;

        #[async_trait::async_trait]
        impl $crate::resources::common::tags_by_arn::TagsByArn for $tags {
            type Tag = $krate::types::Tag;

            fn tag(key: String, value: String) -> Self::Tag {
                $krate::types::Tag::builder().key(key).value(value).build()
            }

            fn pair(tag: &Self::Tag) -> Option<(&str, &str)> {
                Some((tag.key()?, tag.value()?))
            }

            async fn list(
                ctx: &$crate::context::Ctx,
                arn: &str,
            ) -> Result<serde_json::Value, $crate::error::Error> {
                use $crate::aws::AwsResultExt;
                let out = ctx
                    .clients
                    .$client
                    .list_tags_for_resource()
                    .resource_name(arn)
                    .send()
                    .await
                    .op($list)?;
                Ok(Self::value(out.tag_list()))
            }

            async fn write(
                ctx: &$crate::context::Ctx,
                arn: &str,
                name: &str,
            ) -> Result<(), $crate::error::Error> {
                use $crate::aws::AwsResultExt;
                ctx.clients
                    .$client
                    .add_tags_to_resource()
                    .resource_name(arn)
                    .set_tags(Some(Self::sdk(ctx, name)))
                    .send()
                    .await
                    .op($add)?;
                Ok(())
            }
        }
    };
}
pub(crate) use tags_by_arn;
