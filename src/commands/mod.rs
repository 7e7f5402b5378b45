//! The commands: each one resolves settings, opens a session (lock, AWS clients, state) and
//! hands the stack to the engine. They return an exit code for outcomes that are not errors
//! (`plan --detailed-exitcode`, a failed `verify` check).

mod bootstrap;
mod completions;
mod controls;
mod destroy;
mod graph;
mod history;
mod migrate;
mod outputs;
mod plan;
mod rotate;
mod session;
mod state;
mod up;
mod verify;

use crate::cli::{Cli, Command, StateCommand};
use crate::error::Error;

pub async fn run(cli: Cli) -> Result<u8, Error> {
    let global = &cli.global;
    match &cli.command {
        Command::Up(args) => up::run(global, &args.stack).await,
        Command::Plan(args) => plan::run(global, &args.stack, args.detailed_exitcode).await,
        Command::Verify(args) => verify::run(global, args).await,
        Command::Outputs(args) => outputs::run(global, args).await,
        Command::Destroy(args) => destroy::run(global, args).await,
        Command::Rotate(args) => rotate::run(global, args).await,
        Command::Graph => graph::run(global),
        Command::Controls(args) => controls::run(args.format),
        Command::Completions(args) => completions::completions(args.shell),
        Command::Man => completions::man(),
        Command::State(StateCommand::Show(args)) => match &args.version {
            None => state::show(global).await,
            Some(version) => history::show_version(global, version).await,
        },
        Command::State(StateCommand::History) => history::run(global).await,
        Command::State(StateCommand::Bootstrap(args)) => bootstrap::run(global, args).await,
        Command::State(StateCommand::Migrate(args)) => migrate::run(global, &args.to).await,
        Command::State(StateCommand::Refresh(args)) => state::refresh(global, &args.stack).await,
        Command::State(StateCommand::Unlock(args)) => state::unlock(global, &args.lock_id).await,
    }
}
