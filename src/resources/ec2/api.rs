//! What the EC2-backed resources share: tag specifications at create time, lookup filters by
//! name and environment, re-tagging, and the per-call override that turns off the SDK's blind
//! retry for creates that have no idempotency token.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{
    Filter, ResourceType, RouteTable, SecurityGroup, Subnet, Tag, TagSpecification, VpcEndpoint,
};
use aws_smithy_types::retry::RetryConfig;
use serde_json::Value;

use crate::aws::AwsResultExt;
use crate::context::{Ctx, ListKey};
use crate::error::Error;
use crate::logical::Logical;
use crate::resources::common::{Lookup, Required, listed};
use crate::state::Record;

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

/// For creates without a client token: a retried request whose first response was lost
/// would create a second resource, so the engine re-reads by tag instead of the SDK retrying.
pub(crate) fn no_retry() -> aws_sdk_ec2::config::Builder {
    aws_sdk_ec2::config::Builder::default().retry_config(RetryConfig::disabled())
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

/// The filters for a describe call that takes filters for both kinds of lookup.
pub(crate) fn lookup_filters(lookup: &Lookup, ctx: &Ctx, id_filter: &str) -> Vec<Filter> {
    match lookup {
        Lookup::Id(id) => vec![filter(id_filter, id)],
        Lookup::Name(name) => name_filters(ctx, name),
    }
}

const SUBNETS: ListKey<Vec<(String, Subnet)>> = ListKey::new("ec2:DescribeSubnets");
const SECURITY_GROUPS: ListKey<Vec<(String, SecurityGroup)>> =
    ListKey::new("ec2:DescribeSecurityGroups");
const ROUTE_TABLES: ListKey<Vec<(String, RouteTable)>> = ListKey::new("ec2:DescribeRouteTables");
const ENDPOINTS: ListKey<Vec<(String, VpcEndpoint)>> = ListKey::new("ec2:DescribeVpcEndpoints");

/// The recorded subnet, from one DescribeSubnets for the whole VPC (see `common::listed`).
pub(crate) async fn listed_subnet(
    ctx: &Ctx,
    recorded: Option<&Record>,
) -> Result<Option<Subnet>, Error> {
    in_vpc(ctx, recorded, &SUBNETS, |vpc| async move {
        let out = ctx
            .clients
            .ec2
            .describe_subnets()
            .filters(vpc)
            .send()
            .await
            .op("ec2:DescribeSubnets")?;
        out.subnets()
            .iter()
            .map(|s| {
                Ok((
                    s.subnet_id()
                        .required("ec2:DescribeSubnets", "SubnetId")?
                        .to_owned(),
                    s.clone(),
                ))
            })
            .collect()
    })
    .await
}

/// The recorded security group (the default one too), from one call for the whole VPC.
pub(crate) async fn listed_security_group(
    ctx: &Ctx,
    recorded: Option<&Record>,
) -> Result<Option<SecurityGroup>, Error> {
    in_vpc(ctx, recorded, &SECURITY_GROUPS, |vpc| async move {
        let out = ctx
            .clients
            .ec2
            .describe_security_groups()
            .filters(vpc)
            .send()
            .await
            .op("ec2:DescribeSecurityGroups")?;
        out.security_groups()
            .iter()
            .map(|g| {
                Ok((
                    g.group_id()
                        .required("ec2:DescribeSecurityGroups", "GroupId")?
                        .to_owned(),
                    g.clone(),
                ))
            })
            .collect()
    })
    .await
}

/// The recorded route table, from one call for the whole VPC.
pub(crate) async fn listed_route_table(
    ctx: &Ctx,
    recorded: Option<&Record>,
) -> Result<Option<RouteTable>, Error> {
    in_vpc(ctx, recorded, &ROUTE_TABLES, |vpc| async move {
        let out = ctx
            .clients
            .ec2
            .describe_route_tables()
            .filters(vpc)
            .send()
            .await
            .op("ec2:DescribeRouteTables")?;
        out.route_tables()
            .iter()
            .map(|t| {
                Ok((
                    t.route_table_id()
                        .required("ec2:DescribeRouteTables", "RouteTableId")?
                        .to_owned(),
                    t.clone(),
                ))
            })
            .collect()
    })
    .await
}

/// The recorded VPC endpoint, from one call for the whole VPC.
pub(crate) async fn listed_endpoint(
    ctx: &Ctx,
    recorded: Option<&Record>,
) -> Result<Option<VpcEndpoint>, Error> {
    in_vpc(ctx, recorded, &ENDPOINTS, |vpc| async move {
        let out = ctx
            .clients
            .ec2
            .describe_vpc_endpoints()
            .filters(vpc)
            .send()
            .await
            .op("ec2:DescribeVpcEndpoints")?;
        out.vpc_endpoints()
            .iter()
            .map(|e| {
                Ok((
                    e.vpc_endpoint_id()
                        .required("ec2:DescribeVpcEndpoints", "VpcEndpointId")?
                        .to_owned(),
                    e.clone(),
                ))
            })
            .collect()
    })
    .await
}

/// `listed` over the stack's VPC (the filter given to `describe`); `None` without a VPC.
async fn in_vpc<T, F, Fut>(
    ctx: &Ctx,
    recorded: Option<&Record>,
    key: &ListKey<Vec<(String, T)>>,
    describe: F,
) -> Result<Option<T>, Error>
where
    T: Clone + Send + Sync + 'static,
    F: FnOnce(Filter) -> Fut,
    Fut: Future<Output = Result<Vec<(String, T)>, Error>>,
{
    let Some(vpc) = ctx.record(Logical::Vpc) else {
        return Ok(None);
    };
    listed(ctx, recorded, key, || describe(filter("vpc-id", vpc.id))).await
}
