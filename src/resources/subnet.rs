//! The four subnets: public and private, one of each per availability zone. None hands out
//! public IPs on launch; the public ones reach the internet only through the route table.

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, Subnet as SdkSubnet};
use serde_json::json;

use super::common::{Lookup, cannot_change, desired_tags, find, gone};
use super::ec2::{self, no_retry, tags_value};
use super::vpc::Vpc;
use crate::aws::{AwsError, AwsResultExt};
use crate::context::Ctx;
use crate::error::Error;
use crate::naming::Zone;
use crate::resource::{Change, Observed, Properties, Resource};
use crate::state::Record;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    Public,
    Private,
}

pub struct Subnet {
    tier: Tier,
    zone: Zone,
    name: &'static str,
}

impl Subnet {
    pub const PUBLIC: [&'static str; 2] = ["public-subnet-a", "public-subnet-b"];
    pub const PRIVATE: [&'static str; 2] = ["private-subnet-a", "private-subnet-b"];

    pub fn new(tier: Tier, zone: Zone) -> Self {
        let names = match tier {
            Tier::Public => Self::PUBLIC,
            Tier::Private => Self::PRIVATE,
        };
        Self {
            tier,
            zone,
            name: names[zone.index()],
        }
    }

    fn aws_name(&self, ctx: &Ctx) -> String {
        match self.tier {
            Tier::Public => ctx.names().public_subnet(self.zone),
            Tier::Private => ctx.names().private_subnet(self.zone),
        }
    }

    fn cidr(&self, ctx: &Ctx) -> String {
        let network = &ctx.settings.network;
        let pair = match self.tier {
            Tier::Public => &network.public_subnets,
            Tier::Private => &network.private_subnets,
        };
        pair[self.zone.index()].to_string()
    }

    fn observe(subnet: &SdkSubnet) -> Observed {
        Observed {
            record: Record::new(subnet.subnet_id().unwrap_or_default()),
            properties: Properties::from([
                ("vpc_id", json!(subnet.vpc_id())),
                ("cidr_block", json!(subnet.cidr_block())),
                ("availability_zone", json!(subnet.availability_zone())),
                (
                    "map_public_ip_on_launch",
                    json!(subnet.map_public_ip_on_launch().unwrap_or(false)),
                ),
                ("tags", tags_value(subnet.tags())),
            ]),
        }
    }
}

#[async_trait]
impl Resource for Subnet {
    fn name(&self) -> &str {
        self.name
    }

    fn kind(&self) -> &'static str {
        "subnet"
    }

    fn depends_on(&self) -> Vec<&'static str> {
        vec![Vpc::NAME]
    }

    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error> {
        Ok(Properties::from([
            ("vpc_id", json!(ctx.id_of(Vpc::NAME)?)),
            ("cidr_block", json!(self.cidr(ctx))),
            ("availability_zone", json!(ctx.zone(self.zone).await?)),
            ("map_public_ip_on_launch", json!(false)),
            ("tags", desired_tags(ctx, &self.aws_name(ctx))),
        ]))
    }

    async fn read(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        if let Some(subnet) = ec2::listed_subnet(ctx, recorded).await? {
            return Ok(Some(Self::observe(&subnet)));
        }
        let found = find(
            self.name,
            "subnet",
            recorded,
            &self.aws_name(ctx),
            |lookup| async move {
                let call = ctx.clients.ec2.describe_subnets();
                let call = match &lookup {
                    Lookup::Id(id) => call.subnet_ids(id),
                    Lookup::Name(_) => {
                        call.set_filters(Some(ec2::lookup_filters(&lookup, ctx, "subnet-id")))
                    }
                };
                let out = call.send().await.op("ec2:DescribeSubnets")?;
                Ok(out
                    .subnets()
                    .iter()
                    .map(|s| (s.subnet_id().unwrap_or_default().to_owned(), s.clone()))
                    .collect())
            },
        )
        .await?;
        Ok(found.map(|(_, subnet)| Self::observe(&subnet)))
    }

    async fn create(&self, ctx: &Ctx) -> Result<Observed, Error> {
        let out = ctx
            .clients
            .ec2
            .create_subnet()
            .vpc_id(ctx.id_of(Vpc::NAME)?)
            .cidr_block(self.cidr(ctx))
            .availability_zone(ctx.zone(self.zone).await?)
            .tag_specifications(ec2::tag_spec(
                ctx,
                ResourceType::Subnet,
                &self.aws_name(ctx),
            ))
            .customize()
            .config_override(no_retry())
            .send()
            .await
            .op("ec2:CreateSubnet")?;
        let subnet = out
            .subnet()
            .ok_or_else(|| AwsError::unexpected("ec2:CreateSubnet", "no subnet in the response"))?;
        let observed = Self::observe(subnet);
        if observed.properties["map_public_ip_on_launch"] != json!(false) {
            self.update(
                ctx,
                &observed,
                &[Change {
                    property: "map_public_ip_on_launch",
                    observed: None,
                    desired: json!(false),
                }],
            )
            .await?;
        }
        Ok(observed)
    }

    async fn update(&self, ctx: &Ctx, current: &Observed, changes: &[Change]) -> Result<(), Error> {
        for change in changes {
            match change.property {
                "map_public_ip_on_launch" => {
                    ctx.clients
                        .ec2
                        .modify_subnet_attribute()
                        .subnet_id(&current.record.id)
                        .map_public_ip_on_launch(
                            AttributeBooleanValue::builder().value(false).build(),
                        )
                        .send()
                        .await
                        .op("ec2:ModifySubnetAttribute")?;
                }
                "tags" => ec2::retag(ctx, &current.record.id, &self.aws_name(ctx)).await?,
                other => {
                    return Err(cannot_change(
                        self.name,
                        other,
                        change.observed.as_ref(),
                        &change.desired,
                    ));
                }
            }
        }
        Ok(())
    }

    async fn destroy(&self, ctx: &Ctx, current: &Observed) -> Result<(), Error> {
        gone(
            ctx.clients
                .ec2
                .delete_subnet()
                .subnet_id(&current.record.id)
                .send()
                .await
                .op("ec2:DeleteSubnet"),
        )
    }
}
