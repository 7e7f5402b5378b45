//! The VPC's default network ACL, locked down: every entry deleted but the `*` ones, which deny
//! everything. AWS creates it with the VPC and deletes it with the VPC; medtech only strips
//! its entries, so that a subnet that falls back to it (created by hand, or moved off its
//! tier's ACL) gets no traffic at all instead of all of it.

use aws_sdk_ec2::types::NetworkAcl;

use super::lockdown::{Defaulted, Lockdown};
use super::network_acl::{self, default_acl, entries, names};
use super::sg_rules::Direction;
use crate::context::Ctx;
use crate::control::{ACCESS, Control, Severity, control};
use crate::error::Error;
use crate::logical::{Logical, Tier};

pub(crate) type DefaultNetworkAcl = Lockdown<NetworkAcl>;

impl Defaulted for NetworkAcl {
    const RESOURCE: Logical = Logical::DefaultNetworkAcl;
    // Locked only once both tiers' ACLs hold their subnets: until then the stack's subnets use
    // this one.
    const DEPENDS_ON: &'static [Logical] = &[
        Logical::Vpc,
        Logical::NetworkAcl(Tier::Public),
        Logical::NetworkAcl(Tier::Private),
    ];
    const CLOSED: Control = control(
        "The VPC's default network ACL allows no traffic (only its `*` deny entries remain)",
        Severity::High,
        ACCESS,
        "run `medtech up` to delete its entries",
        Some("ec2_networkacl_allow_ingress_any_port"),
        None,
    );

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
