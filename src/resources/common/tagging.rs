//! Tags through the Resource Groups Tagging API: one paged GetResources, filtered by the
//! project and environment tags, gives the tags of every taggable resource of the environment
//! outside EC2 and IAM (whose describes carry their tags). Reads take a resource's tags from
//! it instead of one ListTagsForResource each.

use aws_sdk_resourcegroupstagging::types::TagFilter;
use serde_json::Value;

use super::tag_pairs;
use crate::aws::AwsResultExt;
use crate::context::{Ctx, ListKey};
use crate::error::Error;
use crate::state::Record;
use crate::tags::PROJECT;

/// The services whose tags are read from here: the ones with more than one resource in the
/// stack or no describe that carries tags. (The one Kinesis stream keeps its own tag call: one
/// call either way.)
const SERVICES: [&str; 7] = [
    "kms",
    "logs",
    "rds",
    "elasticache",
    "sns",
    "cloudwatch",
    "backup",
];

/// The tags of the resource at `arn`, when it is recorded and the environment's tag list
/// holds it; `None` sends the caller to the service's own tag call (a resource that lost its
/// environment tag is not in the list, which is how that drift is still seen).
pub(crate) async fn tags(
    ctx: &Ctx,
    recorded: Option<&Record>,
    arn: &str,
) -> Result<Option<Value>, Error> {
    if recorded.is_none() {
        return Ok(None);
    }
    let Some(list) = ctx.listed(&TAGS, || environment_tags(ctx)).await? else {
        return Ok(None);
    };
    let arn = canonical(arn);
    Ok(list
        .iter()
        .find(|(a, _)| canonical(a) == arn)
        .map(|(_, tags)| tags.clone()))
}

/// The tags of the resource at `arn`: from the environment's tag list when it holds them,
/// else from `list`, the service's own tag call.
pub(crate) async fn tags_or<F, Fut>(
    ctx: &Ctx,
    recorded: Option<&Record>,
    arn: &str,
    list: F,
) -> Result<Value, Error>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Value, Error>>,
{
    match tags(ctx, recorded, arn).await? {
        Some(tags) => Ok(tags),
        None => list().await,
    }
}

/// The tags of every resource of the environment, by ARN.
const TAGS: ListKey<Vec<(String, Value)>> = ListKey::new("tagging:GetResources");

/// Both tags, not the environment's alone: `Environment=prod` is on every other team's
/// resources too in a shared account, and paging through those would make this read cost
/// more the more the account holds. (Filters are ANDed.)
async fn environment_tags(ctx: &Ctx) -> Result<Vec<(String, Value)>, Error> {
    let filter = |key: &str, value: &str| TagFilter::builder().key(key).values(value).build();
    let listed = ctx
        .clients
        .tagging
        .get_resources()
        .tag_filters(filter("Project", PROJECT))
        .tag_filters(filter("Environment", ctx.settings.env().as_str()))
        .set_resource_type_filters(Some(SERVICES.iter().map(|s| (*s).to_owned()).collect()))
        .resources_per_page(100)
        // The most the API takes: GetResources pages by tags too (100 by default), and a
        // stack's resources carry more tags than that between them.
        .tags_per_page(500)
        .into_paginator();
    let mappings = listed.items().send().try_collect().await;
    Ok(mappings
        .op("tag:GetResources")?
        .iter()
        .filter_map(|mapping| {
            let arn = mapping.resource_arn()?.to_owned();
            Some((
                arn,
                tag_pairs(mapping.tags().iter().map(|t| (t.key(), t.value()))),
            ))
        })
        .collect())
}

/// Log group ARNs come with and without the trailing `:*`.
fn canonical(arn: &str) -> &str {
    arn.strip_suffix(":*").unwrap_or(arn)
}
