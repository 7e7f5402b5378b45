//! The VPC's default security group, locked down: no ingress, no egress. AWS creates it with
//! the VPC and deletes it with the VPC; medtech only strips its rules, so that anything
//! launched without an explicit group gets no network access (CIS 5.4, HIPAA Config rule
//! `VPC_DEFAULT_SECURITY_GROUP_CLOSED`).

use async_trait::async_trait;
use aws_sdk_ec2::types::SecurityGroup;
use serde_json::json;

use super::api::filter;
use super::describe;
use super::sg_rules::{self, Direction, group_id, rule_names};
use crate::context::Ctx;
use crate::error::Error;
use crate::logical::Logical;
use crate::resource::{Change, Observed, Properties, Resource};
use crate::resources::common::unchangeable;
use crate::state::Record;

pub(crate) struct DefaultSecurityGroup;

impl DefaultSecurityGroup {
    async fn describe(ctx: &Ctx) -> Result<Option<SecurityGroup>, Error> {
        // Without a VPC there is no default group to lock down.
        let Some(vpc) = ctx.record(Logical::Vpc) else {
            return Ok(None);
        };
        let filters = vec![filter("vpc-id", vpc.id), filter("group-name", "default")];
        let found = describe::filtered(ctx, filters).await?;
        Ok(found.into_iter().next())
    }
}

#[async_trait]
impl Resource for DefaultSecurityGroup {
    fn name(&self) -> Logical {
        Logical::DefaultSecurityGroup
    }

    fn kind(&self) -> &'static str {
        "default_security_group"
    }

    fn depends_on(&self) -> Vec<Logical> {
        vec![Logical::Vpc]
    }

    async fn desired(&self, _ctx: &Ctx) -> Result<Properties, Error> {
        Ok(Properties::from([
            ("ingress", json!([])),
            ("egress", json!([])),
        ]))
    }

    async fn read(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        let group = match describe::listed(ctx, recorded).await? {
            Some(group) => Some(group),
            None => Self::describe(ctx).await?,
        };
        let Some(group) = group else {
            return Ok(None);
        };
        Ok(Some(Observed {
            record: Record::new(group_id(&group)?),
            properties: Properties::from([
                ("ingress", json!(rule_names(&group, Direction::Ingress)?)),
                ("egress", json!(rule_names(&group, Direction::Egress)?)),
            ]),
        }))
    }

    async fn create(&self, _ctx: &Ctx) -> Result<Observed, Error> {
        Err(Error::resource(
            self.name(),
            "the VPC has no default security group; AWS creates one with every VPC, so the VPC is not usable",
        ))
    }

    async fn update(
        &self,
        ctx: &Ctx,
        _current: &Observed,
        changes: &[Change],
    ) -> Result<(), Error> {
        let group = Self::describe(ctx)
            .await?
            .ok_or_else(|| Error::resource(self.name(), "disappeared while being locked down"))?;
        for change in changes {
            let direction = match change.property {
                "ingress" => Direction::Ingress,
                "egress" => Direction::Egress,
                _ => return Err(unchangeable(self.name(), change)),
            };
            sg_rules::converge(ctx, &group, direction, &[]).await?;
        }
        Ok(())
    }

    async fn destroy(&self, _ctx: &Ctx, _current: &Observed) -> Result<(), Error> {
        // Deleted by AWS together with the VPC.
        Ok(())
    }
}
