//! The DB subnet group: the two private subnets, one per availability zone, where the RDS
//! instance and its Multi-AZ standby live.

use async_trait::async_trait;

use super::tags::RdsTags;
use crate::aws::{AwsError, AwsResultExt, Required};
use crate::context::Ctx;
use crate::logical::Logical;
use crate::resources::common::subnet_group::{Described, PrivateSubnetGroup};
use crate::resources::common::tags_by_arn::TagsByArn;

pub(crate) struct DbSubnetGroup;

#[async_trait]
impl PrivateSubnetGroup for DbSubnetGroup {
    const LOGICAL: Logical = Logical::DbSubnetGroup;
    type Tags = RdsTags;

    fn group_name(ctx: &Ctx) -> String {
        ctx.names().db_subnet_group()
    }

    /// RDS gives every subnet group the ARN of its name.
    fn arn_of_name(ctx: &Ctx, name: &str) -> Option<String> {
        Some(ctx.clients.arn("rds", &format!("subgrp:{name}")))
    }

    async fn describe(ctx: &Ctx, name: &str) -> Result<Option<Described>, AwsError> {
        let out = ctx
            .clients
            .rds
            .describe_db_subnet_groups()
            .db_subnet_group_name(name)
            .send()
            .await
            .op("rds:DescribeDBSubnetGroups")?;
        let Some(group) = out.db_subnet_groups().first() else {
            return Ok(None);
        };
        Ok(Some(Described {
            arn: group
                .db_subnet_group_arn()
                .required("rds:DescribeDBSubnetGroups", "DBSubnetGroupArn")?
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
            .rds
            .create_db_subnet_group()
            .db_subnet_group_name(name)
            .db_subnet_group_description(description)
            .set_subnet_ids(Some(subnet_ids))
            .set_tags(Some(RdsTags::sdk(ctx, name)))
            .send()
            .await
            .op("rds:CreateDBSubnetGroup")
            .map(drop)
    }

    async fn modify(ctx: &Ctx, name: &str, subnet_ids: Vec<String>) -> Result<(), AwsError> {
        ctx.clients
            .rds
            .modify_db_subnet_group()
            .db_subnet_group_name(name)
            .set_subnet_ids(Some(subnet_ids))
            .send()
            .await
            .op("rds:ModifyDBSubnetGroup")
            .map(drop)
    }

    /// InvalidDBSubnetGroupStateFault until the instance is fully gone.
    async fn delete(ctx: &Ctx, name: &str) -> Result<(), AwsError> {
        ctx.clients
            .rds
            .delete_db_subnet_group()
            .db_subnet_group_name(name)
            .send()
            .await
            .op("rds:DeleteDBSubnetGroup")
            .map(drop)
    }
}
