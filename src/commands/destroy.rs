//! `medtech destroy`: find everything of the environment (state, then tags), delete it in
//! reverse dependency order, wait until it is gone, then clear the state.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use crate::cli::{DestroyArgs, GlobalArgs};
use crate::context::Ctx;
use crate::engine::{Action, Outcome, StepReport};
use crate::error::{Error, exit};
use crate::logical::Logical;
use crate::outputs;
use crate::resources::backup::vault;
use crate::run_summary::{self, Run, Summary};
use crate::state::{Record, State};

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
    retirement.delete_recovery_points = args.delete_recovery_points;
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
        remove_outputs(&session.settings.outputs_file, &env, global.quiet)?;
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
    let retirement = &session.settings.services.destroy;
    let vault = kept_vault(&ctx, &reports).await?;
    match &vault {
        // What remains is what state records: the next `up` takes the vault back, and the
        // next `destroy` finds it again.
        Some((record, _)) => {
            let clients = &session.clients;
            let mut state =
                State::new(session.settings.env(), &clients.region, &clients.account_id);
            state
                .resources
                .insert(Logical::BackupVault.to_string(), record.clone());
            session.save(&state).await?;
        }
        None => session.clear().await?,
    }
    remove_outputs(&session.settings.outputs_file, &env, global.quiet)?;
    let mut kept = Vec::new();
    if !retirement.skip_final_snapshot && deleted(&reports, Logical::RdsInstance) {
        kept.push(format!(
            "the final snapshot {}-final-*",
            session.settings.names.rds_instance()
        ));
    }
    if let Some((record, points)) = &vault {
        eprintln!(
            "kept: backup vault {} with its {points} recovery points (AWS Backup deletes no vault that holds any); \
             the next `medtech up` of {env} takes it back, and `medtech destroy --delete-recovery-points` deletes them and the vault",
            record.id
        );
        kept.push(format!("the recovery points of backup vault {}", record.id));
    }
    let key = reports
        .iter()
        .find(|r| r.resource == Logical::KmsKey.as_str())
        .and_then(|r| r.id.clone());
    if let (false, Some(key)) = (kept.is_empty(), key) {
        // What is kept outlives the key it is encrypted with unless someone acts.
        eprintln!(
            "warning: {} encrypted with KMS key {key}, scheduled for deletion in {} days; \
             to keep them restorable, cancel the key deletion (aws kms cancel-key-deletion --key-id {key}) \
             or copy them with another key before then",
            kept.join(" and "),
            retirement.kms_deletion_window_days
        );
    }
    if !session.json && !global.quiet {
        let but = if vault.is_some() {
            ", but for its backup vault"
        } else {
            ""
        };
        eprintln!("\nenvironment {env} is destroyed{but}");
    }
    Ok(exit::OK)
}

/// Deletes the environment's outputs file, and says so.
fn remove_outputs(path: &Path, env: &str, quiet: bool) -> Result<(), Error> {
    if outputs::remove_destroyed(path, env)? && !quiet {
        eprintln!(
            "removed {}: the ids it held are gone with the stack",
            path.display()
        );
    }
    Ok(())
}

/// Whether the run deleted `resource` (it was there, and its step went through).
fn deleted(reports: &[StepReport], resource: Logical) -> bool {
    reports.iter().any(|r| {
        r.resource == resource.as_str() && matches!(r.outcome, Outcome::Done(Action::Deleted))
    })
}

/// The backup vault the run left in place because it holds recovery points, and how many;
/// `None` when the vault was not there or is gone.
async fn kept_vault(ctx: &Ctx, reports: &[StepReport]) -> Result<Option<(Record, i64)>, Error> {
    if ctx.settings.services.destroy.delete_recovery_points
        || !deleted(reports, Logical::BackupVault)
    {
        return Ok(None);
    }
    vault::kept(ctx).await
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
