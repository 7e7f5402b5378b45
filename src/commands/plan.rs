//! `medtech plan`: what `up` would create, change or leave — the same reads and diffs as
//! `up`, stopping before any mutating call, and no state written.

use crate::cli::{GlobalArgs, StackArgs};
use crate::engine::{Action, Outcome};
use crate::error::{Error, exit};
use crate::report;

use super::{Locking, Session};

/// `--detailed-exitcode`: changes pending.
const CHANGES: u8 = 2;

/// Under `--detailed-exitcode` an error exits 1, never 2: `failure::Failure` sees to it for
/// every error, including a command line clap rejects.
pub async fn run(global: &GlobalArgs, stack: &StackArgs, detailed: bool) -> Result<u8, Error> {
    let session = Session::open(global, stack, "plan", Locking::None, |_| Ok(())).await?;
    let ctx = session.context(false);
    let engine = session.engine()?;
    let reports = engine.plan(&ctx).await;
    let env = session.settings.env().to_string();
    // In state but no longer part of the stack (made by another medtech version).
    let orphans: Vec<(String, String)> = session
        .state
        .iter()
        .flat_map(|s| &s.resources)
        .filter(|(name, _)| !engine.resources().iter().any(|r| r.name() == name.as_str()))
        .map(|(name, record)| (name.clone(), record.id.clone()))
        .collect();
    // What a create would pick that the config leaves open (the engine's minor version); a
    // choice that cannot be made (a retired pinned version) fails the plan as it would `up`.
    let mut notes = serde_json::Map::new();
    let mut unresolved = None;
    for r in &reports {
        if matches!(r.outcome, Outcome::Done(Action::WouldCreate)) {
            match crate::resources::rds_engine::create_note(&ctx, &r.resource).await {
                Some(Ok(note)) => {
                    notes.insert(r.resource.clone(), note.into());
                }
                Some(Err(e)) => unresolved = Some(e),
                None => {}
            }
        }
    }
    if session.json {
        let mut json = report::json("plan", &env, &reports, &session.clients.calls.totals());
        json["notes"] = notes.clone().into();
        json["orphans"] = orphans
            .iter()
            .map(|(name, id)| serde_json::json!({"resource": name, "id": id, "action": "delete"}))
            .collect();
        crate::outln!("{json}");
    } else {
        let mut text = String::new();
        for r in &reports {
            let line = match &r.outcome {
                Outcome::Done(Action::Unchanged) => continue,
                Outcome::Done(Action::WouldCreate) => {
                    let note = notes
                        .get(&r.resource)
                        .and_then(|n| n.as_str())
                        .map_or(String::new(), |n| format!(": {n}"));
                    format!("  + {} ({}) will be created{note}", r.resource, r.kind)
                }
                Outcome::Done(action @ Action::WouldUpdate(_)) => {
                    let mut line =
                        format!("  ~ {} ({}) will be updated in place", r.resource, r.kind);
                    for c in action.changes() {
                        let from = c
                            .observed
                            .as_ref()
                            .map_or("(unset)".to_owned(), ToString::to_string);
                        line.push_str(&format!("\n      {}: {from} -> {}", c.property, c.desired));
                    }
                    line
                }
                Outcome::Done(Action::WouldSettle(status)) => format!(
                    "  … {} ({}) is still {status}: up will wait for it to settle, then compare",
                    r.resource, r.kind
                ),
                _ => format!("  ! {}: {}", r.resource, report::action_text(r)),
            };
            text.push_str(&line);
            text.push('\n');
        }
        for (name, id) in &orphans {
            text.push_str(&format!(
                "  - {name} ({id}) is in state but not in this stack: delete it by hand, then `medtech state refresh`\n"
            ));
        }
        if text.is_empty() {
            crate::outln!("No changes: environment {env} matches the configuration.");
        } else {
            crate::outln!("medtech will:\n{text}");
        }
        for r in &reports {
            if let Outcome::Failed(e) = &r.outcome {
                eprintln!("error: {}: {e}", r.resource);
            }
        }
    }
    report::conclude(&reports, session.interrupt.is_raised())?;
    if let Some(e) = unresolved {
        return Err(e);
    }
    let pending = reports.iter().any(|r| {
        matches!(
            r.outcome,
            Outcome::Done(Action::WouldCreate | Action::WouldUpdate(_) | Action::WouldSettle(_))
        )
    });
    Ok(if detailed && pending {
        CHANGES
    } else {
        exit::OK
    })
}
