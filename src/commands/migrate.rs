//! `medtech state migrate`: moves an environment's state from the backend it is in (local, or
//! --state-backend) to another (`--to s3://BUCKET/PREFIX`, or `--to local` for --state-dir),
//! with both locks held. The copy is read back and compared before the original goes, and a
//! target that already holds state is never overwritten: a migrate stopped half-way leaves both
//! copies, and the next one says how to finish.
//!
//! The state's environment is checked, its account is not: that would need STS, and migrate
//! makes no AWS call but S3's.

use crate::cli::{GlobalArgs, StackArgs};
use crate::config::location::S3Location;
use crate::config::{ConfigError, Settings};
use crate::error::{Error, exit};
use crate::naming::EnvName;
use crate::state::store::{Held, Store};
use crate::state::{State, StateError};

const COMMAND: &str = "state migrate";

pub(super) async fn run(global: &GlobalArgs, to: &str) -> Result<u8, Error> {
    let settings = Settings::resolve(global, &StackArgs::default())?;
    let env = settings.env();
    let target = if to == "local" {
        None
    } else {
        let location = S3Location::parse(to).map_err(|problem| {
            ConfigError::new(
                format!("--to {to:?}"),
                format!("{problem}; or give `local` to move it to --state-dir"),
            )
        })?;
        Some(location)
    };
    if target == settings.state_backend {
        let here = settings.state_backend.as_ref().map_or_else(
            || format!("local, {}", settings.state_dir.display()),
            S3Location::to_string,
        );
        return Err(ConfigError::new(
            format!("--to {to:?}"),
            format!(
                "the state of {env} is there already ({here}); name the other backend, or set --state-backend to where the state is now"
            ),
        )
        .into());
    }
    let client = crate::aws::state_client(&settings.aws).await;
    let source = open(&settings, &client, settings.state_backend.as_ref()).await?;
    let target = open(&settings, &client, target.as_ref()).await?;

    // Taken in one order whatever the direction, so that two migrates going opposite ways
    // with --lock-timeout cannot each hold one lock and wait for the other.
    let wait = global.lock_timeout.unwrap_or_default();
    let (lock_first, lock_second) = if source.name() <= target.name() {
        (&source, &target)
    } else {
        (&target, &source)
    };
    let first = lock_first.lock(COMMAND, wait).await?;
    let second = match lock_second.lock(COMMAND, wait).await {
        Ok(held) => held,
        Err(e) => {
            release(first).await;
            return Err(e.into());
        }
    };
    let moved = relocate(&source, &target, env, [&first, &second]).await;
    release(first).await;
    release(second).await;
    let resources = moved?;
    if !global.quiet {
        eprintln!(
            "moved state of {env} from {} to {} ({resources} resources)",
            source.name(),
            target.name()
        );
    }
    Ok(exit::OK)
}

/// The local store under --state-dir, or the S3 store at `location` once its bucket is found
/// fit for state.
async fn open(
    settings: &Settings,
    client: &aws_sdk_s3::Client,
    location: Option<&S3Location>,
) -> Result<Store, StateError> {
    match location {
        None => Ok(Store::local(&settings.state_dir, settings.env())),
        Some(location) => Store::s3(client.clone(), location.clone(), settings.env()).await,
    }
}

async fn release(held: Held) {
    if let Err(e) = Store::release(held).await {
        tracing::warn!(error = %e, "a state lock was not released; it expires by itself");
    }
}

/// Copies the state, checks the copy, removes the original; the number of resources moved.
async fn relocate(
    source: &Store,
    target: &Store,
    env: &EnvName,
    held: [&Held; 2],
) -> Result<usize, Error> {
    let (from, to) = (source.name(), target.name());
    let state = source.read().await?.ok_or_else(|| {
        ConfigError::new(
            format!("--env {env}"),
            format!("no state in {from}, so nothing to move; point --state-dir or --state-backend at where it is"),
        )
    })?;
    // Only the environment: the region and account the state names are taken as they are.
    state.check_owner(&from, env, &state.region, &state.account_id)?;
    if let Some(there) = target.read().await? {
        return Err(occupied(source, target, &state, &there).into());
    }
    check(held)?;
    target.save(&state).await?;
    match target.read().await? {
        Some(copy) if copy == state => {}
        copy => {
            let found = if copy.is_some() {
                "differs from the original"
            } else {
                "is missing"
            };
            return Err(state_problem(&to, format!(
                    "the copy read back {found}; {from} was left in place: remove this copy by hand ({}) and run the migrate again",
                    removal(target)
                ),
            )
            .into());
        }
    }
    check(held)?;
    source.clear().await.map_err(|e| {
        state_problem(&from, format!(
                "the state was copied to {to} and checked there, but could not be removed here ({e}); remove it by hand ({}) to finish the move",
                removal(source)
            ),
        )
    })?;
    Ok(state.resources.len())
}

fn check(held: [&Held; 2]) -> Result<(), StateError> {
    held.iter().try_for_each(|held| held.check())
}

/// A target that holds state already: never overwritten. Equal states are what a migrate that
/// stopped before removing the original leaves.
fn occupied(source: &Store, target: &Store, state: &State, there: &State) -> StateError {
    let (from, to) = (source.name(), target.name());
    let problem = if there == state {
        format!(
            "already holds this same state of {}: an earlier migrate stopped before removing {from}; nothing was changed: remove {from} by hand ({}) to finish the move",
            state.environment,
            removal(source)
        )
    } else {
        let summary = |s: &State| {
            format!(
                "{} resources, updated {}",
                s.resources.len(),
                s.updated_at.format("%Y-%m-%d %H:%M:%S UTC")
            )
        };
        format!(
            "already holds state of {} ({}), not the one in {from} ({}); nothing was changed: keep the one you mean and remove the other by hand ({}, or {}), then run the migrate again if it was the target",
            state.environment,
            summary(there),
            summary(state),
            removal(target),
            removal(source)
        )
    };
    state_problem(&to, problem)
}

/// A state problem (exit 3) about `path`, in one line.
fn state_problem(path: &str, problem: String) -> StateError {
    StateError::Migrate {
        path: path.to_owned(),
        detail: problem,
    }
}

/// The command that removes a store's state by hand.
fn removal(store: &Store) -> String {
    match store {
        Store::Local(paths) => format!("`rm {} {}`", paths.file.display(), paths.backup.display()),
        Store::S3(store) => format!("`aws s3 rm {}`; the bucket keeps its versions", store.url()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::testing::{env, with_vpc};

    /// Two local directories stand for two backends: `run` refuses that, `relocate` does not
    /// care which kinds its stores are.
    async fn stores() -> (tempfile::TempDir, Store, Store, Held, Held) {
        let dir = tempfile::tempdir().unwrap();
        let source = Store::local(&dir.path().join("a"), &env());
        let target = Store::local(&dir.path().join("b"), &env());
        let a = source.lock(COMMAND, Default::default()).await.unwrap();
        let b = target.lock(COMMAND, Default::default()).await.unwrap();
        (dir, source, target, a, b)
    }

    #[tokio::test]
    async fn relocate_moves_checks_and_removes_the_original() {
        let (_dir, source, target, a, b) = stores().await;
        source.save(&with_vpc("vpc-1")).await.unwrap();
        source.save(&with_vpc("vpc-2")).await.unwrap();
        assert_eq!(
            relocate(&source, &target, &env(), [&a, &b]).await.unwrap(),
            1
        );
        assert_eq!(target.read().await.unwrap(), Some(with_vpc("vpc-2")));
        let Store::Local(paths) = &source else {
            unreachable!()
        };
        assert!(!paths.file.exists() && !paths.backup.exists());

        // Nothing left to move: bad input.
        let err = relocate(&source, &target, &env(), [&a, &b])
            .await
            .unwrap_err();
        assert_eq!(err.exit_code(), exit::INVALID_INPUT, "{err}");
    }

    #[tokio::test]
    async fn a_target_holding_state_is_left_as_it_is_and_the_message_says_how_to_finish() {
        let (_dir, source, target, a, b) = stores().await;
        source.save(&with_vpc("vpc-1")).await.unwrap();
        target.save(&with_vpc("vpc-1")).await.unwrap();
        let err = relocate(&source, &target, &env(), [&a, &b])
            .await
            .unwrap_err();
        let text = err.to_string();
        assert_eq!(err.exit_code(), exit::STATE, "{text}");
        assert!(text.contains("an earlier migrate stopped"), "{text}");
        assert!(text.contains(&format!("rm {}", source.name())), "{text}");
        assert!(!text.contains('\n'), "{text}");

        target.save(&with_vpc("vpc-9")).await.unwrap();
        let text = relocate(&source, &target, &env(), [&a, &b])
            .await
            .unwrap_err()
            .to_string();
        assert!(text.contains("not the one in"), "{text}");
        assert_eq!(source.read().await.unwrap(), Some(with_vpc("vpc-1")));
        assert_eq!(target.read().await.unwrap(), Some(with_vpc("vpc-9")));
    }

    #[tokio::test]
    async fn another_environments_state_is_not_moved() {
        let (_dir, source, target, a, b) = stores().await;
        let mut other = with_vpc("vpc-1");
        other.environment = "prod".into();
        source.save(&other).await.unwrap();
        let err = relocate(&source, &target, &env(), [&a, &b])
            .await
            .unwrap_err();
        assert!(err.to_string().contains("\"prod\""), "{err}");
        assert_eq!(target.read().await.unwrap(), None);
    }
}
