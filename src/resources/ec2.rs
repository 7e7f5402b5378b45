//! What the EC2-backed resources share: tag specifications at create time, lookup filters by
//! name and environment, re-tagging, and the per-call override that turns off the SDK's blind
//! retry for creates that have no idempotency token.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use aws_smithy_types::retry::RetryConfig;
use serde_json::Value;

use crate::aws::AwsResultExt;
use crate::context::Ctx;
use crate::error::Error;

pub fn filter(name: &str, value: impl Into<String>) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// Filters that find this environment's resource named `name`, and nothing else.
pub fn name_filters(ctx: &Ctx, name: &str) -> Vec<Filter> {
    vec![
        filter("tag:Name", name),
        filter("tag:Environment", ctx.settings.env().as_str()),
        filter("tag:Project", crate::tags::PROJECT),
    ]
}

pub fn tag_spec(ctx: &Ctx, kind: ResourceType, name: &str) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(to_sdk(&ctx.tags(name))))
        .build()
}

pub fn to_sdk(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

pub fn tags_value(tags: &[Tag]) -> Value {
    Value::Object(
        tags.iter()
            .filter_map(|t| {
                Some((
                    t.key()?.to_owned(),
                    Value::from(t.value().unwrap_or_default()),
                ))
            })
            .collect(),
    )
}

pub fn desired_tags(ctx: &Ctx, name: &str) -> Value {
    Value::Object(
        ctx.tags(name)
            .into_iter()
            .map(|(k, v)| (k, Value::from(v)))
            .collect(),
    )
}

/// Whether `tags` carry exactly this environment's Name, Environment and Project: the
/// client-side half of a lookup, for endpoints whose server-side tag filters are unreliable.
pub fn is_ours(ctx: &Ctx, tags: &[Tag], name: &str) -> bool {
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
pub async fn retag(ctx: &Ctx, id: &str, name: &str) -> Result<(), Error> {
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
pub fn no_retry() -> aws_sdk_ec2::config::Builder {
    aws_sdk_ec2::config::Builder::default().retry_config(RetryConfig::disabled())
}

/// A deterministic idempotency token (at most 64 ASCII characters) for `parts`; it changes
/// whenever a parent is re-created, so a token is never reused for a different resource.
pub fn client_token(ctx: &Ctx, resource: &str, parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(ctx.settings.env().as_str());
    hash.update([0]);
    hash.update(resource);
    for part in parts {
        hash.update([0]);
        hash.update(part);
    }
    format!("medtech-{}", &hex::encode(hash.finalize())[..40])
}

/// Exactly one match, or an error naming the duplicates (a hand-made copy, or a leak from a
/// tool without lookups) so the user can decide which one to keep.
pub fn single<T>(
    resource: &str,
    kind: &str,
    mut found: Vec<(String, T)>,
) -> Result<Option<(String, T)>, Error> {
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        _ => {
            let ids: Vec<&str> = found.iter().map(|(id, _)| id.as_str()).collect();
            Err(Error::resource(
                resource,
                format!(
                    "found {} {kind}s tagged as this one ({}); delete the extra ones so that exactly one remains",
                    ids.len(),
                    ids.join(", ")
                ),
            ))
        }
    }
}

/// The error for a property that cannot change without replacing the resource.
pub fn cannot_change(
    resource: &str,
    property: &str,
    observed: Option<&Value>,
    desired: &Value,
) -> Error {
    Error::resource(
        resource,
        format!(
            "{property} is {} but config wants {desired}; it cannot change in place: revert the config, or destroy and re-create the environment",
            observed.map_or("unset".to_owned(), Value::to_string)
        ),
    )
}

/// How `find` asks for a resource: by the id in state, or by name and environment tags.
/// (Owned, so that describe closures can move it into the future they return.)
#[derive(Clone, Debug)]
pub enum Lookup {
    Id(String),
    Name(String),
}

impl Lookup {
    /// The filters for a describe call that takes filters for both kinds of lookup.
    pub fn filters(&self, ctx: &Ctx, id_filter: &str) -> Vec<Filter> {
        match self {
            Lookup::Id(id) => vec![filter(id_filter, id)],
            Lookup::Name(name) => name_filters(ctx, name),
        }
    }
}

/// Finds the one resource: by recorded id first (it may have been renamed or re-tagged), then
/// by name. `describe` returns `(id, item)` pairs; a NotFound for a stale id falls through to
/// the name lookup.
pub async fn find<T, F, Fut>(
    resource: &str,
    kind: &str,
    recorded: Option<&crate::state::Record>,
    name: &str,
    describe: F,
) -> Result<Option<(String, T)>, Error>
where
    F: Fn(Lookup) -> Fut,
    Fut: Future<Output = Result<Vec<(String, T)>, crate::aws::AwsError>>,
{
    if let Some(record) = recorded {
        match describe(Lookup::Id(record.id.clone())).await {
            Ok(found) if !found.is_empty() => return single(resource, kind, found),
            Ok(_) => {}
            Err(e) if e.is(crate::aws::ErrorKind::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    single(
        resource,
        kind,
        describe(Lookup::Name(name.to_owned())).await?,
    )
}

/// A delete that finds nothing to delete has done its job.
pub fn gone<T>(result: Result<T, crate::aws::AwsError>) -> Result<(), Error> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.is(crate::aws::ErrorKind::NotFound) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
