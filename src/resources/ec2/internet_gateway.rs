//! The internet gateway, attached to the VPC; the public route table's default route.

use async_trait::async_trait;
use aws_sdk_ec2::types::{InternetGateway as SdkGateway, ResourceType};
use serde_json::{Value, json};

use super::api::{self, no_retry, tags_value};
use crate::aws::{AwsError, AwsResultExt, ErrorKind};
use crate::context::Ctx;
use crate::error::Error;
use crate::logical::Logical;
use crate::resource::{Change, Observed, Properties, Resource};
use crate::resources::common::{Lookup, Required, cannot_change, desired_tags, find, gone};
use crate::state::Record;

pub(crate) struct InternetGateway;

impl InternetGateway {
    fn observe(gateway: &SdkGateway) -> Result<Observed, AwsError> {
        let attached: Vec<&str> = gateway
            .attachments()
            .iter()
            .filter_map(|a| a.vpc_id())
            .collect();
        let id = gateway
            .internet_gateway_id()
            .required("ec2:DescribeInternetGateways", "InternetGatewayId")?;
        Ok(Observed {
            record: Record::new(id),
            properties: Properties::from([
                (
                    "attached_vpc",
                    attached.first().map_or(Value::Null, |v| json!(v)),
                ),
                ("tags", tags_value(gateway.tags())),
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
        match result {
            // A retried attach whose first response was lost.
            Err(e) if e.is(ErrorKind::AlreadyExists) => Ok(()),
            other => other.map(drop).map_err(Error::from),
        }
    }
}

#[async_trait]
impl Resource for InternetGateway {
    fn name(&self) -> Logical {
        Logical::InternetGateway
    }

    fn kind(&self) -> &'static str {
        "internet_gateway"
    }

    fn depends_on(&self) -> Vec<Logical> {
        vec![Logical::Vpc]
    }

    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error> {
        Ok(Properties::from([
            ("attached_vpc", json!(ctx.id_of(Logical::Vpc)?)),
            ("tags", desired_tags(ctx, &ctx.names().igw())),
        ]))
    }

    async fn read(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        let found = find(
            self.name(),
            "internet gateway",
            recorded,
            &ctx.names().igw(),
            |lookup| async move {
                let call = ctx.clients.ec2.describe_internet_gateways();
                let call = match &lookup {
                    Lookup::Id(id) => call.internet_gateway_ids(id),
                    Lookup::Name(_) => call.set_filters(Some(api::lookup_filters(
                        &lookup,
                        ctx,
                        "internet-gateway-id",
                    ))),
                };
                let out = call.send().await.op("ec2:DescribeInternetGateways")?;
                out.internet_gateways()
                    .iter()
                    .map(|g| {
                        let id = g
                            .internet_gateway_id()
                            .required("ec2:DescribeInternetGateways", "InternetGatewayId")?;
                        Ok((id.to_owned(), g.clone()))
                    })
                    .collect()
            },
        )
        .await?;
        Ok(found
            .map(|(_, gateway)| Self::observe(&gateway))
            .transpose()?)
    }

    async fn create(&self, ctx: &Ctx) -> Result<Observed, Error> {
        let out = ctx
            .clients
            .ec2
            .create_internet_gateway()
            .tag_specifications(api::tag_spec(
                ctx,
                ResourceType::InternetGateway,
                &ctx.names().igw(),
            ))
            .customize()
            .config_override(no_retry())
            .send()
            .await
            .op("ec2:CreateInternetGateway")?;
        let id = out
            .internet_gateway()
            .and_then(SdkGateway::internet_gateway_id)
            .ok_or_else(|| {
                AwsError::unexpected("ec2:CreateInternetGateway", "no gateway id in the response")
            })?
            .to_owned();
        let record = Record::new(&id);
        ctx.set_record(self.name(), record.clone())?;
        Self::attach(ctx, &id).await?;
        self.read_back(ctx, Some(&record)).await
    }

    async fn update(&self, ctx: &Ctx, current: &Observed, changes: &[Change]) -> Result<(), Error> {
        for change in changes {
            match change.property {
                // Attached elsewhere would mean detaching another VPC's gateway: refuse.
                "attached_vpc" if change.observed.as_ref().is_none_or(Value::is_null) => {
                    Self::attach(ctx, &current.record.id).await?;
                }
                "tags" => api::retag(ctx, &current.record.id, &ctx.names().igw()).await?,
                other => {
                    return Err(cannot_change(
                        self.name(),
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
        if let Some(vpc) = current
            .properties
            .get("attached_vpc")
            .and_then(Value::as_str)
        {
            // DependencyViolation here means a NAT gateway's address is still mapped; the
            // engine retries until the NAT gateway's deletion completes.
            gone(
                ctx.clients
                    .ec2
                    .detach_internet_gateway()
                    .internet_gateway_id(&current.record.id)
                    .vpc_id(vpc)
                    .send()
                    .await
                    .op("ec2:DetachInternetGateway"),
            )?;
        }
        gone(
            ctx.clients
                .ec2
                .delete_internet_gateway()
                .internet_gateway_id(&current.record.id)
                .send()
                .await
                .op("ec2:DeleteInternetGateway"),
        )
    }
}
