//! What every command that talks to AWS opens first: settings validated, the state lock
//! taken, state read, AWS connected, Ctrl-C watched; and from it the engine and its context.
//! A command that changes state ends with `close`: the last state written, the lock released.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Arc;

use crate::aws::Clients;
use crate::cli::{GlobalArgs, OutputMode, StackArgs};
use crate::config::Settings;
use crate::context::{Ctx, Persist};
use crate::engine::Engine;
use crate::engine::progress::{self, Progress};
use crate::error::Error;
use crate::interrupt::Interrupt;
use crate::resources;
use crate::state::State;
use crate::state::StateError;
use crate::state::store::{Confirmation, Held, LEASE, Store, Writer};

/// What a command that talks to AWS works with.
pub(crate) struct Session {
    pub(crate) settings: Settings,
    pub(crate) store: Store,
    pub(crate) clients: Clients,
    pub(crate) state: Option<State>,
    pub(crate) progress: Arc<dyn Progress>,
    pub(crate) interrupt: Interrupt,
    pub(crate) json: bool,
    writer: Arc<Writer>,
    lock: Option<Held>,
    /// Set when the state was read beside the lock (`up`): nothing changes AWS or the state
    /// until it confirms the read.
    confirmation: Option<Confirmation>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Locking {
    /// Commands that write state or change AWS.
    Exclusive,
    /// Read-only commands.
    None,
}

impl Session {
    /// Validates everything local first (settings, state file readable, lock free), then
    /// connects, so bad input never reaches AWS. State in S3 is locked and read once
    /// connected.
    pub(crate) async fn open(
        global: &GlobalArgs,
        stack: &StackArgs,
        command: &str,
        locking: Locking,
        before_connect: impl FnOnce(&Settings) -> Result<(), Error>,
    ) -> Result<Self, Error> {
        let settings = Settings::resolve(global, stack)?;
        before_connect(&settings)?;
        let env = settings.env().clone();
        let wait = global.lock_timeout.unwrap_or_default();
        let mut lock = None;
        let mut read_early = false;
        let clients;
        let store = match &settings.state_backend {
            // A local lock is taken before connecting: a second run is refused without a call.
            None => {
                let store = Store::local(&settings.state_dir, &env);
                if locking == Locking::Exclusive {
                    lock = Some(store.lock(command, wait).await?);
                }
                store.read().await?;
                clients = Clients::connect(&settings.aws).await?;
                store
            }
            // The S3 backend's checks and lock go at the same time as the first call to the
            // stack's account: each is a round trip.
            Some(location) => {
                let client = crate::aws::state_client(&settings.state_aws).await;
                let location = location.clone();
                // `up` reads the state in the lock's round trip, and confirms the read in the
                // background once the lock is its own (its first changes wait for that). A run
                // that waits for the lock reads after taking it.
                read_early = locking == Locking::Exclusive && command == "up" && wait.is_zero();
                let opening = async {
                    if locking == Locking::Exclusive {
                        let lease = LEASE.mul_f64(settings.time_scale);
                        Store::s3_locked(client, location, &env, command, wait, lease, read_early)
                            .await
                            .map(|(store, held)| (store, Some(held)))
                    } else {
                        Ok((Store::s3(client, location, &env).await?, None))
                    }
                };
                let (connected, opened) = tokio::join!(Clients::connect(&settings.aws), opening);
                let (store, held) = match (connected, opened) {
                    (Ok(connected), Ok(opened)) => {
                        clients = connected;
                        opened
                    }
                    // Credentials that fail explain a failing bucket too.
                    (Err(e), opened) => {
                        if let Ok((_, Some(held))) = opened {
                            Store::release(held).await.ok();
                        }
                        return Err(e.into());
                    }
                    (Ok(_), Err(e)) => return Err(e.into()),
                };
                lock = held;
                store
            }
        };
        let state = store.read().await?;
        let confirmation = read_early.then(|| store.confirm()).flatten();
        if let Some(state) = &state {
            state.check_owner(&store.name(), &env, &clients.region, &clients.account_id)?;
        }
        let interactive = std::io::stderr().is_terminal() && global.verbose == 0;
        let interrupt = Interrupt::default();
        watch_ctrl_c(interrupt.clone());
        Ok(Self {
            // Read-only commands print a report; in a log, their step lines would only repeat it.
            progress: progress::choose(
                interactive,
                global.quiet || (locking == Locking::None && !interactive),
            ),
            json: global.output == OutputMode::Json,
            writer: Arc::new(store.writer(lock.as_ref(), confirmation.clone())),
            confirmation,
            settings,
            store,
            clients,
            state,
            interrupt,
            lock,
        })
    }

    /// Ends a command that changed state: waits for the last state write, then gives the
    /// lock back. `result` is the command's; a failed write outranks it, since it is what
    /// stopped the run.
    pub(crate) async fn close(self, result: Result<u8, Error>) -> Result<u8, Error> {
        let confirmed = self.confirmed().await;
        let written = self.writer.finish().await;
        if let Some(lock) = self.lock
            && let Err(e) = Store::release(lock).await
        {
            tracing::warn!(error = %e, "the state lock was not released; it expires by itself");
        }
        confirmed?;
        written?;
        result
    }

    /// Waits until the state read beside the lock is known to hold (at once for any other
    /// read): what is written from it (the outputs) must not come from a stale read.
    pub(crate) async fn confirmed(&self) -> Result<(), Error> {
        match &self.confirmation {
            Some(confirmation) => Ok(confirmation.clone().await.map_err(StateError::Halted)?),
            None => Ok(()),
        }
    }

    /// Writes `state` at once (after the run's own records are written).
    pub(crate) async fn save(&self, state: &State) -> Result<(), Error> {
        self.writer.finish().await?;
        self.check_lock()?;
        Ok(self.store.save(state).await?)
    }

    /// Removes the state (after a complete `destroy`), once no write of the run is pending.
    pub(crate) async fn clear(&self) -> Result<(), Error> {
        self.writer.finish().await?;
        self.check_lock()?;
        Ok(self.store.clear().await?)
    }

    fn check_lock(&self) -> Result<(), Error> {
        match &self.lock {
            Some(lock) => Ok(lock.check()?),
            None => Ok(()),
        }
    }

    /// The context for the engine, seeded with the records in state. With `persist`, every
    /// record change is written to the state file at once.
    pub(crate) fn context(&self, persist: bool) -> Ctx {
        // No state file yet: nothing is recorded, and every resource is looked up by its tags.
        let records = self
            .state
            .as_ref()
            .map_or_else(BTreeMap::new, |s| s.resources.clone());
        let persist: Option<Persist> = persist.then(|| {
            let writer = Arc::clone(&self.writer);
            let interrupt = self.interrupt.clone();
            let mut template = self.state.clone().unwrap_or_else(|| {
                State::new(
                    self.settings.env(),
                    &self.clients.region,
                    &self.clients.account_id,
                )
            });
            template.resources.clear();
            Box::new(move |records: &BTreeMap<_, _>| {
                let mut state = template.clone();
                state.resources = records.clone();
                state.updated_at = chrono::Utc::now();
                // State that can no longer be written stops the run as Ctrl-C does: no step
                // starts whose result could not be recorded.
                writer.record(state).map_err(|e| {
                    interrupt.raise();
                    Error::from(e)
                })
            }) as Persist
        });
        Ctx::new(
            self.clients.clone(),
            self.settings.clone(),
            records,
            self.progress.clone(),
            persist,
            self.interrupt.clone(),
        )
        .changing_after(self.confirmation.clone())
    }

    pub(crate) fn engine(&self) -> Result<Engine, Error> {
        Engine::new(
            resources::stack(),
            self.settings.parallelism,
            self.interrupt.clone(),
            self.progress.clone(),
        )
        .map_err(|e| Error::resource("stack", e.to_string()))
    }
}

/// The state of `--env` for commands that only read it (`outputs`, `state show`): no lock,
/// and no AWS call but the S3 backend's. Returns where it was looked for, and what was there.
pub(crate) async fn peek(global: &GlobalArgs) -> Result<(Settings, String, Option<State>), Error> {
    let settings = Settings::resolve(global, &StackArgs::default())?;
    let store = match &settings.state_backend {
        None => Store::local(&settings.state_dir, settings.env()),
        Some(location) => {
            let client = crate::aws::state_client(&settings.state_aws).await;
            Store::s3(client, location.clone(), settings.env()).await?
        }
    };
    let state = store.read().await?;
    Ok((settings, store.name(), state))
}

/// First Ctrl-C: stop starting steps, let running ones finish, save state. Second: leave now
/// (state is already written after every step).
fn watch_ctrl_c(interrupt: Interrupt) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!(
                "\ninterrupt: finishing the steps under way, then stopping (Ctrl-C again to quit now)"
            );
            interrupt.raise();
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(i32::from(crate::error::exit::INTERRUPTED));
            }
        }
    });
}
