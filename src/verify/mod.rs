//! What `medtech verify` checks: reads every resource back from AWS and checks each required property
//! against its desired value, plus that each resource exists, is unique and is the one in
//! state. Every check carries its control (severity, HIPAA safeguard, fix, Prowler and Config
//! equivalents). Exit 0 when all pass, 1 when any fails, 2 when verification could not run.

pub(crate) mod account;
pub(crate) mod check_report;

use futures::future::join_all;
use serde::Serialize;
use serde_json::Value;

use std::collections::BTreeMap;

use crate::context::Ctx;
use crate::control::{self, Control, Severity};
use crate::engine::{Engine, Outcome, StepReport};
use crate::error::Error;
use crate::logical::Logical;
use crate::property::{Floor, Prop};
use crate::resource::{Observed, diff};
use crate::state::Record;

/// Verification could not run (no access, bad input, unreadable state).
pub(crate) const COULD_NOT_RUN: u8 = 2;

/// The resource of the checks of the account around the stack (`verify --account`): named in
/// check ids and reports like a resource, but no `Logical`, so never in the stack's graph,
/// state or plan.
pub(crate) const ACCOUNT: &str = "account";

#[derive(Debug, Serialize)]
pub(crate) struct Check {
    pub id: String,
    pub resource: String,
    pub kind: &'static str,
    pub passed: bool,
    pub expected: Value,
    pub observed: Value,
    #[serde(flatten)]
    pub control: Control,
}

impl Check {
    /// A check every resource gets (`exists`, `unique`, …) with its control.
    fn common(
        resource: Logical,
        (check, control): (&str, Control),
        expected: Value,
        observed: Value,
    ) -> Self {
        Self {
            id: format!("{resource}.{check}"),
            resource: resource.to_string(),
            kind: resource.kind(),
            passed: expected == observed,
            expected,
            observed,
            control,
        }
    }

    /// A check beside the declared properties (the rotation's), passing as `passed` says.
    pub(crate) fn new(
        resource: Logical,
        check: (&str, Control),
        expected: Value,
        observed: Value,
        passed: bool,
    ) -> Self {
        Self {
            passed,
            ..Self::common(resource, check, expected, observed)
        }
    }

    /// A check of the account's baseline (`account.<check>`), passing as `passed` says.
    pub(crate) fn account(
        (check, control): (&str, Control),
        expected: Value,
        observed: Value,
        passed: bool,
    ) -> Self {
        Self {
            id: format!("{ACCOUNT}.{check}"),
            resource: ACCOUNT.to_owned(),
            kind: ACCOUNT,
            passed,
            expected,
            observed,
            control,
        }
    }

    /// The check of one of the resource's declared properties.
    fn property(resource: Logical, property: Prop, expected: Value, observed: Value) -> Self {
        Self::common(
            resource,
            (property.name, property.control),
            expected,
            observed,
        )
    }

    /// The check of one of the resource's floors: the number `read` reported is at least the
    /// floor's.
    fn floor(resource: Logical, floor: &Floor, observed: Value) -> Self {
        let passed = observed.as_i64().is_some_and(|n| n >= floor.at_least);
        let expected = Value::from(format!("at least {} {}", floor.at_least, floor.unit));
        let check = (floor.property.name, floor.property.control);
        Self::new(resource, check, expected, observed, passed)
    }

    pub(crate) fn severity(&self) -> Severity {
        self.control.severity
    }
}

/// The checks of every resource of `engine`, from what its discovery found (`reports`,
/// `found`) and the ids recorded in state before it (`recorded`).
pub(crate) async fn assess(
    ctx: &Ctx,
    engine: &Engine,
    reports: &[StepReport],
    found: &[Option<Observed>],
    recorded: &BTreeMap<String, Record>,
) -> Result<Vec<Check>, Error> {
    let mut checks = Vec::new();
    // All at once: a `desired` may ask AWS (the parameter group's family), and one after
    // another they would add round trips to every verify.
    let wanted = join_all(
        engine
            .resources()
            .iter()
            .zip(found)
            .map(|(resource, observed)| {
                let wants = observed.is_some();
                async move {
                    if wants {
                        Some(resource.desired(ctx).await)
                    } else {
                        None
                    }
                }
            }),
    )
    .await;
    let each = engine
        .resources()
        .iter()
        .zip(reports)
        .zip(found)
        .zip(wanted);
    for (((resource, report), observed), wanted) in each {
        let name = resource.name();
        match (&report.outcome, observed) {
            (Outcome::Failed(Error::Duplicates { ids, .. }), _) => {
                checks.push(Check::common(
                    name,
                    ("unique", control::UNIQUE),
                    Value::from(1),
                    Value::from(ids.len()),
                ));
            }
            (Outcome::Failed(e), _) => return Err(Error::resource(name, e.to_string())),
            (Outcome::Skipped { because }, _) => {
                // Only a duplicated dependency gets here: other failures ended the run above.
                checks.push(Check::common(
                    name,
                    ("exists", control::EXISTS),
                    Value::Bool(true),
                    Value::String(format!("not checked: {because} is duplicated")),
                ));
            }
            (Outcome::NotStarted, _) => return Err(Error::Interrupted),
            (Outcome::Done(_), None) => {
                checks.push(Check::common(
                    name,
                    ("exists", control::EXISTS),
                    Value::Bool(true),
                    Value::Bool(false),
                ));
            }
            (Outcome::Done(_), Some(observed)) => {
                checks.push(Check::common(
                    name,
                    ("exists", control::EXISTS),
                    Value::Bool(true),
                    Value::Bool(true),
                ));
                if let Some(record) = recorded.get(name.as_str()) {
                    checks.push(Check::common(
                        name,
                        ("recorded", control::RECORDED),
                        Value::from(record.id.as_str()),
                        Value::from(observed.record.id.as_str()),
                    ));
                }
                let desired = match wanted {
                    Some(desired) => desired?,
                    None => resource.desired(ctx).await?,
                };
                let failed = diff(&desired, &observed.properties);
                let transition = resource.in_transition(observed);
                if let Some(t) = &transition {
                    checks.push(Check::common(
                        name,
                        ("settled", control::SETTLED),
                        Value::Bool(true),
                        Value::String(format!("still {}", t.status)),
                    ));
                }
                for (property, want) in &desired {
                    let have = observed
                        .properties
                        .get(property)
                        .cloned()
                        .unwrap_or(Value::Null);
                    // In transition, what AWS does not report yet is unknown, not failed;
                    // the `settled` check above stands for it, and for the status itself.
                    if let Some(t) = &transition
                        && (have.is_null() || *property == t.property)
                    {
                        continue;
                    }
                    let mut check = Check::property(name, property, want.clone(), have);
                    // Object properties (tags) pass when every desired key matches.
                    check.passed = !failed.iter().any(|c| c.property == *property);
                    checks.push(check);
                }
                for floor in resource.floors() {
                    // Not reported at all: AWS does not describe that number here.
                    let Some(have) = observed.properties.get(&floor.property) else {
                        continue;
                    };
                    if transition.is_none() || !have.is_null() {
                        checks.push(Check::floor(name, floor, have.clone()));
                    }
                }
            }
        }
    }
    Ok(checks)
}
