//! The ElastiCache subnet group: the two private subnets, where the Redis primary and its
//! replica live in different availability zones.

use async_trait::async_trait;

use super::tags::CacheTags;
use crate::aws::{AwsError, AwsResultExt, Required};
use crate::context::Ctx;
use crate::logical::Logical;
use crate::resources::common::subnet_group::{Described, PrivateSubnetGroup};
use crate::resources::common::tags_by_arn::TagsByArn;

pub(crate) struct CacheSubnetGroup;

#[async_trait]
impl PrivateSubnetGroup for CacheSubnetGroup {
    const LOGICAL: Logical = Logical::CacheSubnetGroup;
    type Tags = CacheTags;

    fn group_name(ctx: &Ctx) -> String {
        ctx.names().cache_subnet_group()
    }

    /// Taken from the description: the tags are read after it.
    fn arn_of_name(_: &Ctx, _: &str) -> Option<String> {
        None
    }

    async fn describe(ctx: &Ctx, name: &str) -> Result<Option<Described>, AwsError> {
        let out = ctx
            .clients
            .elasticache
            .describe_cache_subnet_groups()
            .cache_subnet_group_name(name)
            .send()
            .await
            .op("elasticache:DescribeCacheSubnetGroups")?;
        let Some(group) = out.cache_subnet_groups().first() else {
            return Ok(None);
        };
        Ok(Some(Described {
            arn: group
                .arn()
                .required("elasticache:DescribeCacheSubnetGroups", "ARN")?
                .to_owned(),
            subnet_ids: group
                .subnets()
                .iter()
                .filter_map(|s| s.subnet_identifier().map(str::to_owned))
                .collect(),
        }))
    }

    async fn create(
        ctx: &Ctx,
        name: &str,
        description: String,
        subnet_ids: Vec<String>,
    ) -> Result<(), AwsError> {
        ctx.clients
            .elasticache
            .create_cache_subnet_group()
            .cache_subnet_group_name(name)
            .cache_subnet_group_description(description)
            .set_subnet_ids(Some(subnet_ids))
            .set_tags(Some(CacheTags::sdk(ctx, name)))
            .send()
            .await
            .op("elasticache:CreateCacheSubnetGroup")
            .map(drop)
    }

    async fn modify(ctx: &Ctx, name: &str, subnet_ids: Vec<String>) -> Result<(), AwsError> {
        ctx.clients
            .elasticache
            .modify_cache_subnet_group()
            .cache_subnet_group_name(name)
            .set_subnet_ids(Some(subnet_ids))
            .send()
            .await
            .op("elasticache:ModifyCacheSubnetGroup")
            .map(drop)
    }

    /// CacheSubnetGroupInUse until the replication group is fully gone.
    async fn delete(ctx: &Ctx, name: &str) -> Result<(), AwsError> {
        ctx.clients
            .elasticache
            .delete_cache_subnet_group()
            .cache_subnet_group_name(name)
            .send()
            .await
            .op("elasticache:DeleteCacheSubnetGroup")
            .map(drop)
    }
}
