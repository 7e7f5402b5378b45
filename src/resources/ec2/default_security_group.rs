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
use crate::control::{ACCESS, Control, Severity, control};
use crate::error::Error;
use crate::logical::Logical;
use crate::property::{Prop, Property};
use crate::resource::{Change, Observed, Properties, Resource, unchangeable};
use crate::state::Record;

pub(crate) struct DefaultSecurityGroup;

const CLOSED: Control = control(
    "The VPC's default security group allows no traffic",
    Severity::High,
    ACCESS,
    "run `medtech up` to revoke its rules",
    "ec2_securitygroup_default_restrict_traffic",
    "VPC_DEFAULT_SECURITY_GROUP_CLOSED",
);
static INGRESS: Property = Property::in_place("ingress", CLOSED);
static EGRESS: Property = Property::in_place("egress", CLOSED);

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

    fn depends_on(&self) -> Vec<Logical> {
        vec![Logical::Vpc]
    }

    fn properties(&self) -> &'static [Prop] {
        const { &[&INGRESS, &EGRESS] }
    }

    async fn desired(&self, _ctx: &Ctx) -> Result<Properties, Error> {
        Ok(Properties::from([
            (&INGRESS, json!([])),
            (&EGRESS, json!([])),
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
                (&INGRESS, json!(rule_names(&group, Direction::Ingress)?)),
                (&EGRESS, json!(rule_names(&group, Direction::Egress)?)),
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
                p if p == &INGRESS => Direction::Ingress,
                p if p == &EGRESS => Direction::Egress,
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
