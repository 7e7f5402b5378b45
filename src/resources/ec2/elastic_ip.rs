//! The NAT gateway's Elastic IP. Released only after the NAT gateway is gone: AWS refuses to
//! release an address that is still mapped, and for a while after the gateway is `deleted` it
//! answers `AuthFailure` for the address it held.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_ec2::types::{Address, DomainType};
use serde_json::json;

use super::api::{self, tags_value};
use super::delete::Deleted;
use super::describe;
use crate::aws::{AwsError, AwsResultExt, Required};
use crate::context::Ctx;
use crate::control::{ACCESS, Severity, control};
use crate::error::Error;
use crate::logical::Logical;
use crate::property::{Prop, Property, TAGS};
use crate::resource::{Change, Observed, Properties, Resource};
use crate::resources::common::{desired_tags, gone};
use crate::state::Record;

pub(crate) struct ElasticIp;

static DOMAIN: Property = Property::fixed(
    "domain",
    control(
        "NAT address allocated in the VPC",
        Severity::Low,
        ACCESS,
        "run `medtech up`",
        Some("ec2_elastic_ip_unassigned"),
        Some("EIP_ATTACHED"),
    ),
);

/// How long EC2 may keep answering `AuthFailure` for the address of a NAT gateway that is
/// already `deleted`. Not documented; terraform-provider-aws retries for minutes.
const RELEASE_AFTER_NAT: Duration = Duration::from_secs(600);
const RELEASE_PAUSE: Duration = Duration::from_secs(5);

impl ElasticIp {
    fn observe(address: &Address) -> Result<Observed, AwsError> {
        const OP: &str = "ec2:DescribeAddresses";
        Ok(Observed {
            record: Record::new(address.allocation_id().required(OP, "AllocationId")?)
                .with("public_ip", address.public_ip().required(OP, "PublicIp")?),
            properties: Properties::from([
                (&DOMAIN, json!(address.domain().map(DomainType::as_str))),
                (&TAGS, tags_value(address.tags())),
            ]),
        })
    }
}

impl ElasticIp {
    /// Whether the account holds the address and it is mapped to something: `None` when it is
    /// gone.
    async fn mapping(ctx: &Ctx, id: &str) -> Result<Option<bool>, Error> {
        let address: Option<Address> = describe::by_id(ctx, id).await?;
        Ok(address.map(|a| a.association_id().is_some() || a.network_interface_id().is_some()))
    }
}

#[async_trait]
impl Resource for ElasticIp {
    fn name(&self) -> Logical {
        Logical::NatEip
    }

    fn depends_on(&self) -> Vec<Logical> {
        vec![]
    }

    fn properties(&self) -> &'static [Prop] {
        const { &[&DOMAIN, &TAGS] }
    }

    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error> {
        Ok(Properties::from([
            (&DOMAIN, json!("vpc")),
            (&TAGS, desired_tags(ctx, &ctx.names().nat_eip())),
        ]))
    }

    async fn read(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        let name = ctx.names().nat_eip();
        describe::read(ctx, self.name(), recorded, &name, Self::observe).await
    }

    async fn create(&self, ctx: &Ctx) -> Result<Observed, Error> {
        let call = ctx.clients.ec2.allocate_address().domain(DomainType::Vpc);
        let out = api::create_once(ctx, call, &ctx.names().nat_eip())
            .await
            .op("ec2:AllocateAddress")?;
        let id = out
            .allocation_id()
            .required("ec2:AllocateAddress", "AllocationId")?;
        let public_ip = out
            .public_ip()
            .required("ec2:AllocateAddress", "PublicIp")?;
        let record = Record::new(id).with("public_ip", public_ip);
        ctx.set_record(self.name(), record.clone())?;
        self.read_back(ctx, Some(&record)).await
    }

    async fn update(&self, ctx: &Ctx, current: &Observed, changes: &[Change]) -> Result<(), Error> {
        let name = ctx.names().nat_eip();
        api::only_tags(ctx, self.name(), &current.record.id, &name, changes).await
    }

    async fn destroy(&self, ctx: &Ctx, current: &Observed) -> Result<(), Error> {
        let id = &current.record.id;
        let started = Instant::now();
        loop {
            let released = Address::delete(ctx, id).await;
            let Err(e) = released else {
                return Ok(());
            };
            if e.code.as_deref() != Some("AuthFailure") {
                return gone::<()>(Err(e));
            }
            // AuthFailure also means bad credentials. The same credentials describing the
            // address, unmapped, prove they are fine: EC2 is still freeing it from the NAT
            // gateway. Anything else is the credentials error it says it is.
            match Self::mapping(ctx, id).await? {
                None => return Ok(()),
                Some(false) if started.elapsed() < ctx.scaled(RELEASE_AFTER_NAT) => {
                    ctx.status(
                        self.name(),
                        "EC2 is still freeing the address from the deleted NAT gateway",
                    );
                    ctx.pause(RELEASE_PAUSE).await?;
                }
                Some(_) => return Err(e.into()),
            }
        }
    }
}
