//! `medtech verify`: discovers the stack, checks it (`crate::verify`) and reports in the format
//! asked for. Exit 0 when all pass, 1 when any fails, 2 when verification could not run.

use std::collections::BTreeMap;

use super::session::{Locking, Session};
use crate::cli::{GlobalArgs, OutputMode, VerifyArgs, VerifyFormat};
use crate::engine::Outcome;
use crate::error::{Error, exit};
use crate::failure::Failure;
use crate::verify::{COULD_NOT_RUN, Check, assess, check_report};

pub(super) async fn run(global: &GlobalArgs, args: &VerifyArgs) -> Result<u8, Error> {
    let format = match (args.format, global.output) {
        (Some(format), _) => format,
        (None, OutputMode::Json) => VerifyFormat::Json,
        (None, OutputMode::Text) => VerifyFormat::Table,
    };
    match checks(global, args).await {
        Ok((env, checks)) => {
            check_report::emit(&env, &checks, format)?;
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
    // A step's refusal comes gathered (`AccessDenied`); a read of `--account`'s, as it is.
    let code = if matches!(e, Error::AccessDenied { .. }) || e.denied_action().is_some() {
        exit::AWS_ACCESS
    } else {
        COULD_NOT_RUN
    };
    let mut failure = Failure::of(e).exiting(code);
    failure.message = format!("verification could not run: {}", failure.message);
    if format == VerifyFormat::Junit {
        crate::stdout::write(&check_report::junit_error(env, &failure));
    }
    failure.report(Some("verify"), format == VerifyFormat::Json);
    failure.exit_code
}

async fn checks(global: &GlobalArgs, args: &VerifyArgs) -> Result<(String, Vec<Check>), Error> {
    let session = Session::open(global, &args.stack, "verify", Locking::None, |_| Ok(())).await?;
    // No state file yet: nothing is recorded, and every resource is looked up by its tags.
    let recorded = session
        .state
        .as_ref()
        .map_or_else(BTreeMap::new, |s| s.resources.clone());
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
    let mut checks = assess(&ctx, &engine, &reports, &found, &recorded).await?;
    let rotations = session
        .state
        .as_ref()
        .map(|s| s.rotations.clone())
        .unwrap_or_default();
    checks.extend(crate::rotation::checks::checks(&ctx, &rotations).await?);
    if args.account {
        checks.extend(crate::verify::account::checks(&ctx.clients).await?);
    }
    Ok((session.settings.env().to_string(), checks))
}
