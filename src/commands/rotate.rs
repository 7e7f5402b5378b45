//! `medtech rotate`: rotates the credentials of the environment under its state lock, each
//! step recorded in state before the next (`crate::rotation`).

use async_trait::async_trait;
use futures::future::join_all;
use serde_json::json;
use tokio::sync::Mutex;

use super::session::{Locking, Session};
use crate::cli::{GlobalArgs, RotateArgs, SecretChoice, StackArgs};
use crate::config::ConfigError;
use crate::error::{Error, exit};
use crate::logical::{Holds, Logical};
use crate::rotation::{self, Journal, Outcome, Request};
use crate::state::State;
use crate::state::rotation::Rotation;

pub(super) async fn run(global: &GlobalArgs, args: &RotateArgs) -> Result<u8, Error> {
    let session = Session::open(
        global,
        &StackArgs::default(),
        "rotate",
        Locking::Exclusive,
        |_| Ok(()),
    )
    .await?;
    let result = rotate(&session, global, args).await;
    session.close(result).await
}

async fn rotate(session: &Session, global: &GlobalArgs, args: &RotateArgs) -> Result<u8, Error> {
    let env = session.settings.env();
    let chosen: &[Holds] = match args.secret {
        SecretChoice::Rds => &[Holds::RdsCredentials],
        SecretChoice::Redis => &[Holds::RedisAuthToken],
        SecretChoice::All => &Holds::ALL,
    };
    let state = session
        .state
        .clone()
        .unwrap_or_else(|| State::new(env, &session.clients.region, &session.clients.account_id));
    // Only what `up` made and recorded is rotated: a secret found by its tags alone may not
    // be the one the service uses.
    for &secret in chosen {
        let recorded = state
            .resources
            .get(Logical::Secret(secret).as_str())
            .is_some_and(|r| r.attr("arn").is_some());
        if !recorded {
            return Err(ConfigError::new(
                format!("--env {env}"),
                format!(
                    "{} is not recorded in {}; run `medtech up --env {env}` first (or `medtech state refresh --env {env}` if the stack exists)",
                    Logical::Secret(secret),
                    session.store.name()
                ),
            )
            .into());
        }
    }
    let ctx = session.context(false);
    let request = Request {
        older_than: args.if_older_than,
        grace: args.grace,
    };
    let journal = StateJournal {
        session,
        state: Mutex::new(state.clone()),
    };
    // Side by side: each waits minutes for its own service.
    let results = join_all(chosen.iter().map(|&secret| {
        let recorded = state
            .rotations
            .get(Logical::Secret(secret).as_str())
            .cloned();
        rotation::run(&ctx, &journal, secret, recorded, &request)
    }))
    .await;
    let mut outcomes = Vec::new();
    let mut first_error = None;
    for result in results {
        match result {
            Ok(outcome) => outcomes.push(outcome),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    report(env.as_str(), &outcomes, session.json, global.quiet);
    match first_error {
        Some(e) => Err(e),
        None => Ok(exit::OK),
    }
}

fn report(env: &str, outcomes: &[Outcome], json: bool, quiet: bool) {
    if json {
        crate::outln!(
            "{}",
            json!({
                "format_version": 1,
                "command": "rotate",
                "environment": env,
                "secrets": outcomes,
            })
        );
        return;
    }
    if quiet {
        return;
    }
    for o in outcomes {
        match &o.version_id {
            Some(v) => eprintln!("{}: {} (AWSCURRENT is version {v})", o.secret, o.detail),
            None => eprintln!("{}: {}", o.secret, o.detail),
        }
    }
}

/// Each step goes to the state before the next one starts.
struct StateJournal<'a> {
    session: &'a Session,
    state: Mutex<State>,
}

#[async_trait]
impl Journal for StateJournal<'_> {
    async fn write(&self, secret: Holds, rotation: Option<&Rotation>) -> Result<(), Error> {
        let mut state = self.state.lock().await;
        let key = Logical::Secret(secret).to_string();
        match rotation {
            Some(r) => state.rotations.insert(key, r.clone()),
            None => state.rotations.remove(&key),
        };
        state.updated_at = chrono::Utc::now();
        self.session.save(&state).await
    }
}
