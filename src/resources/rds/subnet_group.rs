//! The DB subnet group: the two private subnets, one per availability zone, where the RDS
//! instance and its Multi-AZ standby live.

use async_trait::async_trait;
use serde_json::json;

use super::tags;
use crate::aws::{AwsResultExt, ErrorKind};
use crate::context::Ctx;
use crate::error::Error;
use crate::logical::{Logical, Tier};
use crate::resource::{Change, Observed, Properties, Resource};
use crate::resources::common::{
    Required, cannot_change, desired_tags, found, gone, recorded_attr, sorted_ids,
};
use crate::state::Record;

pub(crate) struct DbSubnetGroup;

impl DbSubnetGroup {}

#[async_trait]
impl Resource for DbSubnetGroup {
    fn name(&self) -> Logical {
        Logical::DbSubnetGroup
    }

    fn kind(&self) -> &'static str {
        "db_subnet_group"
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
                let (d, t) = tokio::join!(describe, tags::read(ctx, recorded, &arn));
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
        let arn = group
            .db_subnet_group_arn()
            .required("rds:DescribeDBSubnetGroups", "DBSubnetGroupArn")?
            .to_owned();
        let tags = match tags {
            Some(tags) => tags?,
            None => tags::read(ctx, recorded, &arn).await?,
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
            .set_subnet_ids(Some(sorted_ids(ctx, &Logical::subnets(Tier::Private))?))
            .set_tags(Some(tags::sdk(ctx, &name)))
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
                        .set_subnet_ids(Some(sorted_ids(ctx, &Logical::subnets(Tier::Private))?))
                        .send()
                        .await
                        .op("rds:ModifyDBSubnetGroup")?;
                }
                "tags" => {
                    let arn = recorded_attr(self.name(), &current.record, "arn")?;
                    tags::write(ctx, arn, &name).await?
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
