//! The NAT gateway in public subnet a, giving the private subnets outbound access. Creation
//! carries an idempotency token; deleted gateways stay listed for about an hour, so every
//! lookup filters by state and checks tags on this side as well.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    ConnectivityType, Filter, NatGateway as SdkNat, NatGatewayState, ResourceType,
};
use serde_json::json;

use super::api::{self, is_ours, tags_value};
use super::delete::delete;
use super::describe::{self, Described};
use crate::aws::{AwsError, AwsResultExt};
use crate::context::Ctx;
use crate::control::{ACCESS, Control, Severity, control};
use crate::error::Error;
use crate::logical::{Logical, Tier, Zone};
use crate::property::{Prop, Property, TAGS};
use crate::resource::{Change, Observed, Properties, Resource, Transition};
use crate::resources::common::{Lookup, desired_tags, find};
use crate::resources::wait::{Pace, Waiter};
use crate::state::Record;

/// Real NAT gateways take 1–5 minutes to become available and about as long to delete.
const TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// One to two minutes to create, about one to delete.
const USUAL_CREATE: Duration = Duration::from_secs(90);
const USUAL_DELETE: Duration = Duration::from_secs(60);

pub(crate) struct NatGateway;

const PLACED: Control = control(
    "NAT gateway in public subnet a, available",
    Severity::Medium,
    ACCESS,
    "run `medtech up`",
    None,
    None,
);
static SUBNET: Property = Property::fixed("subnet_id", PLACED);
static ALLOCATION: Property = Property::fixed("allocation_id", PLACED);
static CONNECTIVITY: Property = Property::fixed("connectivity_type", PLACED);
/// Fixed: a gateway `read` finds is pending, which settles by itself, or available.
static STATE: Property = Property::fixed("state", PLACED);

impl NatGateway {
    fn observe(nat: &SdkNat) -> Result<Observed, AwsError> {
        let allocation = nat
            .nat_gateway_addresses()
            .first()
            .and_then(|a| a.allocation_id());
        Ok(Observed {
            record: Record::new(describe::id_of(nat)?),
            properties: Properties::from([
                (&SUBNET, json!(nat.subnet_id())),
                (&ALLOCATION, json!(allocation)),
                (
                    &CONNECTIVITY,
                    json!(nat.connectivity_type().map(ConnectivityType::as_str)),
                ),
                (&STATE, json!(nat.state().map(NatGatewayState::as_str))),
                (&TAGS, tags_value(nat.tags())),
            ]),
        })
    }

    /// Gateways on their way out (or failed, which AWS deletes itself) are not this resource.
    fn is_live(nat: &SdkNat) -> bool {
        matches!(
            nat.state(),
            Some(NatGatewayState::Pending | NatGatewayState::Available)
        )
    }

    async fn describe(ctx: &Ctx, id: &str) -> Result<Option<SdkNat>, Error> {
        describe::by_id(ctx, id).await
    }

    async fn wait_available(ctx: &Ctx, id: &str) -> Result<(), Error> {
        Self::waiter("available", Pace::Usually(USUAL_CREATE))
            .until_target(ctx, || async {
                Ok(Self::describe(ctx, id).await?.map(|nat| {
                    let status = match (nat.state(), nat.failure_message()) {
                        (Some(state), Some(reason)) => format!("{} ({reason})", state.as_str()),
                        (state, None) => {
                            state.map_or("missing", NatGatewayState::as_str).to_owned()
                        }
                        (None, Some(reason)) => format!("missing ({reason})"),
                    };
                    ((), status)
                }))
            })
            .await
    }

    fn waiter(goal: &'static str, pace: Pace) -> Waiter {
        Waiter {
            resource: Logical::NatGateway,
            goal,
            pending: &["pending"],
            target: &["available"],
            timeout: TIMEOUT,
            pace,
        }
    }
}

#[async_trait]
impl Resource for NatGateway {
    fn name(&self) -> Logical {
        Logical::NatGateway
    }

    fn depends_on(&self) -> Vec<Logical> {
        // The gateway routes through the IGW; destroy must also remove it (unmapping the EIP)
        // before the IGW can be detached.
        vec![
            Logical::Subnet(Tier::Public, Zone::A),
            Logical::NatEip,
            Logical::InternetGateway,
        ]
    }

    fn properties(&self) -> &'static [Prop] {
        const { &[&SUBNET, &ALLOCATION, &CONNECTIVITY, &STATE, &TAGS] }
    }

    fn typical_seconds(&self) -> u64 {
        USUAL_CREATE.as_secs()
    }

    fn in_transition(&self, observed: &Observed) -> Option<Transition> {
        Transition::of(observed, &STATE, &["pending"])
    }

    async fn settle(&self, ctx: &Ctx, observed: &Observed) -> Result<(), Error> {
        Self::wait_available(ctx, &observed.record.id).await
    }

    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error> {
        Ok(Properties::from([
            (
                &SUBNET,
                json!(ctx.id_of(Logical::Subnet(Tier::Public, Zone::A))?),
            ),
            (&ALLOCATION, json!(ctx.id_of(Logical::NatEip)?)),
            (&CONNECTIVITY, json!("public")),
            (&STATE, json!("available")),
            (&TAGS, desired_tags(ctx, &ctx.names().nat())),
        ]))
    }

    async fn read(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        let name = ctx.names().nat();
        let found = find(self.name(), SdkNat::KIND, recorded, &name, |lookup| {
            let name = name.clone();
            async move {
                // One filter, two values: separate filters are ANDed.
                let live = Filter::builder()
                    .name("state")
                    .values("pending")
                    .values("available")
                    .build();
                let nats: Vec<SdkNat> = describe::looked_up(ctx, &lookup, vec![live]).await?;
                describe::with_ids(
                    nats.into_iter()
                        .filter(Self::is_live)
                        .filter(|n| {
                            matches!(lookup, Lookup::Id(_)) || is_ours(ctx, n.tags(), &name)
                        })
                        .collect(),
                )
            }
        })
        .await?;
        Ok(found.map(|(_, nat)| Self::observe(&nat)).transpose()?)
    }

    async fn create(&self, ctx: &Ctx) -> Result<Observed, Error> {
        let subnet = ctx.id_of(Logical::Subnet(Tier::Public, Zone::A))?;
        let allocation = ctx.id_of(Logical::NatEip)?;
        let out = ctx
            .clients
            .ec2
            .create_nat_gateway()
            .subnet_id(&subnet)
            .allocation_id(&allocation)
            .connectivity_type(ConnectivityType::Public)
            .client_token(api::client_token(ctx, self.name(), &[&subnet, &allocation]))
            .tag_specifications(api::tag_spec(
                ctx,
                ResourceType::Natgateway,
                &ctx.names().nat(),
            ))
            .send()
            .await
            .op("ec2:CreateNatGateway")?;
        let id = out.nat_gateway().and_then(SdkNat::nat_gateway_id);
        let operation = "ec2:CreateNatGateway";
        let record = api::record_created(ctx, self.name(), operation, id, "gateway id")?;
        Self::wait_available(ctx, &record.id).await?;
        self.read_back(ctx, Some(&record)).await
    }

    async fn update(&self, ctx: &Ctx, current: &Observed, changes: &[Change]) -> Result<(), Error> {
        let name = ctx.names().nat();
        api::only_tags(ctx, self.name(), &current.record.id, &name, changes).await
    }

    async fn destroy(&self, ctx: &Ctx, current: &Observed) -> Result<(), Error> {
        let id = &current.record.id;
        delete::<SdkNat>(ctx, id).await?;
        // Until it is `deleted`, its address stays mapped and the IGW cannot be detached.
        Self::waiter("deleted", Pace::Usually(USUAL_DELETE))
            .until_gone(ctx, || async {
                // A deleted gateway stays described, `deleted`, for about an hour.
                Ok(Self::describe(ctx, id).await?.and_then(|nat| {
                    nat.state()
                        .filter(|s| **s != NatGatewayState::Deleted)
                        .map(|s| s.as_str().to_owned())
                }))
            })
            .await
    }
}
