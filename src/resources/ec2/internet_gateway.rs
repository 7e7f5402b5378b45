//! The internet gateway, attached to the VPC; the public route table's default route.

use async_trait::async_trait;
use aws_sdk_ec2::types::InternetGateway as SdkGateway;
use serde_json::{Value, json};

use super::api::{self, tags_value};
use super::delete::delete;
use super::describe;
use crate::aws::{AwsError, AwsResultExt};
use crate::context::Ctx;
use crate::control::{Severity, TRANSMISSION, control};
use crate::error::Error;
use crate::logical::Logical;
use crate::property::{Prop, Property, TAGS};
use crate::resource::{Change, Observed, Properties, Resource};
use crate::resources::common::{desired_tags, gone};
use crate::state::Record;

pub(crate) struct InternetGateway;

/// In place only from detached: `update` refuses to move it from another VPC.
static ATTACHED_VPC: Property = Property::in_place(
    "attached_vpc",
    control(
        "Internet gateway attached to the VPC",
        Severity::Low,
        TRANSMISSION,
        "run `medtech up`",
        None,
        None,
    ),
);

impl InternetGateway {
    fn observe(gateway: &SdkGateway) -> Result<Observed, AwsError> {
        let attached: Vec<&str> = gateway
            .attachments()
            .iter()
            .filter_map(|a| a.vpc_id())
            .collect();
        Ok(Observed {
            record: Record::new(describe::id_of(gateway)?),
            properties: Properties::from([
                (
                    &ATTACHED_VPC,
                    attached.first().map_or(Value::Null, |v| json!(v)),
                ),
                (&TAGS, tags_value(gateway.tags())),
            ]),
        })
    }

    async fn attach(ctx: &Ctx, id: &str) -> Result<(), Error> {
        let result = ctx
            .clients
            .ec2
            .attach_internet_gateway()
            .internet_gateway_id(id)
            .vpc_id(ctx.id_of(Logical::Vpc)?)
            .send()
            .await
            .op("ec2:AttachInternetGateway");
        api::already_done(result)
    }
}

#[async_trait]
impl Resource for InternetGateway {
    fn name(&self) -> Logical {
        Logical::InternetGateway
    }

    fn depends_on(&self) -> Vec<Logical> {
        vec![Logical::Vpc]
    }

    fn properties(&self) -> &'static [Prop] {
        const { &[&ATTACHED_VPC, &TAGS] }
    }

    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error> {
        Ok(Properties::from([
            (&ATTACHED_VPC, json!(ctx.id_of(Logical::Vpc)?)),
            (&TAGS, desired_tags(ctx, &ctx.names().igw())),
        ]))
    }

    async fn read(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        let name = ctx.names().igw();
        describe::read(ctx, self.name(), recorded, &name, Self::observe).await
    }

    async fn create(&self, ctx: &Ctx) -> Result<Observed, Error> {
        let call = ctx.clients.ec2.create_internet_gateway();
        let out = api::create_once(ctx, call, &ctx.names().igw())
            .await
            .op("ec2:CreateInternetGateway")?;
        let id = out
            .internet_gateway()
            .and_then(SdkGateway::internet_gateway_id);
        let operation = "ec2:CreateInternetGateway";
        let record = api::record_created(ctx, self.name(), operation, id, "gateway id")?;
        Self::attach(ctx, &record.id).await?;
        self.read_back(ctx, Some(&record)).await
    }

    async fn update(&self, ctx: &Ctx, current: &Observed, changes: &[Change]) -> Result<(), Error> {
        let (id, name) = (&current.record.id, ctx.names().igw());
        for change in changes {
            match change.property {
                // Attached elsewhere would mean detaching another VPC's gateway: refuse.
                p if p == &ATTACHED_VPC && change.observed.as_ref().is_none_or(Value::is_null) => {
                    Self::attach(ctx, id).await?;
                }
                _ => api::retag_or_refuse(ctx, self.name(), id, &name, change).await?,
            }
        }
        Ok(())
    }

    async fn destroy(&self, ctx: &Ctx, current: &Observed) -> Result<(), Error> {
        let (ec2, id) = (&ctx.clients.ec2, &current.record.id);
        if let Some(vpc) = current
            .properties
            .get(&ATTACHED_VPC)
            .and_then(Value::as_str)
        {
            // DependencyViolation here means a NAT gateway's address is still mapped; the
            // engine retries until the NAT gateway's deletion completes.
            let detach = ec2.detach_internet_gateway().vpc_id(vpc);
            let detached = detach.internet_gateway_id(id).send().await;
            gone(detached.op("ec2:DetachInternetGateway"))?;
        }
        delete::<SdkGateway>(ctx, id).await
    }
}
