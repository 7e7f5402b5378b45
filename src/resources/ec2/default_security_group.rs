//! The VPC's default security group, locked down: no ingress, no egress. AWS creates it with
//! the VPC and deletes it with the VPC; medtech only strips its rules, so that anything
//! launched without an explicit group gets no network access (CIS 5.4, HIPAA Config rule
//! `VPC_DEFAULT_SECURITY_GROUP_CLOSED`).

use aws_sdk_ec2::types::SecurityGroup;

use super::api::filter;
use super::describe;
use super::lockdown::{Defaulted, Lockdown};
use super::sg_rules::{self, Direction, rule_names};
use crate::context::Ctx;
use crate::control::{ACCESS, Control, Severity, control};
use crate::error::Error;
use crate::logical::Logical;

pub(crate) type DefaultSecurityGroup = Lockdown<SecurityGroup>;

impl Defaulted for SecurityGroup {
    const RESOURCE: Logical = Logical::DefaultSecurityGroup;
    const DEPENDS_ON: &'static [Logical] = &[Logical::Vpc];
    const CLOSED: Control = control(
        "The VPC's default security group allows no traffic",
        Severity::High,
        ACCESS,
        "run `medtech up` to revoke its rules",
        Some("ec2_securitygroup_default_restrict_traffic"),
        Some("VPC_DEFAULT_SECURITY_GROUP_CLOSED"),
    );

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
