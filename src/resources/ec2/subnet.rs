//! The four subnets: public and private, one of each per availability zone. None hands out
//! public IPs on launch; the public ones reach the internet only through the route table.

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, Subnet as SdkSubnet};
use serde_json::json;

use super::api::{self, tags_value};
use super::delete::delete;
use super::describe;
use crate::aws::{AwsError, AwsResultExt, Required};
use crate::context::Ctx;
use crate::control::{ACCESS, CONTINGENCY, Control, Severity, control};
use crate::error::Error;
use crate::logical::{Logical, Tier, Zone};
use crate::property::{Prop, Property, TAGS};
use crate::resource::{Change, Observed, Properties, Resource};
use crate::resources::common::desired_tags;
use crate::state::Record;

pub(crate) struct Subnet {
    tier: Tier,
    zone: Zone,
}

const PLACEMENT: Control = control(
    "Subnet placement as configured (VPC, CIDR, availability zone)",
    Severity::Medium,
    CONTINGENCY,
    "re-create the environment if the layout changed",
    Some("vpc_subnet_separate_private_public"),
    None,
);
static VPC_ID: Property = Property::fixed("vpc_id", PLACEMENT);
static CIDR: Property = Property::fixed("cidr_block", PLACEMENT);
static ZONE: Property = Property::fixed("availability_zone", PLACEMENT);
static MAP_PUBLIC_IP: Property = Property::in_place(
    "map_public_ip_on_launch",
    control(
        "Subnets do not hand out public IPs",
        Severity::High,
        ACCESS,
        "run `medtech up`",
        Some("vpc_subnet_no_public_ip_by_default"),
        Some("SUBNET_AUTO_MAP_PUBLIC_IP_DISABLED"),
    ),
);

impl Subnet {
    pub(crate) fn new(tier: Tier, zone: Zone) -> Self {
        Self { tier, zone }
    }

    fn aws_name(&self, ctx: &Ctx) -> String {
        ctx.names().subnet(self.tier, self.zone)
    }

    fn cidr(&self, ctx: &Ctx) -> String {
        let network = &ctx.settings.network;
        let pair = match self.tier {
            Tier::Public => &network.public_subnets,
            Tier::Private => &network.private_subnets,
        };
        pair[self.zone.index()].to_string()
    }

    /// The subnet as `operation` (a describe, or the create) reported it.
    fn observe(subnet: &SdkSubnet, operation: &'static str) -> Result<Observed, AwsError> {
        Ok(Observed {
            record: Record::new(subnet.subnet_id().required(operation, "SubnetId")?),
            properties: Properties::from([
                (&VPC_ID, json!(subnet.vpc_id())),
                (&CIDR, json!(subnet.cidr_block())),
                (&ZONE, json!(subnet.availability_zone())),
                (
                    &MAP_PUBLIC_IP,
                    json!(subnet.map_public_ip_on_launch().unwrap_or(false)),
                ),
                (&TAGS, tags_value(subnet.tags())),
            ]),
        })
    }
}

#[async_trait]
impl Resource for Subnet {
    fn name(&self) -> Logical {
        Logical::Subnet(self.tier, self.zone)
    }

    fn depends_on(&self) -> Vec<Logical> {
        vec![Logical::Vpc]
    }

    fn properties(&self) -> &'static [Prop] {
        const { &[&VPC_ID, &CIDR, &ZONE, &MAP_PUBLIC_IP, &TAGS] }
    }

    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error> {
        Ok(Properties::from([
            (&VPC_ID, json!(ctx.id_of(Logical::Vpc)?)),
            (&CIDR, json!(self.cidr(ctx))),
            (&ZONE, json!(ctx.zone(self.zone).await?)),
            (&MAP_PUBLIC_IP, json!(false)),
            (&TAGS, desired_tags(ctx, &self.aws_name(ctx))),
        ]))
    }

    async fn read(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        let name = self.aws_name(ctx);
        let observe = |subnet: &SdkSubnet| Self::observe(subnet, "ec2:DescribeSubnets");
        describe::read(ctx, self.name(), recorded, &name, observe).await
    }

    async fn create(&self, ctx: &Ctx) -> Result<Observed, Error> {
        let call = ctx
            .clients
            .ec2
            .create_subnet()
            .vpc_id(ctx.id_of(Logical::Vpc)?)
            .cidr_block(self.cidr(ctx))
            .availability_zone(ctx.zone(self.zone).await?);
        let out = api::create_once(ctx, call, &self.aws_name(ctx))
            .await
            .op("ec2:CreateSubnet")?;
        let subnet = out
            .subnet()
            .ok_or_else(|| AwsError::unexpected("ec2:CreateSubnet", "no subnet in the response"))?;
        let observed = Self::observe(subnet, "ec2:CreateSubnet")?;
        if observed.properties[&MAP_PUBLIC_IP] != json!(false) {
            self.update(
                ctx,
                &observed,
                &[Change {
                    property: &MAP_PUBLIC_IP,
                    observed: None,
                    desired: json!(false),
                }],
            )
            .await?;
        }
        Ok(observed)
    }

    async fn update(&self, ctx: &Ctx, current: &Observed, changes: &[Change]) -> Result<(), Error> {
        let (id, name) = (&current.record.id, self.aws_name(ctx));
        for change in changes {
            match change.property {
                p if p == &MAP_PUBLIC_IP => {
                    ctx.clients
                        .ec2
                        .modify_subnet_attribute()
                        .subnet_id(id)
                        .map_public_ip_on_launch(
                            AttributeBooleanValue::builder().value(false).build(),
                        )
                        .send()
                        .await
                        .op("ec2:ModifySubnetAttribute")?;
                }
                _ => api::retag_or_refuse(ctx, self.name(), id, &name, change).await?,
            }
        }
        Ok(())
    }

    async fn destroy(&self, ctx: &Ctx, current: &Observed) -> Result<(), Error> {
        delete::<SdkSubnet>(ctx, &current.record.id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subnet_described_without_its_id_is_an_error_not_an_empty_record() {
        let described = SdkSubnet::builder()
            .vpc_id("vpc-1")
            .cidr_block("10.0.1.0/24")
            .build();
        let text = match Subnet::observe(&described, "ec2:DescribeSubnets") {
            Ok(observed) => panic!(
                "recorded {:?} for a subnet without an id",
                observed.record.id
            ),
            Err(e) => e.to_string(),
        };
        assert!(text.contains("ec2:DescribeSubnets"), "{text}");
        assert!(text.contains("SubnetId"), "{text}");
    }
}
