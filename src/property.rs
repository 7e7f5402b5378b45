//! A property of a resource, declared once beside the resource that reads and sets it: its name
//! (the `<resource>.<name>` of check ids, plan lines and run reports), whether AWS can change it
//! in place, and its control. `desired`, `read` and `update` name it by this declaration, so
//! `plan`, `up`, `verify` and `medtech controls` all read the same one.

use std::cmp::Ordering;
use std::fmt;

use serde::{Serialize, Serializer};

use crate::control::{ACTIVITY, Control, Severity, control};

/// A declared property. Two declarations are the same property when their names are equal:
/// the name is what state, reports and check ids carry.
pub(crate) struct Property {
    pub name: &'static str,
    /// `false` when only re-creating the resource could change it: `up` refuses such a change
    /// before touching anything, and `plan` says so.
    pub in_place: bool,
    pub control: Control,
}

/// How resources hold a property: a reference to its one declaration.
pub(crate) type Prop = &'static Property;

impl Property {
    /// A property `up` can bring to its desired value without re-creating the resource.
    pub(crate) const fn in_place(name: &'static str, control: Control) -> Self {
        Self {
            name,
            in_place: true,
            control,
        }
    }

    /// A property fixed at creation: a different value needs a new resource.
    pub(crate) const fn fixed(name: &'static str, control: Control) -> Self {
        Self {
            name,
            in_place: false,
            control,
        }
    }
}

/// A least value a scanner holds a number `read` reports to, whatever the config asks (a week
/// of stream retention, a CA valid three more months). `read` reports the number under
/// `property` (null when unknown, which fails; left out when AWS does not describe it, which
/// is not checked), and `desired` never sets it: `verify` checks it beside the declared
/// properties, and `up` never converges to it, because the config may ask for less on purpose
/// (the finding then stands, and says so), or only a config change can fix it.
pub(crate) struct Floor {
    /// The check `<resource>.<name>` with its control, and the key `read` reports under.
    pub property: Property,
    pub at_least: i64,
    /// What the number counts (`hours`, `days`), for the report.
    pub unit: &'static str,
}

/// The required tags, which every resource has and every resource can change in place.
pub(crate) static TAGS: Property = Property::in_place(
    "tags",
    control(
        "Required tags (Project, Environment, ManagedBy, Compliance, DataClassification, Name)",
        Severity::Low,
        ACTIVITY,
        "run `medtech up` to re-tag",
        None,
        Some("REQUIRED_TAGS"),
    ),
);

impl PartialEq for Property {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Property {}

impl PartialOrd for Property {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// By name, so that reports list properties alphabetically as they always have.
impl Ord for Property {
    fn cmp(&self, other: &Self) -> Ordering {
        self.name.cmp(other.name)
    }
}

impl fmt::Display for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl fmt::Debug for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl Serialize for Property {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name)
    }
}
