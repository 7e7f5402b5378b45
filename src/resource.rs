//! The one trait every AWS resource kind implements, and the property maps through which
//! `plan`, `verify` and `up` compare what should be with what AWS reports. The engine drives
//! resources only through this trait.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::Value;

use crate::context::Ctx;
use crate::error::Error;
use crate::logical::Logical;
use crate::property::{Floor, Prop};
use crate::state::Record;

/// What destroying an environment deletes, said before any advice to do so.
pub(crate) const DESTROY_LOSES: &str = "destroying it deletes the database (a final snapshot is kept), \
the cache and the stream with their data, and the audit logs";

/// Named settings of a resource, as JSON values so that one generic diff serves every kind.
/// Object values compare as "every desired key has the desired value" (tags: extra tags added
/// by others are not drift); everything else compares exactly.
pub(crate) type Properties = BTreeMap<Prop, Value>;

/// A resource as AWS reports it.
#[derive(Clone, Debug)]
pub(crate) struct Observed {
    pub record: Record,
    pub properties: Properties,
}

/// A change AWS is still carrying out on a resource (`creating`, `pending`, `UPDATING`):
/// meanwhile AWS describes it only in part (no endpoint, no port), so its properties are
/// compared only once it has settled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Transition {
    /// The property that holds AWS's status word.
    pub property: Prop,
    pub status: String,
}

impl Transition {
    /// The transition `observed` is in, when its `property` holds one of `settling`.
    pub(crate) fn of(observed: &Observed, property: Prop, settling: &[&str]) -> Option<Self> {
        let status = observed.properties.get(property)?.as_str()?;
        settling.contains(&status).then(|| Self {
            property,
            status: status.to_owned(),
        })
    }

    /// The changes that are known while in transition: values AWS does not report yet are
    /// unknown, not different, and the status itself is what is being waited for.
    pub(crate) fn known_changes(&self, changes: Vec<Change>) -> Vec<Change> {
        changes
            .into_iter()
            .filter(|c| {
                c.property != self.property && c.observed.as_ref().is_some_and(|v| !v.is_null())
            })
            .collect()
    }
}

/// One property that differs: what AWS has, and what medtech wants.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Change {
    pub property: Prop,
    pub observed: Option<Value>,
    pub desired: Value,
}

/// An AWS resource kind. `read` must find the resource without state (by its deterministic
/// name or tags) so that a lost state file never leads to a second copy; `create` must tag at
/// creation time for the same reason.
#[async_trait]
pub(crate) trait Resource: Send + Sync {
    /// Which resource of the stack it is; unique in the stack.
    fn name(&self) -> Logical;

    /// Logical names this resource needs resolved before it can be read or created.
    fn depends_on(&self) -> Vec<Logical>;

    /// Every property `desired` sets, each with its control: what `verify` checks and
    /// `medtech controls` lists.
    fn properties(&self) -> &'static [Prop];

    /// The least values `verify` holds some of what `read` reports to, beside the properties.
    fn floors(&self) -> &'static [&'static Floor] {
        &[]
    }

    /// About how long AWS takes to create (or delete) it, in seconds: the engine starts the
    /// steps with the longest chains behind them first. Most resources take about a second.
    fn typical_seconds(&self) -> u64 {
        1
    }

    /// The properties it must have. Dependencies' records are available in `ctx`.
    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error>;

    /// Looks the resource up: by the recorded id when there is one, else by name and tags.
    /// `None` when it does not exist.
    async fn read(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Option<Observed>, Error>;

    /// `read` right after a create: the resource must be there.
    async fn read_back(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Observed, Error> {
        self.read(ctx, recorded)
            .await?
            .ok_or_else(|| Error::resource(self.name(), "created but not found on read-back"))
    }

    /// The change AWS is still carrying out on it, if any. Kinds that AWS creates or
    /// modifies asynchronously say which statuses settle by themselves.
    fn in_transition(&self, _observed: &Observed) -> Option<Transition> {
        None
    }

    /// Waits until a resource found in transition has settled (a run stopped mid-wait, or a
    /// change someone else started). Only called when `in_transition` said so.
    async fn settle(&self, _ctx: &Ctx, _observed: &Observed) -> Result<(), Error> {
        Ok(())
    }

    /// Creates it with every desired property and waits until it is usable.
    async fn create(&self, ctx: &Ctx) -> Result<Observed, Error>;

    /// Brings the listed properties to their desired values in place. Only properties declared
    /// `in_place` get here: the engine refuses the others before calling it. A kind with no
    /// such property keeps the default.
    async fn update(
        &self,
        _ctx: &Ctx,
        _current: &Observed,
        changes: &[Change],
    ) -> Result<(), Error> {
        match changes.first() {
            Some(change) => Err(unchangeable(self.name(), change)),
            None => Ok(()),
        }
    }

    /// Deletes it and waits until it is gone. Must succeed when it is already gone.
    async fn destroy(&self, ctx: &Ctx, current: &Observed) -> Result<(), Error>;
}

/// The error for a change that only re-creating the resource could make. A value AWS does not
/// report is unknown, not different: no advice to destroy anything for it.
pub(crate) fn unchangeable(resource: Logical, change: &Change) -> Error {
    let (property, desired) = (change.property, &change.desired);
    let message = match change.observed.as_ref().filter(|v| !v.is_null()) {
        Some(have) => format!(
            "{property} is {have} but config wants {desired}; it cannot change in place: revert the config, or re-create the environment ({DESTROY_LOSES})"
        ),
        None => format!(
            "AWS does not report {property} (config wants {desired}); medtech cannot tell whether it differs and changes nothing: run the command again once AWS reports it"
        ),
    };
    Error::resource(resource, message)
}

/// The properties whose observed value differs from the desired one.
pub(crate) fn diff(desired: &Properties, observed: &Properties) -> Vec<Change> {
    desired
        .iter()
        .filter(|(key, want)| !matches(want, observed.get(*key)))
        .map(|(key, want)| Change {
            property: key,
            observed: observed.get(key).cloned(),
            desired: want.clone(),
        })
        .collect()
}

fn matches(want: &Value, have: Option<&Value>) -> bool {
    match (want, have) {
        (Value::Object(want), Some(Value::Object(have))) => want
            .iter()
            .all(|(k, v)| have.get(k).is_some_and(|h| matches(v, Some(h)))),
        (want, Some(have)) => want == have,
        (_, None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::EXISTS;
    use crate::property::{Property, TAGS};
    use serde_json::json;

    static CIDR: Property = Property::fixed("cidr", EXISTS);
    static DNS: Property = Property::in_place("dns", EXISTS);
    static RULES: Property = Property::in_place("rules", EXISTS);

    fn props(pairs: &[(Prop, Value)]) -> Properties {
        pairs.iter().cloned().collect()
    }

    #[test]
    fn equal_properties_give_no_change() {
        let want = props(&[(&CIDR, json!("10.0.0.0/16")), (&DNS, json!(true))]);
        assert!(diff(&want, &want.clone()).is_empty());
    }

    #[test]
    fn differing_and_missing_properties_are_changes() {
        let want = props(&[(&CIDR, json!("10.0.0.0/16")), (&DNS, json!(true))]);
        let have = props(&[(&CIDR, json!("10.0.0.0/16"))]);
        let changes = diff(&want, &have);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].property, &DNS);
        assert_eq!(changes[0].observed, None);
    }

    #[test]
    fn objects_compare_as_subsets_and_lists_exactly() {
        let want = props(&[(&TAGS, json!({"Name": "x"})), (&RULES, json!(["a"]))]);
        let have = props(&[
            (&TAGS, json!({"Name": "x", "Owner": "someone"})),
            (&RULES, json!(["a"])),
        ]);
        assert!(diff(&want, &have).is_empty());
        let extra_rule = props(&[(&TAGS, json!({"Name": "x"})), (&RULES, json!(["a", "b"]))]);
        assert_eq!(diff(&want, &extra_rule)[0].property, &RULES);
        let wrong_tag = props(&[(&TAGS, json!({"Name": "y"})), (&RULES, json!(["a"]))]);
        assert_eq!(diff(&want, &wrong_tag)[0].property, &TAGS);
    }
}
