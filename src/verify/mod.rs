//! `medtech verify`: reads every resource back from AWS and checks each required property
//! against its desired value, plus that each resource exists, is unique and is the one in
//! state. Every check carries its control (severity, HIPAA safeguard, fix, Prowler and Config
//! equivalents). Exit 0 when all pass, 1 when any fails, 2 when verification could not run.

pub mod controls;
mod report;

use serde::Serialize;
use serde_json::Value;

use crate::cli::{GlobalArgs, OutputMode, VerifyArgs, VerifyFormat};
use crate::commands::{Locking, Session};
use crate::engine::Outcome;
use crate::error::{Error, exit};
use crate::failure::Failure;
use crate::resource::diff;
use controls::{Control, Severity};

/// Verification could not run (no access, bad input, unreadable state).
pub const COULD_NOT_RUN: u8 = 2;

#[derive(Debug, Serialize)]
pub struct Check {
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
    fn new(
        resource: &str,
        kind: &'static str,
        property: &str,
        expected: Value,
        observed: Value,
    ) -> Self {
        Self {
            id: format!("{resource}.{property}"),
            resource: resource.to_owned(),
            kind,
            passed: expected == observed,
            expected,
            observed,
            control: controls::for_property(kind, property),
        }
    }

    pub fn severity(&self) -> Severity {
        self.control.severity
    }
}

pub async fn run(global: &GlobalArgs, args: &VerifyArgs) -> Result<u8, Error> {
    let format = match (args.format, global.output) {
        (Some(format), _) => format,
        (None, OutputMode::Json) => VerifyFormat::Json,
        (None, OutputMode::Text) => VerifyFormat::Table,
    };
    match checks(global, args).await {
        Ok((env, checks)) => {
            report::emit(&env, &checks, format)?;
            Ok(if checks.iter().all(|c| c.passed) {
                exit::OK
            } else {
                exit::FAILED
            })
        }
        Err(e) => Ok(could_not_run(global.env.as_deref(), e, format)),
    }
}

/// Verification that could not run exits 2 whatever stopped it (a missing permission 4, as in
/// every command), and says why in the format asked for: the JSON error document, or a JUnit
/// document whose one test case errs, so that a CI's test view shows the reason.
fn could_not_run(env: Option<&str>, e: Error, format: VerifyFormat) -> u8 {
    let code = if matches!(e, Error::AccessDenied { .. }) {
        exit::AWS_ACCESS
    } else {
        COULD_NOT_RUN
    };
    let mut failure = Failure::of(e).exiting(code);
    failure.message = format!("verification could not run: {}", failure.message);
    if format == VerifyFormat::Junit {
        crate::stdout::write(&report::junit_error(env, &failure));
    }
    failure.report(Some("verify"), format == VerifyFormat::Json);
    failure.exit_code
}

async fn checks(global: &GlobalArgs, args: &VerifyArgs) -> Result<(String, Vec<Check>), Error> {
    let session = Session::open(global, &args.stack, "verify", Locking::None, |_| Ok(())).await?;
    let recorded = session
        .state
        .as_ref()
        .map(|s| s.resources.clone())
        .unwrap_or_default();
    let ctx = session.context(false);
    let engine = session.engine()?;
    let (reports, found) = engine.discover(&ctx).await;
    let failures = reports.iter().filter_map(|r| match &r.outcome {
        Outcome::Failed(e) => Some(e),
        _ => None,
    });
    if let Some(denied) = Error::from_denied_steps(failures) {
        return Err(denied);
    }
    let mut checks = Vec::new();
    for ((resource, report), observed) in engine.resources().iter().zip(&reports).zip(&found) {
        let (name, kind) = (resource.name(), resource.kind());
        match (&report.outcome, observed) {
            (Outcome::Failed(Error::Duplicates { ids, .. }), _) => {
                checks.push(Check::new(
                    name,
                    kind,
                    "unique",
                    Value::from(1),
                    Value::from(ids.len()),
                ));
            }
            (Outcome::Failed(e), _) => return Err(Error::resource(name, e.to_string())),
            (Outcome::Skipped { because }, _) => {
                // Only a duplicated dependency gets here: other failures ended the run above.
                checks.push(Check::new(
                    name,
                    kind,
                    "exists",
                    Value::Bool(true),
                    Value::String(format!("not checked: {because} is duplicated")),
                ));
            }
            (Outcome::NotStarted, _) => return Err(Error::Interrupted),
            (Outcome::Done(_), None) => {
                checks.push(Check::new(
                    name,
                    kind,
                    "exists",
                    Value::Bool(true),
                    Value::Bool(false),
                ));
            }
            (Outcome::Done(_), Some(observed)) => {
                checks.push(Check::new(
                    name,
                    kind,
                    "exists",
                    Value::Bool(true),
                    Value::Bool(true),
                ));
                if let Some(record) = recorded.get(name) {
                    checks.push(Check::new(
                        name,
                        kind,
                        "recorded",
                        Value::from(record.id.as_str()),
                        Value::from(observed.record.id.as_str()),
                    ));
                }
                let desired = resource.desired(&ctx).await?;
                let failed = diff(&desired, &observed.properties);
                let transition = resource.in_transition(observed);
                if let Some(t) = &transition {
                    checks.push(Check::new(
                        name,
                        kind,
                        "settled",
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
                    let mut check = Check::new(name, kind, property, want.clone(), have);
                    // Object properties (tags) pass when every desired key matches.
                    check.passed = !failed.iter().any(|c| c.property == *property);
                    checks.push(check);
                }
            }
        }
    }
    Ok((session.settings.env().to_string(), checks))
}
