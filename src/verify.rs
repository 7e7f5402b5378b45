//! `medtech verify`: reads every resource back from AWS and checks each required property
//! against its desired value, plus that the resource exists. A report for people (failures
//! first) or for machines (`--output json`); exit 1 when a check fails, 2 when verification
//! itself could not run.

use serde::Serialize;
use serde_json::Value;

use crate::cli::{GlobalArgs, StackArgs};
use crate::commands::{Locking, Session};
use crate::engine::Outcome;
use crate::error::{Error, exit};
use crate::resource::diff;

/// Verification could not run (no access, bad input, unreadable state).
pub const COULD_NOT_RUN: u8 = 2;

#[derive(Debug, Serialize)]
pub struct Check {
    pub id: String,
    pub resource: String,
    pub passed: bool,
    pub expected: Value,
    pub observed: Value,
}

pub async fn run(global: &GlobalArgs, stack: &StackArgs) -> Result<u8, Error> {
    match checks(global, stack).await {
        Ok(checks) => Ok(print(&checks, global)),
        Err(e) => {
            eprintln!("error: {e}");
            Ok(COULD_NOT_RUN)
        }
    }
}

async fn checks(global: &GlobalArgs, stack: &StackArgs) -> Result<Vec<Check>, Error> {
    let session = Session::open(global, stack, "verify", Locking::None, |_| Ok(())).await?;
    let ctx = session.context(false);
    let engine = session.engine()?;
    let (reports, found) = engine.discover(&ctx).await;
    if let Some(e) = reports.iter().find_map(|r| match &r.outcome {
        Outcome::Failed(e) => Some(e),
        _ => None,
    }) {
        return Err(Error::resource("verify", e.to_string()));
    }
    let mut checks = Vec::new();
    for (resource, observed) in engine.resources().iter().zip(&found) {
        let name = resource.name();
        let Some(observed) = observed else {
            checks.push(Check {
                id: format!("{name}.exists"),
                resource: name.to_owned(),
                passed: false,
                expected: Value::Bool(true),
                observed: Value::Bool(false),
            });
            continue;
        };
        checks.push(Check {
            id: format!("{name}.exists"),
            resource: name.to_owned(),
            passed: true,
            expected: Value::Bool(true),
            observed: Value::Bool(true),
        });
        let desired = resource.desired(&ctx).await?;
        let failed = diff(&desired, &observed.properties);
        for (property, want) in &desired {
            let failure = failed.iter().find(|c| c.property == *property);
            checks.push(Check {
                id: format!("{name}.{property}"),
                resource: name.to_owned(),
                passed: failure.is_none(),
                expected: want.clone(),
                observed: observed
                    .properties
                    .get(property)
                    .cloned()
                    .unwrap_or(Value::Null),
            });
        }
    }
    Ok(checks)
}

fn print(checks: &[Check], global: &GlobalArgs) -> u8 {
    let failed = checks.iter().filter(|c| !c.passed).count();
    if global.output == crate::cli::OutputMode::Json {
        let report = serde_json::json!({
            "passed": failed == 0,
            "total": checks.len(),
            "failed": failed,
            "checks": checks,
        });
        println!("{report}");
    } else {
        let mut ordered: Vec<&Check> = checks.iter().collect();
        ordered.sort_by_key(|c| c.passed);
        for c in ordered {
            if c.passed {
                println!("PASS  {}", c.id);
            } else {
                println!(
                    "FAIL  {}  expected {} observed {}",
                    c.id, c.expected, c.observed
                );
            }
        }
        println!("\n{} checks, {} failed", checks.len(), failed);
    }
    if failed == 0 { exit::OK } else { exit::FAILED }
}
