//! The ElastiCache subnet group: the two private subnets, where the Redis primary and its
//! replica live in different availability zones.

use async_trait::async_trait;
use aws_sdk_elasticache::types::Tag;
use serde_json::json;

use crate::aws::{AwsResultExt, ErrorKind};
use crate::context::Ctx;
use crate::error::Error;
use crate::logical::{Logical, Tier};
use crate::resource::{Change, Observed, Properties, Resource};
use crate::resources::common::{
    Required, cannot_change, desired_tags, found, gone, recorded_attr, sorted_ids, tag_pairs,
};
use crate::resources::tagging;
use crate::state::Record;

pub(crate) struct CacheSubnetGroup;

impl CacheSubnetGroup {}

/// Tags of any ElastiCache resource, by ARN: from the environment's tag list when it holds them.
pub(crate) async fn read_tags(
    ctx: &Ctx,
    recorded: Option<&Record>,
    arn: &str,
) -> Result<serde_json::Value, Error> {
    if let Some(tags) = tagging::tags(ctx, recorded, arn).await? {
        return Ok(tags);
    }
    let out = ctx
        .clients
        .elasticache
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .op("elasticache:ListTagsForResource")?;
    Ok(tag_pairs(
        out.tag_list()
            .iter()
            .filter_map(|t| Some((t.key()?, t.value()?))),
    ))
}

pub(crate) fn sdk_tags(ctx: &Ctx, name: &str) -> Vec<Tag> {
    ctx.tags(name)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

pub(crate) async fn write_tags(ctx: &Ctx, arn: &str, name: &str) -> Result<(), Error> {
    ctx.clients
        .elasticache
        .add_tags_to_resource()
        .resource_name(arn)
        .set_tags(Some(sdk_tags(ctx, name)))
        .send()
        .await
        .op("elasticache:AddTagsToResource")?;
    Ok(())
}

#[async_trait]
impl Resource for CacheSubnetGroup {
    fn name(&self) -> Logical {
        Logical::CacheSubnetGroup
    }

    fn kind(&self) -> &'static str {
        "cache_subnet_group"
    }

    fn depends_on(&self) -> Vec<Logical> {
        Logical::subnets(Tier::Private).to_vec()
    }

    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error> {
        Ok(Properties::from([
            (
                "subnet_ids",
                json!(sorted_ids(ctx, &Logical::subnets(Tier::Private))?),
            ),
            ("tags", desired_tags(ctx, &ctx.names().cache_subnet_group())),
        ]))
    }

    async fn read(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        let name = ctx.names().cache_subnet_group();
        let group = found(
            ctx.clients
                .elasticache
                .describe_cache_subnet_groups()
                .cache_subnet_group_name(&name)
                .send()
                .await
                .op("elasticache:DescribeCacheSubnetGroups"),
        )?
        .and_then(|out| out.cache_subnet_groups().first().cloned());
        let Some(group) = group else {
            return Ok(None);
        };
        let mut subnets: Vec<&str> = group
            .subnets()
            .iter()
            .filter_map(|s| s.subnet_identifier())
            .collect();
        subnets.sort();
        let arn = group
            .arn()
            .required("elasticache:DescribeCacheSubnetGroups", "ARN")?
            .to_owned();
        Ok(Some(Observed {
            record: Record::new(&name).with("arn", &arn),
            properties: Properties::from([
                ("subnet_ids", json!(subnets)),
                ("tags", read_tags(ctx, recorded, &arn).await?),
            ]),
        }))
    }

    async fn create(&self, ctx: &Ctx) -> Result<Observed, Error> {
        let name = ctx.names().cache_subnet_group();
        let created = ctx
            .clients
            .elasticache
            .create_cache_subnet_group()
            .cache_subnet_group_name(&name)
            .cache_subnet_group_description(format!(
                "medtech {}: private subnets",
                ctx.settings.env()
            ))
            .set_subnet_ids(Some(sorted_ids(ctx, &Logical::subnets(Tier::Private))?))
            .set_tags(Some(sdk_tags(ctx, &name)))
            .send()
            .await
            .op("elasticache:CreateCacheSubnetGroup");
        match created {
            Err(e) if e.is(ErrorKind::AlreadyExists) => {}
            other => other.map(drop)?,
        }
        self.read_back(ctx, None).await
    }

    async fn update(&self, ctx: &Ctx, current: &Observed, changes: &[Change]) -> Result<(), Error> {
        let name = ctx.names().cache_subnet_group();
        for change in changes {
            match change.property {
                "subnet_ids" => {
                    ctx.clients
                        .elasticache
                        .modify_cache_subnet_group()
                        .cache_subnet_group_name(&name)
                        .set_subnet_ids(Some(sorted_ids(ctx, &Logical::subnets(Tier::Private))?))
                        .send()
                        .await
                        .op("elasticache:ModifyCacheSubnetGroup")?;
                }
                "tags" => {
                    write_tags(
                        ctx,
                        recorded_attr(self.name(), &current.record, "arn")?,
                        &name,
                    )
                    .await?
                }
                other => {
                    return Err(cannot_change(
                        self.name(),
                        other,
                        change.observed.as_ref(),
                        &change.desired,
                    ));
                }
            }
        }
        Ok(())
    }

    async fn destroy(&self, ctx: &Ctx, _current: &Observed) -> Result<(), Error> {
        // CacheSubnetGroupInUse until the replication group is fully gone: the engine retries.
        gone(
            ctx.clients
                .elasticache
                .delete_cache_subnet_group()
                .cache_subnet_group_name(ctx.names().cache_subnet_group())
                .send()
                .await
                .op("elasticache:DeleteCacheSubnetGroup"),
        )
    }
}
