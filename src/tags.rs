//! The tags every taggable resource carries (`shared/STACK.md`): medtech's own six, then the
//! user's. Tags are how a lost state file is recovered and how `destroy` finds strays.

use std::collections::BTreeMap;

use crate::naming::EnvName;

pub(crate) const PROJECT: &str = "medtech";
pub(crate) const MANAGED_BY: &str = "medtech";

/// Keys medtech sets itself; a user tag may not override them.
pub(crate) const RESERVED_TAG_KEYS: [&str; 6] = [
    "Project",
    "Environment",
    "ManagedBy",
    "Compliance",
    "DataClassification",
    "Name",
];

/// The full tag set for one resource named `name`.
pub(crate) fn standard(
    env: &EnvName,
    name: &str,
    user: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut tags = user.clone();
    for (key, value) in [
        ("Project", PROJECT),
        ("Environment", env.as_str()),
        ("ManagedBy", MANAGED_BY),
        ("Compliance", "HIPAA"),
        ("DataClassification", "PHI"),
        ("Name", name),
    ] {
        tags.insert(key.to_owned(), value.to_owned());
    }
    tags
}

/// Whether `tags` mark a resource as this environment's.
pub(crate) fn belongs_to<'a>(
    env: &EnvName,
    mut tags: impl Iterator<Item = (&'a str, &'a str)>,
) -> bool {
    let mut project = false;
    let mut environment = false;
    for (key, value) in tags.by_ref() {
        match key {
            "Project" => project = value == PROJECT,
            "Environment" => environment = value == env.as_str(),
            _ => {}
        }
    }
    project && environment
}
