//! `medtech state show`, `state refresh` and `state unlock`: look at the state, rebuild it
//! from what AWS reports when it was lost or went stale, or break a lock whose run is gone.

use crate::cli::{GlobalArgs, StackArgs};
use crate::config::ConfigError;
use crate::error::{Error, exit};
use crate::run_summary;

use super::session::{Locking, Session, peek};

pub(super) async fn show(global: &GlobalArgs) -> Result<u8, Error> {
    let (settings, place, state) = peek(global).await?;
    let env = settings.env();
    let state = state.ok_or_else(|| {
        ConfigError::new(
            format!("--env {env}"),
            format!(
                "no state in {place}; run `medtech state refresh --env {env}` to rebuild it from AWS"
            ),
        )
    })?;
    let text = serde_json::to_string_pretty(&state).map_err(|e| Error::Io {
        path: place,
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

/// Breaks the S3 lock `lock_id` of `--env`, and says whose it was.
pub(super) async fn unlock(global: &GlobalArgs, lock_id: &str) -> Result<u8, Error> {
    let settings = crate::config::Settings::resolve(global, &StackArgs::default())?;
    let env = settings.env();
    let Some(location) = &settings.state_backend else {
        return Err(ConfigError::new(
            "--state-backend",
            "not set: a local state lock is released by the system when its process ends, so there is none to break; pass the s3:// backend whose lock you mean",
        )
        .into());
    };
    let client = crate::aws::state_client(&settings.state_aws).await;
    let holder = crate::state::lease::unlock(&client, location, env, lock_id).await?;
    if !global.quiet {
        eprintln!(
            "broke the lock {lock_id} of {}: it was held by {holder}",
            location.url(&location.state_key(env))
        );
    }
    Ok(exit::OK)
}
