//! Helpers every resource module shares, whatever the service: the desired tag set as a
//! property, "exactly one" lookups, recorded attributes a change needs, the refusal for
//! properties that cannot change in place, and deletes that treat "already gone" as done.
//! Beside them, what two services' resources or more share: `settling` (the waits of the RDS
//! instance and the Redis replication group), `subnet_group` (the DB and cache subnet
//! groups), `tags_by_arn` (the tag calls RDS and ElastiCache make by ARN) and `tagging` (the
//! environment's tags from the Resource Groups Tagging API).

pub(crate) mod settling;
pub(crate) mod subnet_group;
pub(crate) mod tagging;
pub(crate) mod tags_by_arn;

use serde_json::Value;

use crate::context::{Ctx, ListKey};
use crate::error::Error;
use crate::logical::Logical;
use crate::state::Record;

/// An attribute `read` records with every observation (an ARN, an endpoint): the calls that
/// change the resource need it, so its absence stops them rather than send an empty one.
pub(crate) fn recorded_attr<'a>(
    resource: Logical,
    record: &'a Record,
    key: &str,
) -> Result<&'a str, Error> {
    record.attr(key).ok_or_else(|| {
        Error::resource(
            resource,
            format!("no {key} was read from AWS; run the command again to read it anew"),
        )
    })
}

pub(crate) fn desired_tags(ctx: &Ctx, name: &str) -> Value {
    Value::Object(
        ctx.tags(name)
            .into_iter()
            .map(|(k, v)| (k, Value::from(v)))
            .collect(),
    )
}

/// The ids of resolved dependencies, sorted: how list-valued properties compare.
pub(crate) fn sorted_ids(ctx: &Ctx, resources: &[Logical]) -> Result<Vec<String>, Error> {
    let mut ids = resources
        .iter()
        .map(|&r| ctx.id_of(r))
        .collect::<Result<Vec<_>, _>>()?;
    ids.sort();
    Ok(ids)
}

/// Tags as a property value, from `(key, value)` pairs of any service's tag type.
pub(crate) fn tag_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Value {
    Value::Object(
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Value::from(v)))
            .collect(),
    )
}

/// A list property's strings; one AWS did not report (no routes, no log exports) has none.
pub(crate) fn strings(value: Option<&Value>) -> Vec<String> {
    value.and_then(Value::as_array).map_or_else(Vec::new, |a| {
        a.iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    })
}

/// Exactly one match, or an error naming the duplicates (a hand-made copy, or a leak from a
/// tool without lookups) so the user can decide which one to keep.
pub(crate) fn single<T>(
    resource: Logical,
    kind: &str,
    mut found: Vec<(String, T)>,
) -> Result<Option<(String, T)>, Error> {
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        _ => Err(Error::Duplicates {
            resource: resource.to_string(),
            kind: kind.to_owned(),
            ids: found.into_iter().map(|(id, _)| id).collect(),
        }),
    }
}

/// A lookup's answer, with "not found" as `None` rather than an error.
pub(crate) fn found<T>(result: Result<T, crate::aws::AwsError>) -> Result<Option<T>, Error> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.is(crate::aws::ErrorKind::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A delete that finds nothing to delete has done its job.
pub(crate) fn gone<T>(result: Result<T, crate::aws::AwsError>) -> Result<(), Error> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.is(crate::aws::ErrorKind::NotFound) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The recorded resource's item from the environment's batched list of its kind (see
/// `listing`), when the list is current and holds it. `None` sends the caller to its own
/// describe: no record yet, a stale list, or an item that left the list (deleted, re-tagged).
pub(crate) async fn listed<T, F, Fut>(
    ctx: &Ctx,
    recorded: Option<&Record>,
    key: &ListKey<Vec<(String, T)>>,
    fetch: F,
) -> Result<Option<T>, Error>
where
    T: Clone + Send + Sync + 'static,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Vec<(String, T)>, Error>>,
{
    let Some(record) = recorded else {
        return Ok(None);
    };
    let Some(list) = ctx.listed(key, fetch).await? else {
        return Ok(None);
    };
    Ok(list
        .iter()
        .find(|(id, _)| *id == record.id)
        .map(|(_, item)| item.clone()))
}

/// How `find` asks for a resource: by the id in state, or by name and environment tags.
/// (Owned, so that describe closures can move it into the future they return.)
#[derive(Clone, Debug)]
pub(crate) enum Lookup {
    Id(String),
    Name(String),
}

/// Finds the one resource: by recorded id first (it may have been renamed or re-tagged), then
/// by name. `describe` returns `(id, item)` pairs; a NotFound for a stale id falls through to
/// the name lookup.
pub(crate) async fn find<T, F, Fut>(
    resource: Logical,
    kind: &str,
    recorded: Option<&Record>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_recorded_attribute_names_the_resource_and_the_key() {
        let text = recorded_attr(Logical::KmsKey, &Record::new("key-1"), "arn")
            .unwrap_err()
            .to_string();
        assert!(text.contains("arn"), "{text}");
        assert!(text.contains(&Logical::KmsKey.to_string()), "{text}");
    }
}
