//! The NAT gateway's Elastic IP. Released only after the NAT gateway is gone: AWS refuses to
//! release an address that is still mapped.

use async_trait::async_trait;
use aws_sdk_ec2::types::{Address, DomainType, ResourceType};
use serde_json::json;

use super::common::{Lookup, cannot_change, desired_tags, find, gone};
use super::ec2::{self, no_retry, tags_value};
use crate::aws::{AwsError, AwsResultExt};
use crate::context::Ctx;
use crate::error::Error;
use crate::resource::{Change, Observed, Properties, Resource};
use crate::state::Record;

pub struct ElasticIp;

impl ElasticIp {
    pub const NAME: &'static str = "nat-eip";

    fn observe(address: &Address) -> Observed {
        Observed {
            record: Record::new(address.allocation_id().unwrap_or_default())
                .with("public_ip", address.public_ip().unwrap_or_default()),
            properties: Properties::from([
                ("domain", json!(address.domain().map(DomainType::as_str))),
                ("tags", tags_value(address.tags())),
            ]),
        }
    }
}

#[async_trait]
impl Resource for ElasticIp {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn kind(&self) -> &'static str {
        "elastic_ip"
    }

    fn depends_on(&self) -> Vec<&'static str> {
        vec![]
    }

    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error> {
        Ok(Properties::from([
            ("domain", json!("vpc")),
            ("tags", desired_tags(ctx, &ctx.names().nat_eip())),
        ]))
    }

    async fn read(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        let found = find(
            self.name(),
            "Elastic IP",
            recorded,
            &ctx.names().nat_eip(),
            |lookup| async move {
                let call = ctx.clients.ec2.describe_addresses();
                let call = match &lookup {
                    Lookup::Id(id) => call.allocation_ids(id),
                    Lookup::Name(_) => {
                        call.set_filters(Some(ec2::lookup_filters(&lookup, ctx, "allocation-id")))
                    }
                };
                let out = call.send().await.op("ec2:DescribeAddresses")?;
                Ok(out
                    .addresses()
                    .iter()
                    .map(|a| (a.allocation_id().unwrap_or_default().to_owned(), a.clone()))
                    .collect())
            },
        )
        .await?;
        Ok(found.map(|(_, address)| Self::observe(&address)))
    }

    async fn create(&self, ctx: &Ctx) -> Result<Observed, Error> {
        let out = ctx
            .clients
            .ec2
            .allocate_address()
            .domain(DomainType::Vpc)
            .tag_specifications(ec2::tag_spec(
                ctx,
                ResourceType::ElasticIp,
                &ctx.names().nat_eip(),
            ))
            .customize()
            .config_override(no_retry())
            .send()
            .await
            .op("ec2:AllocateAddress")?;
        let id = out.allocation_id().ok_or_else(|| {
            AwsError::unexpected("ec2:AllocateAddress", "no allocation id in the response")
        })?;
        let record = Record::new(id).with("public_ip", out.public_ip().unwrap_or_default());
        ctx.set_record(self.name(), record.clone())?;
        self.read_back(ctx, Some(&record)).await
    }

    async fn update(&self, ctx: &Ctx, current: &Observed, changes: &[Change]) -> Result<(), Error> {
        for change in changes {
            match change.property {
                "tags" => ec2::retag(ctx, &current.record.id, &ctx.names().nat_eip()).await?,
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
        gone(
            ctx.clients
                .ec2
                .release_address()
                .allocation_id(&current.record.id)
                .send()
                .await
                .op("ec2:ReleaseAddress"),
        )
    }
}
