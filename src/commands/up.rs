//! `medtech up`: converge every resource, then write the outputs file.

use crate::cli::{GlobalArgs, StackArgs};
use crate::error::{Error, exit};
use crate::outputs;
use crate::run_summary::{self, Run, Summary};

use super::session::{Locking, Session};

pub(super) async fn run(global: &GlobalArgs, stack: &StackArgs) -> Result<u8, Error> {
    let session = Session::open(global, stack, "up", Locking::Exclusive, |_| Ok(())).await?;
    let ctx = session.context(true);
    let engine = session.engine()?;
    let reports = engine.up(&ctx).await;
    let env = session.settings.env().to_string();
    let summary = Summary::of(Run::Up, &reports);
    if session.json {
        let mut json = run_summary::json("up", &env, &reports, &session.clients.calls.totals());
        json["summary"] = summary.json();
        crate::outln!("{json}");
    } else if !global.quiet {
        eprint!(
            "\n{}\n{}\n",
            run_summary::table(&reports, &session.clients.calls.totals()),
            summary.line(crate::style::stderr())
        );
    }
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
