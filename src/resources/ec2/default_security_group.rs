//! The VPC's default security group, locked down: no ingress, no egress. AWS creates it with
//! the VPC and deletes it with the VPC; medtech only strips its rules, so that anything
//! launched without an explicit group gets no network access (CIS 5.4, HIPAA Config rule
//! `VPC_DEFAULT_SECURITY_GROUP_CLOSED`).

use std::marker::PhantomData;

use async_trait::async_trait;
use aws_sdk_ec2::types::SecurityGroup;

use super::api::filter;
use super::describe;
use super::lockdown::{Defaulted, Lockdown};
use super::sg_rules::{self, Direction, rule_names};
use crate::context::Ctx;
use crate::control::{ACCESS, Control, Severity, control};
use crate::error::Error;
use crate::logical::Logical;
use crate::property::{Prop, Property};
use crate::resource::{Change, Observed, Properties, Resource};
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

static LOCKDOWN: Lockdown<SecurityGroup> = Lockdown {
    resource: Logical::DefaultSecurityGroup,
    ingress: &INGRESS,
    egress: &EGRESS,
    kind: PhantomData,
};

impl Defaulted for SecurityGroup {
    async fn default_of(ctx: &Ctx, vpc: &str) -> Result<Option<Self>, Error> {
        let filters = vec![filter("vpc-id", vpc), filter("group-name", "default")];
        let found = describe::filtered(ctx, filters).await?;
        Ok(found.into_iter().next())
    }

    fn rule_names(&self, direction: Direction) -> Result<Vec<String>, Error> {
        Ok(rule_names(self, direction)?)
    }

    async fn strip(&self, ctx: &Ctx, direction: Direction) -> Result<(), Error> {
        sg_rules::converge(ctx, self, direction, &[]).await
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
