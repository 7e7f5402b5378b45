//! `medtech destroy`: find everything of the environment (state, then tags), delete it in
//! reverse dependency order, wait until it is gone, then clear the state.

use std::io::{BufRead, IsTerminal, Write};

use crate::cli::{DestroyArgs, GlobalArgs};
use crate::error::{Error, exit};
use crate::run_summary::{self, Run, Summary};

use super::session::{Locking, Session};

pub(super) async fn run(global: &GlobalArgs, args: &DestroyArgs) -> Result<u8, Error> {
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let mut session = Session::open(global, &args.stack, "destroy", Locking::Exclusive, |_| {
        if args.yes || interactive {
            Ok(())
        } else {
            Err(Error::Confirmation(
                "--yes: destroy deletes the environment's data and there is no terminal to confirm on; pass --yes".into(),
            ))
        }
    })
    .await?;
    let retirement = &mut session.settings.services.destroy;
    retirement.skip_final_snapshot = args.skip_final_snapshot;
    retirement.force_delete_secrets = args.force_delete_secrets;
    let result = delete(&session, global, args).await;
    session.close(result).await
}

async fn delete(session: &Session, global: &GlobalArgs, args: &DestroyArgs) -> Result<u8, Error> {
    let env = session.settings.env().to_string();
    let ctx = session.context(true);
    let engine = session.engine()?;
    let (found_reports, found) = engine.discover(&ctx).await;
    run_summary::conclude(&found_reports, engine.interrupted())?;
    let count = found.iter().flatten().count();
    if count == 0 {
        session.clear().await?;
        // Every step of the discovery is `absent`: the run's document and counts say so.
        let summary = Summary::of(Run::Destroy, &found_reports);
        if session.json {
            let mut json = run_summary::json(
                "destroy",
                &env,
                &found_reports,
                &session.clients.calls.totals(),
            );
            json["summary"] = summary.json();
            crate::outln!("{json}");
        } else if !global.quiet {
            eprintln!(
                "nothing to destroy: no resource of environment {env} exists\n{}",
                summary.line(crate::style::stderr())
            );
        }
        return Ok(exit::OK);
    }
    if !args.yes {
        confirm(
            &env,
            count,
            &session.clients.region,
            &session.clients.account_id,
        )?;
    }
    let reports = engine.destroy(&ctx, &found).await;
    let calls = session.clients.calls.totals();
    run_summary::print(
        Run::Destroy,
        &env,
        &reports,
        &calls,
        session.json,
        global.quiet,
    );
    run_summary::conclude(&reports, engine.interrupted())?;
    session.clear().await?;
    let retirement = &session.settings.services.destroy;
    let snapshot_kept = !retirement.skip_final_snapshot
        && reports.iter().any(|r| {
            r.resource == "rds"
                && matches!(
                    r.outcome,
                    crate::engine::Outcome::Done(crate::engine::Action::Deleted)
                )
        });
    let key = reports
        .iter()
        .find(|r| r.resource == "kms")
        .and_then(|r| r.id.clone());
    if let (true, Some(key)) = (snapshot_kept, key) {
        // The snapshot outlives the key it is encrypted with unless someone acts.
        eprintln!(
            "warning: the final snapshot {}-final-* is encrypted with KMS key {key}, scheduled for deletion in {} days; \
             to keep the snapshot restorable, cancel the key deletion (aws kms cancel-key-deletion --key-id {key}) \
             or copy the snapshot with another key before then",
            session.settings.names.rds_instance(),
            retirement.kms_deletion_window_days
        );
    }
    if !session.json && !global.quiet {
        eprintln!("\nenvironment {env} is destroyed");
    }
    Ok(exit::OK)
}

fn confirm(env: &str, count: usize, region: &str, account: &str) -> Result<(), Error> {
    let mut stderr = std::io::stderr();
    let _ = write!(
        stderr,
        "This deletes {count} resources of environment {env} in {region} (account {account}).\nType the environment name to confirm: "
    );
    let _ = stderr.flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|source| Error::Io {
            path: "stdin".into(),
            source,
        })?;
    if answer.trim() == env {
        Ok(())
    } else {
        Err(Error::Confirmation(format!(
            "confirmation: got {:?}, not {env:?}; nothing was deleted",
            answer.trim()
        )))
    }
}
