//! Tags as RDS and ElastiCache keep them: read and written by the resource's ARN, through
//! calls of the same names (`ListTagsForResource`, `AddTagsToResource`) and a `Tag` of the
//! same shape in each SDK. Each service gives its two calls and its `Tag` (`TagsByArn`);
//! what medtech does with them (the environment's tag list first, the property value, the
//! set sent at creation) is said once here.

use async_trait::async_trait;
use serde_json::Value;

use crate::context::Ctx;
use crate::error::Error;
use crate::resources::common::tag_pairs;
use crate::resources::tagging;
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

    /// The tags of the resource at `arn`: from the environment's tag list when it holds them.
    async fn read(ctx: &Ctx, recorded: Option<&Record>, arn: &str) -> Result<Value, Error> {
        tagging::tags_or(ctx, recorded, arn, || Self::list(ctx, arn)).await
    }
}
