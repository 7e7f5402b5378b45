//! The VPC's default network ACL, locked down: every entry deleted but the `*` ones, which deny
//! everything. AWS creates it with the VPC and deletes it with the VPC; medtech only strips
//! its entries, so that a subnet that falls back to it (created by hand, or moved off its
//! tier's ACL) gets no traffic at all instead of all of it. Locked only once both tiers' ACLs
//! hold their subnets: until then the stack's subnets use this one.

use std::marker::PhantomData;

use async_trait::async_trait;
use aws_sdk_ec2::types::NetworkAcl;

use super::lockdown::{Defaulted, Lockdown};
use super::network_acl::{self, default_acl, entries, names};
use super::sg_rules::Direction;
use crate::context::Ctx;
use crate::control::{ACCESS, Control, Severity, control};
use crate::error::Error;
use crate::logical::{Logical, Tier};
use crate::property::{Prop, Property};
use crate::resource::{Change, Observed, Properties, Resource};
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

static LOCKDOWN: Lockdown<NetworkAcl> = Lockdown {
    resource: Logical::DefaultNetworkAcl,
    ingress: &INGRESS,
    egress: &EGRESS,
    kind: PhantomData,
};

impl Defaulted for NetworkAcl {
    async fn default_of(ctx: &Ctx, vpc: &str) -> Result<Option<Self>, Error> {
        default_acl(ctx, vpc).await
    }

    fn rule_names(&self, direction: Direction) -> Result<Vec<String>, Error> {
        Ok(names(&entries(self, direction)?))
    }

    async fn strip(&self, ctx: &Ctx, direction: Direction) -> Result<(), Error> {
        network_acl::converge(ctx, self, direction, &[]).await
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
        Ok(LOCKDOWN.desired())
    }

    async fn read(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        LOCKDOWN.read(ctx, recorded).await
    }

    async fn create(&self, _ctx: &Ctx) -> Result<Observed, Error> {
        Err(LOCKDOWN.missing())
    }

    async fn update(
        &self,
        ctx: &Ctx,
        _current: &Observed,
        changes: &[Change],
    ) -> Result<(), Error> {
        LOCKDOWN.update(ctx, changes).await
    }

    async fn destroy(&self, _ctx: &Ctx, _current: &Observed) -> Result<(), Error> {
        // Deleted by AWS together with the VPC.
        Ok(())
    }
}
