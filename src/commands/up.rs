//! `medtech up`: converge every resource, then write the outputs file.

use crate::cli::{GlobalArgs, StackArgs};
use crate::error::{Error, exit};
use crate::outputs;
use crate::run_summary::{self, Run};

use super::session::{Locking, Session};

pub(super) async fn run(global: &GlobalArgs, stack: &StackArgs) -> Result<u8, Error> {
    let session = Session::open(global, stack, "up", Locking::Exclusive, |_| Ok(())).await?;
    let result = converge(&session, global).await;
    session.close(result).await
}

async fn converge(session: &Session, global: &GlobalArgs) -> Result<u8, Error> {
    let ctx = session.context(true);
    let engine = session.engine()?;
    let reports = engine.up(&ctx).await;
    let env = session.settings.env().to_string();
    let calls = session.clients.calls.totals();
    run_summary::print(Run::Up, &env, &reports, &calls, session.json, global.quiet);
    session.confirmed().await?;
    run_summary::conclude(&reports, engine.interrupted())?;
    let outputs = outputs::build(&env, &session.clients.region, &ctx.records());
    outputs::write(&session.settings.outputs_file, &outputs)?;
    if !session.json && !global.quiet {
        eprintln!(
            "\nenvironment {env} is up; outputs in {}",
            session.settings.outputs_file.display()
        );
    }
    Ok(exit::OK)
}
