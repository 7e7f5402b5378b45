//! The VPC: CIDR from config, DNS support and hostnames on (interface endpoints with private
//! DNS need both).

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, Vpc as SdkVpc, VpcAttributeName};
use serde_json::json;

use super::api::{self, tags_value};
use super::delete::delete;
use super::describe;
use crate::aws::AwsResultExt;
use crate::context::Ctx;
use crate::control::{ACCESS, Control, Severity, TRANSMISSION, control};
use crate::error::Error;
use crate::logical::Logical;
use crate::property::{Prop, Property, TAGS};
use crate::resource::{Change, Observed, Properties, Resource};
use crate::resources::common::desired_tags;
use crate::state::Record;

pub(crate) struct Vpc;

static CIDR: Property = Property::fixed(
    "cidr_block",
    control(
        "VPC address range as configured",
        Severity::Medium,
        ACCESS,
        "the CIDR cannot change in place: revert the config or re-create",
        None,
        None,
    ),
);
const DNS: Control = control(
    "VPC DNS support and hostnames on (private endpoints need both)",
    Severity::Medium,
    TRANSMISSION,
    "run `medtech up`",
    None,
    None,
);
static DNS_SUPPORT: Property = Property::in_place("enable_dns_support", DNS);
static DNS_HOSTNAMES: Property = Property::in_place("enable_dns_hostnames", DNS);

impl Vpc {
    async fn dns_attribute(
        ctx: &Ctx,
        id: &str,
        attribute: VpcAttributeName,
    ) -> Result<bool, Error> {
        let hostnames = attribute == VpcAttributeName::EnableDnsHostnames;
        let out = ctx
            .clients
            .ec2
            .describe_vpc_attribute()
            .vpc_id(id)
            .attribute(attribute)
            .send()
            .await
            .op("ec2:DescribeVpcAttribute")?;
        let value = if hostnames {
            out.enable_dns_hostnames()
        } else {
            out.enable_dns_support()
        };
        Ok(value
            .and_then(AttributeBooleanValue::value)
            .unwrap_or(false))
    }

    async fn enable_dns(ctx: &Ctx, id: &str, property: Prop) -> Result<(), Error> {
        let on = AttributeBooleanValue::builder().value(true).build();
        // One attribute per call: the API refuses both at once.
        let call = ctx.clients.ec2.modify_vpc_attribute().vpc_id(id);
        let call = if property == &DNS_HOSTNAMES {
            call.enable_dns_hostnames(on)
        } else {
            call.enable_dns_support(on)
        };
        call.send().await.op("ec2:ModifyVpcAttribute")?;
        Ok(())
    }

    async fn observe(ctx: &Ctx, vpc: &SdkVpc) -> Result<Observed, Error> {
        let id = describe::id_of(vpc)?;
        // Independent reads: side by side, since every dependent of the VPC waits for them.
        let (support, hostnames) = tokio::try_join!(
            Self::dns_attribute(ctx, id, VpcAttributeName::EnableDnsSupport),
            Self::dns_attribute(ctx, id, VpcAttributeName::EnableDnsHostnames),
        )?;
        Ok(Observed {
            record: Record::new(id),
            properties: Properties::from([
                (&CIDR, json!(vpc.cidr_block())),
                (&DNS_SUPPORT, json!(support)),
                (&DNS_HOSTNAMES, json!(hostnames)),
                (&TAGS, tags_value(vpc.tags())),
            ]),
        })
    }
}

#[async_trait]
impl Resource for Vpc {
    fn name(&self) -> Logical {
        Logical::Vpc
    }

    fn depends_on(&self) -> Vec<Logical> {
        vec![]
    }

    fn properties(&self) -> &'static [Prop] {
        const { &[&CIDR, &DNS_SUPPORT, &DNS_HOSTNAMES, &TAGS] }
    }

    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error> {
        Ok(Properties::from([
            (&CIDR, json!(ctx.settings.network.vpc_cidr.to_string())),
            (&DNS_SUPPORT, json!(true)),
            (&DNS_HOSTNAMES, json!(true)),
            (&TAGS, desired_tags(ctx, &ctx.names().vpc())),
        ]))
    }

    async fn read(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        let found = describe::find(ctx, self.name(), recorded, &ctx.names().vpc()).await?;
        match found {
            Some(vpc) => Ok(Some(Self::observe(ctx, &vpc).await?)),
            None => Ok(None),
        }
    }

    async fn create(&self, ctx: &Ctx) -> Result<Observed, Error> {
        let call = ctx.clients.ec2.create_vpc();
        let call = call.cidr_block(ctx.settings.network.vpc_cidr.to_string());
        let out = api::create_once(ctx, call, &ctx.names().vpc())
            .await
            .op("ec2:CreateVpc")?;
        let id = out.vpc().and_then(SdkVpc::vpc_id);
        let record = api::record_created(ctx, self.name(), "ec2:CreateVpc", id, "VPC id")?;
        Self::enable_dns(ctx, &record.id, &DNS_SUPPORT).await?;
        Self::enable_dns(ctx, &record.id, &DNS_HOSTNAMES).await?;
        self.read_back(ctx, Some(&record)).await
    }

    async fn update(&self, ctx: &Ctx, current: &Observed, changes: &[Change]) -> Result<(), Error> {
        let (id, name) = (&current.record.id, ctx.names().vpc());
        for change in changes {
            match change.property {
                p if p == &DNS_SUPPORT || p == &DNS_HOSTNAMES => {
                    Self::enable_dns(ctx, id, change.property).await?;
                }
                _ => api::retag_or_refuse(ctx, self.name(), id, &name, change).await?,
            }
        }
        Ok(())
    }

    async fn destroy(&self, ctx: &Ctx, current: &Observed) -> Result<(), Error> {
        delete::<SdkVpc>(ctx, &current.record.id).await
    }
}
