//! The VPC's default network ACL, locked down: every entry deleted but the `*` ones, which deny
//! everything. AWS creates it with the VPC and deletes it with the VPC; medtech only strips
//! its entries, so that a subnet that falls back to it (created by hand, or moved off its
//! tier's ACL) gets no traffic at all instead of all of it. Locked only once both tiers' ACLs
//! hold their subnets: until then the stack's subnets use this one.

use async_trait::async_trait;
use aws_sdk_ec2::types::NetworkAcl as SdkAcl;
use serde_json::json;

use super::describe;
use super::network_acl::{self, default_acl, entries, names};
use super::sg_rules::Direction;
use crate::context::Ctx;
use crate::control::{ACCESS, Control, Severity, control};
use crate::error::Error;
use crate::logical::{Logical, Tier};
use crate::property::{Prop, Property};
use crate::resource::{Change, Observed, Properties, Resource, unchangeable};
use crate::state::Record;

pub(crate) struct DefaultNetworkAcl;

const CLOSED: Control = control(
    "The VPC's default network ACL allows no traffic (only its `*` deny entries remain)",
    Severity::High,
    ACCESS,
    "run `medtech up` to delete its entries",
    "ec2_networkacl_allow_ingress_any_port",
    "-",
);
static INGRESS: Property = Property::in_place("ingress", CLOSED);
static EGRESS: Property = Property::in_place("egress", CLOSED);

impl DefaultNetworkAcl {
    async fn describe(ctx: &Ctx) -> Result<Option<SdkAcl>, Error> {
        // Without a VPC there is no default ACL to lock down.
        let Some(vpc) = ctx.record(Logical::Vpc) else {
            return Ok(None);
        };
        default_acl(ctx, &vpc.id).await
    }
}

#[async_trait]
impl Resource for DefaultNetworkAcl {
    fn name(&self) -> Logical {
        Logical::DefaultNetworkAcl
    }

    fn depends_on(&self) -> Vec<Logical> {
        vec![
            Logical::Vpc,
            Logical::NetworkAcl(Tier::Public),
            Logical::NetworkAcl(Tier::Private),
        ]
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
        let acl = match describe::listed(ctx, recorded).await? {
            Some(acl) => Some(acl),
            None => Self::describe(ctx).await?,
        };
        let Some(acl) = acl else {
            return Ok(None);
        };
        Ok(Some(Observed {
            record: Record::new(describe::id_of(&acl)?),
            properties: Properties::from([
                (&INGRESS, json!(names(&entries(&acl, Direction::Ingress)?))),
                (&EGRESS, json!(names(&entries(&acl, Direction::Egress)?))),
            ]),
        }))
    }

    async fn create(&self, _ctx: &Ctx) -> Result<Observed, Error> {
        Err(Error::resource(
            self.name(),
            "the VPC has no default network ACL; AWS creates one with every VPC, so the VPC is not usable",
        ))
    }

    async fn update(
        &self,
        ctx: &Ctx,
        _current: &Observed,
        changes: &[Change],
    ) -> Result<(), Error> {
        let acl = Self::describe(ctx)
            .await?
            .ok_or_else(|| Error::resource(self.name(), "disappeared while being locked down"))?;
        for change in changes {
            let direction = match change.property {
                p if p == &INGRESS => Direction::Ingress,
                p if p == &EGRESS => Direction::Egress,
                _ => return Err(unchangeable(self.name(), change)),
            };
            network_acl::converge(ctx, &acl, direction, &[]).await?;
        }
        Ok(())
    }

    async fn destroy(&self, _ctx: &Ctx, _current: &Observed) -> Result<(), Error> {
        // Deleted by AWS together with the VPC.
        Ok(())
    }
}
