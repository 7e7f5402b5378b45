//! `medtech state show` and `medtech state refresh`: look at the state file, or rebuild it
//! from what AWS reports when it was lost or went stale.

use crate::cli::{GlobalArgs, StackArgs};
use crate::config::ConfigError;
use crate::error::{Error, exit};
use crate::naming::EnvName;
use crate::run_summary;
use crate::state::StatePaths;

use super::session::{Locking, Session};

pub(super) fn show(global: &GlobalArgs) -> Result<u8, Error> {
    let raw = global
        .env
        .as_deref()
        .ok_or_else(|| ConfigError::new("--env", "missing; pass --env NAME or set MEDTECH_ENV"))?;
    let env = EnvName::parse(raw)
        .map_err(|problem| ConfigError::new(format!("--env {raw:?}"), problem))?;
    let paths = StatePaths::new(&global.state_dir, &env);
    let state = paths.read()?.ok_or_else(|| {
        ConfigError::new(
            format!("--env {env}"),
            format!(
                "no state in {}; run `medtech state refresh --env {env}` to rebuild it from AWS",
                paths.file.display()
            ),
        )
    })?;
    let text = serde_json::to_string_pretty(&state).map_err(|e| Error::Io {
        path: paths.file.display().to_string(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })?;
    crate::outln!("{text}");
    Ok(exit::OK)
}

pub(super) async fn refresh(global: &GlobalArgs, stack: &StackArgs) -> Result<u8, Error> {
    let session = Session::open(global, stack, "state refresh", Locking::Exclusive, |_| {
        Ok(())
    })
    .await?;
    let result = rebuild(&session, global).await;
    session.close(result).await
}

async fn rebuild(session: &Session, global: &GlobalArgs) -> Result<u8, Error> {
    let ctx = session.context(true);
    let engine = session.engine()?;
    let (reports, found) = engine.discover(&ctx).await;
    run_summary::conclude(&reports, engine.interrupted())?;
    // Written even when nothing was found, so a refresh always leaves a current file.
    let mut state = session.state.clone().unwrap_or_else(|| {
        crate::state::State::new(
            session.settings.env(),
            &session.clients.region,
            &session.clients.account_id,
        )
    });
    state.resources = ctx.records();
    state.updated_at = chrono::Utc::now();
    session.save(&state).await?;
    if !global.quiet {
        eprintln!(
            "{} of {} resources found; {} rewritten",
            found.iter().flatten().count(),
            found.len(),
            session.store.name()
        );
    }
    Ok(exit::OK)
}
