//! The DB subnet group: the two private subnets, one per availability zone, where the RDS
//! instance and its Multi-AZ standby live.

use async_trait::async_trait;
use serde_json::json;

use super::common::{cannot_change, desired_tags, found, gone, sorted_ids};
use super::rds_tags;
use super::subnet::Subnet;
use crate::aws::{AwsResultExt, ErrorKind};
use crate::context::Ctx;
use crate::error::Error;
use crate::resource::{Change, Observed, Properties, Resource};
use crate::state::Record;

pub struct DbSubnetGroup;

impl DbSubnetGroup {
    pub const NAME: &'static str = "db-subnets";
}

#[async_trait]
impl Resource for DbSubnetGroup {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn kind(&self) -> &'static str {
        "db_subnet_group"
    }

    fn depends_on(&self) -> Vec<&'static str> {
        Subnet::PRIVATE.to_vec()
    }

    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error> {
        Ok(Properties::from([
            ("subnet_ids", json!(sorted_ids(ctx, &Subnet::PRIVATE)?)),
            ("tags", desired_tags(ctx, &ctx.names().db_subnet_group())),
        ]))
    }

    async fn read(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        let name = ctx.names().db_subnet_group();
        let describe = async {
            ctx.clients
                .rds
                .describe_db_subnet_groups()
                .db_subnet_group_name(&name)
                .send()
                .await
                .op("rds:DescribeDBSubnetGroups")
        };
        // A group that should exist (recorded, or just created) has its tags read alongside,
        // by the ARN RDS gives every subnet group; RDS waits for this read.
        let (described, tags) = match recorded {
            Some(_) => {
                let arn = ctx.clients.arn("rds", &format!("subgrp:{name}"));
                let (d, t) = tokio::join!(describe, rds_tags::read(ctx, recorded, &arn));
                (d, Some(t))
            }
            None => (describe.await, None),
        };
        let group = found(described)?.and_then(|out| out.db_subnet_groups().first().cloned());
        let Some(group) = group else {
            return Ok(None);
        };
        let mut subnets: Vec<&str> = group
            .subnets()
            .iter()
            .filter_map(|s| s.subnet_identifier())
            .collect();
        subnets.sort();
        let arn = group.db_subnet_group_arn().unwrap_or_default().to_owned();
        let tags = match tags {
            Some(tags) => tags?,
            None => rds_tags::read(ctx, recorded, &arn).await?,
        };
        Ok(Some(Observed {
            record: Record::new(&name).with("arn", &arn),
            properties: Properties::from([("subnet_ids", json!(subnets)), ("tags", tags)]),
        }))
    }

    async fn create(&self, ctx: &Ctx) -> Result<Observed, Error> {
        let name = ctx.names().db_subnet_group();
        let created = ctx
            .clients
            .rds
            .create_db_subnet_group()
            .db_subnet_group_name(&name)
            .db_subnet_group_description(format!("medtech {}: private subnets", ctx.settings.env()))
            .set_subnet_ids(Some(sorted_ids(ctx, &Subnet::PRIVATE)?))
            .set_tags(Some(rds_tags::sdk(ctx, &name)))
            .send()
            .await
            .op("rds:CreateDBSubnetGroup");
        match created {
            Err(e) if e.is(ErrorKind::AlreadyExists) => {}
            other => other.map(drop)?,
        }
        self.read_back(ctx, Some(&Record::new(&name))).await
    }

    async fn update(&self, ctx: &Ctx, current: &Observed, changes: &[Change]) -> Result<(), Error> {
        let name = ctx.names().db_subnet_group();
        for change in changes {
            match change.property {
                "subnet_ids" => {
                    ctx.clients
                        .rds
                        .modify_db_subnet_group()
                        .db_subnet_group_name(&name)
                        .set_subnet_ids(Some(sorted_ids(ctx, &Subnet::PRIVATE)?))
                        .send()
                        .await
                        .op("rds:ModifyDBSubnetGroup")?;
                }
                "tags" => {
                    rds_tags::write(ctx, current.record.attr("arn").unwrap_or_default(), &name)
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
        // InvalidDBSubnetGroupStateFault until the instance is fully gone: the engine retries.
        gone(
            ctx.clients
                .rds
                .delete_db_subnet_group()
                .db_subnet_group_name(ctx.names().db_subnet_group())
                .send()
                .await
                .op("rds:DeleteDBSubnetGroup"),
        )
    }
}
