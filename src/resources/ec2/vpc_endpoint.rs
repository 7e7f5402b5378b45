//! VPC endpoints keep the pipeline's AWS traffic off the internet: interface endpoints for
//! Secrets Manager and Kinesis in the private subnets (private DNS, so the standard SDK
//! hostnames resolve to them), and a gateway endpoint for S3 on the private route table.
//!
//! Each endpoint's policy admits only principals of this account: AWS's default policy lets
//! any account's credentials through, so someone inside the VPC could copy PHI out to an
//! account of theirs over the endpoint. All actions and resources stay allowed: an endpoint
//! carries only its own service's API, so naming the service's actions would narrow nothing,
//! and naming this stack's resources would cut off the account's other workloads in the VPC,
//! which private DNS and the S3 route send through the endpoints too. What the condition does
//! shut out of the private subnets is S3 access under another account's signature or none:
//! anonymous reads (Amazon Linux package repositories) and presigned URLs another account
//! signed (ECR image layers). medtech runs nothing there that needs them; RDS, ElastiCache and
//! the NAT gateway do not use the endpoints.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_ec2::types::{ResourceType, State, VpcEndpoint as SdkEndpoint, VpcEndpointType};
use serde_json::{Value, json};

use super::api::{self, filter, tags_value};
use super::describe;
use crate::aws::{AwsError, AwsResultExt, ErrorKind, classify};
use crate::context::Ctx;
use crate::control::{ACCESS, Control, Severity, TRANSMISSION, control};
use crate::error::Error;
use crate::logical::{Endpoint, Guards, Logical, Tier, Zone};
use crate::property::{Prop, Property, TAGS};
use crate::resource::{Change, Observed, Properties, Resource, Transition, unchangeable};
use crate::resources::common::{desired_tags, gone, sorted_ids, strings};
use crate::resources::wait::{Pace, Waiter};
use crate::state::Record;

/// About a minute to delete, with the network interfaces of an interface endpoint.
const USUAL_DELETE: Duration = Duration::from_secs(60);
/// Between deletes AWS refused for a reason that may pass.
const DELETE_RETRY: Duration = Duration::from_secs(10);
/// States from which an endpoint becomes available without help.
const SETTLING: [&str; 2] = ["pending", "pendingacceptance"];

pub(crate) struct VpcEndpoint {
    service: Endpoint,
}

const PRIVATE_PATH: Control = control(
    "AWS API traffic stays inside the VPC (endpoints in place and available)",
    Severity::Medium,
    TRANSMISSION,
    "run `medtech up`",
    // Prowler's endpoint-service check judges services a VPC offers, not endpoints it uses.
    Some("vpc_endpoint_multi_az_enabled"),
    None,
);
static SERVICE: Property = Property::fixed("service_name", PRIVATE_PATH);
static TYPE: Property = Property::fixed("vpc_endpoint_type", PRIVATE_PATH);
static STATE: Property = Property::fixed("state", PRIVATE_PATH);
static ROUTE_TABLES: Property = Property::in_place("route_table_ids", PRIVATE_PATH);
static SUBNETS: Property = Property::in_place("subnet_ids", PRIVATE_PATH);
static SECURITY_GROUPS: Property = Property::in_place("security_group_ids", PRIVATE_PATH);
static POLICY: Property = Property::in_place(
    "policy",
    control(
        "Endpoint policy admits only this account's principals (no other account's credentials through the endpoint)",
        Severity::High,
        ACCESS,
        "run `medtech up` (ModifyVpcEndpoint PolicyDocument)",
        Some("vpc_endpoint_connections_trust_boundaries"),
        None,
    ),
);
static PRIVATE_DNS: Property = Property::in_place(
    "private_dns_enabled",
    control(
        "Endpoints answer the services' standard names (private DNS)",
        Severity::Medium,
        TRANSMISSION,
        "run `medtech up`",
        None,
        None,
    ),
);

impl VpcEndpoint {
    pub(crate) fn new(service: Endpoint) -> Self {
        Self { service }
    }

    /// The short name in resource names, and the AWS service suffix.
    fn parts(&self) -> (&'static str, &'static str) {
        match self.service {
            Endpoint::SecretsManager => ("secretsmanager", "secretsmanager"),
            Endpoint::Kinesis => ("kinesis", "kinesis-streams"),
            Endpoint::S3 => ("s3", "s3"),
        }
    }

    fn is_gateway(&self) -> bool {
        matches!(self.service, Endpoint::S3)
    }

    /// To create, a gateway endpoint only adds routes: seconds. An interface endpoint
    /// provisions a network interface per subnet and private DNS: one to two minutes.
    fn usual_create(&self) -> Duration {
        Duration::from_secs(if self.is_gateway() { 5 } else { 90 })
    }

    fn service_name(&self, ctx: &Ctx) -> String {
        format!("com.amazonaws.{}.{}", ctx.clients.region, self.parts().1)
    }

    fn aws_name(&self, ctx: &Ctx) -> String {
        ctx.names().endpoint(self.parts().0)
    }

    /// The endpoint policy: everything, for this account's principals only (see the module
    /// comment for why no narrower).
    fn policy(ctx: &Ctx) -> Value {
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "ThisAccountOnly",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "*",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:PrincipalAccount": ctx.clients.account_id}}
            }]
        })
    }

    fn timeout(ctx: &Ctx) -> Duration {
        Duration::from_secs(ctx.settings.services.timeouts.endpoint_minutes * 60)
    }

    fn observe(&self, endpoint: &SdkEndpoint) -> Result<Observed, AwsError> {
        let sorted = |mut v: Vec<String>| {
            v.sort();
            v
        };
        let mut props = Properties::from([
            (&SERVICE, json!(endpoint.service_name())),
            (
                &TYPE,
                json!(endpoint.vpc_endpoint_type().map(VpcEndpointType::as_str)),
            ),
            (&STATE, json!(state_of(endpoint))),
            (&POLICY, policy_of(endpoint)),
            (&TAGS, tags_value(endpoint.tags())),
        ]);
        if self.is_gateway() {
            props.insert(
                &ROUTE_TABLES,
                json!(sorted(endpoint.route_table_ids().to_vec())),
            );
        } else {
            props.insert(&SUBNETS, json!(sorted(endpoint.subnet_ids().to_vec())));
            let groups = endpoint
                .groups()
                .iter()
                .filter_map(|g| g.group_id().map(str::to_owned))
                .collect();
            props.insert(&SECURITY_GROUPS, json!(sorted(groups)));
            props.insert(&PRIVATE_DNS, json!(endpoint.private_dns_enabled()));
        }
        Ok(Observed {
            record: Record::new(describe::id_of(endpoint)?),
            properties: props,
        })
    }

    /// The endpoint `id`, or `None` once it is gone.
    async fn poll(ctx: &Ctx, id: &str) -> Result<Option<SdkEndpoint>, Error> {
        // A filter, not VpcEndpointIds: an id already gone is an empty answer, not an error.
        let found = describe::filtered(ctx, vec![filter("vpc-endpoint-id", id)]).await?;
        Ok(found.into_iter().next())
    }

    async fn wait_available(&self, ctx: &Ctx, id: &str) -> Result<(), Error> {
        self.waiter(ctx, "available", Pace::Usually(self.usual_create()))
            .until_target(ctx, || async {
                Ok(Self::poll(ctx, id).await?.map(|e| ((), state_of(&e))))
            })
            .await
    }

    fn waiter(&self, ctx: &Ctx, goal: &'static str, pace: Pace) -> Waiter {
        Waiter {
            resource: self.name(),
            goal,
            pending: &SETTLING,
            target: &["available"],
            timeout: Self::timeout(ctx),
            pace,
        }
    }
}

/// The endpoint's state in lower case: the API answers `available` where the SDK's enum
/// spells `Available`, so the enum cannot be matched directly.
fn state_of(endpoint: &SdkEndpoint) -> String {
    endpoint
        .state()
        .map(State::as_str)
        .unwrap_or("unknown")
        .to_ascii_lowercase()
}

/// The endpoint's policy as JSON, so that AWS re-serializing it (spacing, key order) is no
/// drift; null without one, the text itself when it is not JSON.
fn policy_of(endpoint: &SdkEndpoint) -> Value {
    endpoint.policy_document().map_or(Value::Null, |text| {
        serde_json::from_str(text).unwrap_or_else(|_| json!(text))
    })
}

/// Whether the endpoint still stands or is on its way up (not gone, going or refused).
fn is_live(endpoint: &SdkEndpoint) -> bool {
    !["deleted", "deleting", "failed", "rejected", "expired"].contains(&state_of(endpoint).as_str())
}

impl VpcEndpoint {
    /// Asks for the deletion until AWS accepts it. DeleteVpcEndpoints answers success for the
    /// call and lists the endpoints it did not delete in `Unsuccessful`: one left there would
    /// otherwise be waited for until the timeout. A refusal that may pass (a state, a
    /// dependency, throttling) is asked again; any other is reported in AWS's words.
    async fn delete(&self, ctx: &Ctx, id: &str) -> Result<(), Error> {
        let started = Instant::now();
        loop {
            let out = match ctx
                .clients
                .ec2
                .delete_vpc_endpoints()
                .vpc_endpoint_ids(id)
                .send()
                .await
                .op("ec2:DeleteVpcEndpoints")
            {
                Ok(out) => out,
                Err(e) => return gone::<()>(Err(e)),
            };
            let Some(refused) = out
                .unsuccessful()
                .iter()
                .find(|u| u.resource_id().is_none_or(|r| r == id))
            else {
                return Ok(());
            };
            let code = refused.error().and_then(|e| e.code());
            let message = refused
                .error()
                .and_then(|e| e.message())
                .unwrap_or("no reason given");
            match classify(code, 400) {
                ErrorKind::NotFound => return Ok(()),
                kind if kind.is_retryable() && started.elapsed() < Self::timeout(ctx) => {
                    ctx.status(
                        self.name(),
                        &format!(
                            "AWS did not delete it yet ({}: {message}); asking again",
                            code.unwrap_or("no code")
                        ),
                    );
                    ctx.pause(DELETE_RETRY).await?;
                }
                _ => {
                    return Err(Error::resource(
                        self.name(),
                        format!(
                            "AWS did not delete {id}: {}: {message}",
                            code.unwrap_or("no code")
                        ),
                    ));
                }
            }
        }
    }
}

#[async_trait]
impl Resource for VpcEndpoint {
    fn name(&self) -> Logical {
        Logical::VpcEndpoint(self.service)
    }

    fn depends_on(&self) -> Vec<Logical> {
        if self.is_gateway() {
            vec![Logical::Vpc, Logical::RouteTable(Tier::Private)]
        } else {
            vec![
                Logical::Vpc,
                Logical::Subnet(Tier::Private, Zone::A),
                Logical::Subnet(Tier::Private, Zone::B),
                Logical::SecurityGroup(Guards::Endpoints),
            ]
        }
    }

    fn properties(&self) -> &'static [Prop] {
        if self.is_gateway() {
            const { &[&SERVICE, &TYPE, &STATE, &ROUTE_TABLES, &POLICY, &TAGS] }
        } else {
            const {
                &[
                    &SERVICE,
                    &TYPE,
                    &STATE,
                    &SUBNETS,
                    &SECURITY_GROUPS,
                    &PRIVATE_DNS,
                    &POLICY,
                    &TAGS,
                ]
            }
        }
    }

    fn typical_seconds(&self) -> u64 {
        self.usual_create().as_secs()
    }

    fn in_transition(&self, observed: &Observed) -> Option<Transition> {
        Transition::of(observed, &STATE, &SETTLING)
    }

    async fn settle(&self, ctx: &Ctx, observed: &Observed) -> Result<(), Error> {
        self.wait_available(ctx, &observed.record.id).await
    }

    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error> {
        let mut props = Properties::from([
            (&SERVICE, json!(self.service_name(ctx))),
            (
                &TYPE,
                json!(if self.is_gateway() {
                    "Gateway"
                } else {
                    "Interface"
                }),
            ),
            (&STATE, json!("available")),
            (&POLICY, Self::policy(ctx)),
            (&TAGS, desired_tags(ctx, &self.aws_name(ctx))),
        ]);
        if self.is_gateway() {
            props.insert(
                &ROUTE_TABLES,
                json!(sorted_ids(ctx, &[Logical::RouteTable(Tier::Private)])?),
            );
        } else {
            props.insert(
                &SUBNETS,
                json!(sorted_ids(ctx, &Logical::subnets(Tier::Private))?),
            );
            props.insert(
                &SECURITY_GROUPS,
                json!(sorted_ids(
                    ctx,
                    &[Logical::SecurityGroup(Guards::Endpoints)]
                )?),
            );
            props.insert(&PRIVATE_DNS, json!(true));
        }
        Ok(props)
    }

    async fn read(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        if let Some(endpoint) = describe::listed::<SdkEndpoint>(ctx, recorded).await?
            && is_live(&endpoint)
        {
            return Ok(Some(self.observe(&endpoint)?));
        }
        let Some(vpc) = ctx.record(Logical::Vpc) else {
            return Ok(None);
        };
        let service = filter("service-name", self.service_name(ctx));
        let filters = vec![filter("vpc-id", vpc.id), service];
        let name = self.aws_name(ctx);
        let found = describe::ours(ctx, self.name(), &name, filters, is_live).await?;
        Ok(found.map(|e| self.observe(&e)).transpose()?)
    }

    async fn create(&self, ctx: &Ctx) -> Result<Observed, Error> {
        let vpc = ctx.id_of(Logical::Vpc)?;
        let call = ctx
            .clients
            .ec2
            .create_vpc_endpoint()
            .vpc_id(&vpc)
            .service_name(self.service_name(ctx))
            .policy_document(Self::policy(ctx).to_string())
            .tag_specifications(api::tag_spec(
                ctx,
                ResourceType::VpcEndpoint,
                &self.aws_name(ctx),
            ));
        let call = if self.is_gateway() {
            let tables = sorted_ids(ctx, &[Logical::RouteTable(Tier::Private)])?;
            call.vpc_endpoint_type(VpcEndpointType::Gateway)
                .set_route_table_ids(Some(tables.clone()))
                .client_token(api::client_token(
                    ctx,
                    self.name(),
                    &[&vpc, &tables.join(",")],
                ))
        } else {
            let subnets = sorted_ids(ctx, &Logical::subnets(Tier::Private))?;
            let groups = sorted_ids(ctx, &[Logical::SecurityGroup(Guards::Endpoints)])?;
            call.vpc_endpoint_type(VpcEndpointType::Interface)
                .set_subnet_ids(Some(subnets.clone()))
                .set_security_group_ids(Some(groups.clone()))
                .private_dns_enabled(true)
                .client_token(api::client_token(
                    ctx,
                    self.name(),
                    &[&vpc, &subnets.join(","), &groups.join(",")],
                ))
        };
        let out = call.send().await.op("ec2:CreateVpcEndpoint")?;
        let id = out.vpc_endpoint().and_then(SdkEndpoint::vpc_endpoint_id);
        let operation = "ec2:CreateVpcEndpoint";
        let record = api::record_created(ctx, self.name(), operation, id, "endpoint id")?;
        self.wait_available(ctx, &record.id).await?;
        self.read_back(ctx, None).await
    }

    async fn update(&self, ctx: &Ctx, current: &Observed, changes: &[Change]) -> Result<(), Error> {
        let id = &current.record.id;
        for change in changes {
            let (want, have) = (
                strings(Some(&change.desired)),
                strings(change.observed.as_ref()),
            );
            let add: Vec<String> = want.iter().filter(|x| !have.contains(x)).cloned().collect();
            let remove: Vec<String> = have.iter().filter(|x| !want.contains(x)).cloned().collect();
            let modify = ctx.clients.ec2.modify_vpc_endpoint().vpc_endpoint_id(id);
            let modify = match change.property {
                p if p == &TAGS => {
                    api::retag(ctx, id, &self.aws_name(ctx)).await?;
                    continue;
                }
                p if p == &SUBNETS => modify
                    .set_add_subnet_ids(Some(add))
                    .set_remove_subnet_ids(Some(remove)),
                p if p == &SECURITY_GROUPS => modify
                    .set_add_security_group_ids(Some(add))
                    .set_remove_security_group_ids(Some(remove)),
                p if p == &ROUTE_TABLES => modify
                    .set_add_route_table_ids(Some(add))
                    .set_remove_route_table_ids(Some(remove)),
                p if p == &PRIVATE_DNS => modify.private_dns_enabled(true),
                p if p == &POLICY => modify.policy_document(Self::policy(ctx).to_string()),
                _ => return Err(unchangeable(self.name(), change)),
            };
            modify.send().await.op("ec2:ModifyVpcEndpoint")?;
        }
        Ok(())
    }

    async fn destroy(&self, ctx: &Ctx, current: &Observed) -> Result<(), Error> {
        let id = &current.record.id;
        self.delete(ctx, id).await?;
        // Interface endpoints hold network interfaces in the subnets until fully deleted.
        self.waiter(ctx, "deleted", Pace::Usually(USUAL_DELETE))
            .until_gone(ctx, || async {
                let state = Self::poll(ctx, id).await?.as_ref().map(state_of);
                Ok(state.filter(|s| s != "deleted"))
            })
            .await
    }
}
