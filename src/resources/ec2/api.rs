//! What the EC2-backed resources share: tag specifications at create time, lookup filters by
//! name and environment, recording a create's id, re-tagging (and refusing what cannot change
//! in place), and sending the creates that have no idempotency token without the SDK's blind
//! retry (`create_once`). The describe calls and the look-ups on them are in `describe`.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::retry::RetryConfig;
use serde_json::Value;

use crate::aws::{AwsError, AwsResultExt, ErrorKind};
use crate::context::Ctx;
use crate::control::{ACCESS, Severity, control};
use crate::error::Error;
use crate::logical::Logical;
use crate::property::{Property, TAGS};
use crate::resource::{Change, unchangeable};
use crate::state::Record;

/// The `vpc_id` of a kind that lives in the stack's VPC (`title`: its control's title): fixed,
/// since nothing moves an item to another VPC.
pub(crate) const fn in_stack_vpc(title: &'static str) -> Property {
    Property::fixed(
        "vpc_id",
        control(
            title,
            Severity::Medium,
            ACCESS,
            "re-create the environment",
            None,
            None,
        ),
    )
}

pub(crate) fn filter(name: &str, value: impl Into<String>) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// Filters that find this environment's resource named `name`, and nothing else.
pub(crate) fn name_filters(ctx: &Ctx, name: &str) -> Vec<Filter> {
    vec![
        filter("tag:Name", name),
        filter("tag:Environment", ctx.settings.env().as_str()),
        filter("tag:Project", crate::tags::PROJECT),
    ]
}

pub(crate) fn tag_spec(ctx: &Ctx, kind: ResourceType, name: &str) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(to_sdk(&ctx.tags(name))))
        .build()
}

pub(crate) fn to_sdk(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

pub(crate) fn tags_value(tags: &[Tag]) -> Value {
    Value::Object(
        tags.iter()
            .filter_map(|t| {
                // EC2 allows a tag without a value: it reads as an empty one.
                Some((t.key()?.to_owned(), Value::from(t.value().unwrap_or(""))))
            })
            .collect(),
    )
}

/// Whether `tags` carry exactly this environment's Name, Environment and Project: the
/// client-side half of a lookup, for endpoints whose server-side tag filters are unreliable.
pub(crate) fn is_ours(ctx: &Ctx, tags: &[Tag], name: &str) -> bool {
    let get = |key: &str| {
        tags.iter()
            .find(|t| t.key() == Some(key))
            .and_then(Tag::value)
    };
    get("Name") == Some(name)
        && get("Environment") == Some(ctx.settings.env().as_str())
        && get("Project") == Some(crate::tags::PROJECT)
}

/// Re-applies the full tag set (CreateTags overwrites values and adds missing keys).
pub(crate) async fn retag(ctx: &Ctx, id: &str, name: &str) -> Result<(), Error> {
    ctx.clients
        .ec2
        .create_tags()
        .resources(id)
        .set_tags(Some(to_sdk(&ctx.tags(name))))
        .send()
        .await
        .op("ec2:CreateTags")?;
    Ok(())
}

/// The last arm of every `update` here: tags are re-applied, any other property is refused
/// (it has no call that changes it in place).
pub(crate) async fn retag_or_refuse(
    ctx: &Ctx,
    resource: Logical,
    id: &str,
    name: &str,
    change: &Change,
) -> Result<(), Error> {
    match change.property {
        p if p == &TAGS => retag(ctx, id, name).await,
        _ => Err(unchangeable(resource, change)),
    }
}

/// The answer to a call the engine may send again after losing its first answer (an attach,
/// an association, a route, a rule): "already exists" means the first one took.
pub(crate) fn already_done<T>(result: Result<T, AwsError>) -> Result<(), Error> {
    match result {
        Err(e) if e.is(ErrorKind::AlreadyExists) => Ok(()),
        other => other.map(drop).map_err(Error::from),
    }
}

/// Records the id a create answered with, right away: a later wait that fails, or a lost
/// state file, must not lead to a second copy. No id is an error naming the call.
pub(crate) fn record_created(
    ctx: &Ctx,
    resource: Logical,
    operation: &'static str,
    id: Option<&str>,
    what: &str,
) -> Result<Record, Error> {
    let id =
        id.ok_or_else(|| AwsError::unexpected(operation, format!("no {what} in the response")))?;
    let record = Record::new(id);
    ctx.set_record(resource, record.clone())?;
    Ok(record)
}

/// The whole `update` of a kind whose only property that changes in place is its tags.
pub(crate) async fn only_tags(
    ctx: &Ctx,
    resource: Logical,
    id: &str,
    name: &str,
    changes: &[Change],
) -> Result<(), Error> {
    for change in changes {
        retag_or_refuse(ctx, resource, id, name, change).await?;
    }
    Ok(())
}

/// A create request that carries no client token, as its SDK builder (the builders share no
/// trait): tagged at creation and sent once, by `create_once`.
pub(crate) trait CreateOnce: Send {
    type Output;
    type Error;
    /// What the tags given at creation apply to.
    const TAGGED: ResourceType;

    fn send_tagged(
        self,
        tags: TagSpecification,
    ) -> impl Future<Output = Result<Self::Output, SdkError<Self::Error, HttpResponse>>> + Send;
}

macro_rules! create_once {
    ($($module:ident::$builder:ident -> $output:ident, $error:ident, $tagged:ident;)*) => {$(
        impl CreateOnce for aws_sdk_ec2::operation::$module::builders::$builder {
            type Output = aws_sdk_ec2::operation::$module::$output;
            type Error = aws_sdk_ec2::operation::$module::$error;
            const TAGGED: ResourceType = ResourceType::$tagged;

            async fn send_tagged(
                self,
                tags: TagSpecification,
            ) -> Result<Self::Output, SdkError<Self::Error, HttpResponse>> {
                let once =
                    aws_sdk_ec2::config::Builder::default().retry_config(RetryConfig::disabled());
                self.tag_specifications(tags).customize().config_override(once).send().await
            }
        }
    )*};
}

// module::request -> its output, its error, what its tags apply to
create_once! {
    allocate_address::AllocateAddressFluentBuilder
        -> AllocateAddressOutput, AllocateAddressError, ElasticIp;
    create_internet_gateway::CreateInternetGatewayFluentBuilder
        -> CreateInternetGatewayOutput, CreateInternetGatewayError, InternetGateway;
    create_network_acl::CreateNetworkAclFluentBuilder
        -> CreateNetworkAclOutput, CreateNetworkAclError, NetworkAcl;
    create_route_table::CreateRouteTableFluentBuilder
        -> CreateRouteTableOutput, CreateRouteTableError, RouteTable;
    create_security_group::CreateSecurityGroupFluentBuilder
        -> CreateSecurityGroupOutput, CreateSecurityGroupError, SecurityGroup;
    create_subnet::CreateSubnetFluentBuilder -> CreateSubnetOutput, CreateSubnetError, Subnet;
    create_vpc::CreateVpcFluentBuilder -> CreateVpcOutput, CreateVpcError, Vpc;
}

/// Sends `call`, tagged at creation as `name`, once: with no client token, the SDK retrying
/// a request whose first response was lost would create a second resource, so the engine
/// re-reads by tag instead.
pub(crate) async fn create_once<C: CreateOnce>(
    ctx: &Ctx,
    call: C,
    name: &str,
) -> Result<C::Output, SdkError<C::Error, HttpResponse>> {
    call.send_tagged(tag_spec(ctx, C::TAGGED, name)).await
}

/// A deterministic idempotency token (at most 64 ASCII characters) for `parts` and for the id
/// recorded for `resource`, if any. It changes whenever a parent is re-created, and whenever
/// the resource itself is: a create runs when the recorded one is gone (deleted by hand, or
/// failed), and EC2 answers a reused token with the original resource even after it was
/// deleted.
pub(crate) fn client_token(ctx: &Ctx, resource: Logical, parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(ctx.settings.env().as_str());
    hash.update([0]);
    hash.update(resource.as_str());
    let replaced = ctx.record(resource).map(|r| r.id);
    for part in parts.iter().copied().chain(replaced.as_deref()) {
        hash.update([0]);
        hash.update(part);
    }
    format!("medtech-{}", &hex::encode(hash.finalize())[..40])
}
