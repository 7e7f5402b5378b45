//! `medtech plan`: what `up` would create, change or leave — the same reads and diffs as
//! `up`, stopping before any mutating call, and no state written.

use std::collections::BTreeMap;

use crate::cli::{GlobalArgs, StackArgs};
use crate::engine::{Action, Outcome, StepReport};
use crate::error::{Error, exit};
use crate::run_summary::{self, Run, Summary};
use crate::state::rotation::Rotation;
use crate::style::Paint;

use super::session::{Locking, Session};

/// `--detailed-exitcode`: changes pending.
const CHANGES: u8 = 2;

/// Under `--detailed-exitcode` an error exits 1, never 2: `failure::Failure` sees to it for
/// every error, including a command line clap rejects.
pub(super) async fn run(
    global: &GlobalArgs,
    stack: &StackArgs,
    detailed: bool,
) -> Result<u8, Error> {
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
        .filter(|(name, _)| {
            !engine
                .resources()
                .iter()
                .any(|r| r.name().as_str() == name.as_str())
        })
        .map(|(name, record)| (name.clone(), record.id.clone()))
        .collect();
    // What a create would pick that the config leaves open (the engine's minor version); a
    // choice that cannot be made (a retired pinned version) fails the plan as it would `up`.
    let mut notes = serde_json::Map::new();
    let mut unresolved = None;
    let no_rotations = BTreeMap::new();
    let rotations = session
        .state
        .as_ref()
        .map_or(&no_rotations, |s| &s.rotations);
    for r in &reports {
        if matches!(r.outcome, Outcome::Done(Action::WouldCreate)) {
            match crate::resources::rds::engine::create_note(&ctx, &r.resource).await {
                Some(Ok(note)) => {
                    notes.insert(r.resource.clone(), note.into());
                }
                Some(Err(e)) => unresolved = Some(e),
                None => {}
            }
        }
    }
    if session.json {
        let mut json = run_summary::json("plan", &env, &reports, &session.clients.calls.totals());
        json["notes"] = notes.clone().into();
        json["orphans"] = orphans
            .iter()
            .map(|(name, id)| serde_json::json!({"resource": name, "id": id, "action": "delete"}))
            .collect();
        json["summary"] = Summary::of(Run::Plan, &reports).json();
        json["rotations"] = serde_json::json!(rotations);
        crate::outln!("{json}");
    } else {
        crate::stdout::write(&text(
            &reports,
            &notes,
            &orphans,
            &env,
            crate::style::stdout(),
        ));
        crate::stdout::write(&rotation_lines(rotations, crate::style::stdout()));
        for r in &reports {
            if let Outcome::Failed(e) = &r.outcome {
                eprintln!("error: {}: {e}", r.resource);
            }
        }
    }
    run_summary::conclude(&reports, session.interrupt.is_raised())?;
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

/// The plan as people read it, terraform's way: `+` create, `~` change in place, `-` what is
/// in state but no longer in the stack (for a person to delete); then the counts, or
/// `No changes.` when every resource already matches.
fn text(
    reports: &[StepReport],
    notes: &serde_json::Map<String, serde_json::Value>,
    orphans: &[(String, String)],
    env: &str,
    paint: Paint,
) -> String {
    let mut changes = String::new();
    for r in reports {
        let line = match &r.outcome {
            Outcome::Done(Action::Unchanged) => continue,
            Outcome::Done(Action::WouldCreate) => {
                let note = notes
                    .get(&r.resource)
                    .and_then(|n| n.as_str())
                    .map_or(String::new(), |n| format!(": {n}"));
                format!(
                    "  {} {} ({}) will be created{note}",
                    paint.green("+"),
                    r.resource,
                    r.kind
                )
            }
            Outcome::Done(action @ Action::WouldUpdate(_)) => {
                let refused = action.changes().iter().any(|c| !c.property.in_place);
                let mut line = if refused {
                    format!(
                        "  {} {} ({}) cannot be updated in place: up will refuse, changing nothing",
                        paint.red("!"),
                        r.resource,
                        r.kind
                    )
                } else {
                    format!(
                        "  {} {} ({}) will be updated in place",
                        paint.yellow("~"),
                        r.resource,
                        r.kind
                    )
                };
                for c in action.changes() {
                    let from = c
                        .observed
                        .as_ref()
                        .map_or("(unset)".to_owned(), ToString::to_string);
                    let fixed = if c.property.in_place {
                        ""
                    } else {
                        " (fixed at creation)"
                    };
                    line.push_str(&format!(
                        "\n      {}: {from} -> {}{fixed}",
                        c.property, c.desired
                    ));
                }
                line
            }
            Outcome::Done(Action::WouldSettle(status)) => format!(
                "  {} {} ({}) is still {status}: up will wait for it to settle, then compare",
                paint.yellow("…"),
                r.resource,
                r.kind
            ),
            _ => format!(
                "  {} {}: {}",
                paint.red("!"),
                r.resource,
                run_summary::action_text(r)
            ),
        };
        changes.push_str(&line);
        changes.push('\n');
    }
    let mut out = String::new();
    if !changes.is_empty() {
        out.push_str(&format!("medtech will:\n{changes}\n"));
    }
    for (name, id) in orphans {
        out.push_str(&format!(
            "  {} {name} ({id}) is in state but not in this stack: delete it by hand, then `medtech state refresh`\n",
            paint.red("-")
        ));
    }
    if !orphans.is_empty() {
        out.push('\n');
    }
    if reports
        .iter()
        .all(|r| matches!(r.outcome, Outcome::Done(Action::Unchanged)))
    {
        out.push_str(&format!(
            "{} Environment {env} matches the configuration.\n",
            paint.green("No changes.")
        ));
    } else {
        out.push_str(&Summary::of(Run::Plan, reports).line(paint));
        out.push('\n');
    }
    out
}

/// The rotations `medtech rotate` began and has yet to finish (a Redis `SET` waiting for its
/// grace): `up` leaves them alone, so the plan says what will.
fn rotation_lines(rotations: &BTreeMap<String, Rotation>, paint: Paint) -> String {
    let mut out = String::new();
    for (secret, r) in rotations {
        let what = match r.set_pending_since {
            Some(since) => format!(
                "the old Redis AUTH token is still accepted (SET pending since {})",
                since.format("%Y-%m-%d %H:%M UTC")
            ),
            None => format!(
                "a rotation is under way (version {}, begun {})",
                r.version_id,
                r.started_at.format("%Y-%m-%d %H:%M UTC")
            ),
        };
        out.push_str(&format!(
            "  {} {secret}: {what}; `medtech rotate` finishes it\n",
            paint.yellow("*")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::EXISTS;
    use crate::property::Property;
    use crate::resource::Change;

    static ROTATION: Property = Property::in_place("rotation_enabled", EXISTS);
    static SPEC: Property = Property::fixed("key_spec", EXISTS);

    fn step(resource: &str, action: Action) -> StepReport {
        StepReport {
            resource: resource.to_owned(),
            kind: "kms_key",
            id: None,
            outcome: Outcome::Done(action),
            seconds: 0.0,
        }
    }

    #[test]
    fn a_plan_lists_each_change_then_counts_them() {
        let change = Change {
            property: &ROTATION,
            observed: Some(false.into()),
            desired: true.into(),
        };
        let reports = [
            step("vpc", Action::WouldCreate),
            step("kms", Action::WouldUpdate(vec![change])),
            step("logs", Action::Unchanged),
        ];
        let orphans = [("retired".to_owned(), "vpc-1".to_owned())];
        let plain = text(&reports, &Default::default(), &orphans, "dev", Paint::PLAIN);
        assert_eq!(
            plain,
            "medtech will:\n  + vpc (kms_key) will be created\n  ~ kms (kms_key) will be updated in place\n      rotation_enabled: false -> true\n\n  - retired (vpc-1) is in state but not in this stack: delete it by hand, then `medtech state refresh`\n\nPlan: 1 to create, 1 to change, 1 to leave alone.\n"
        );
        let painted = text(&reports, &Default::default(), &[], "dev", Paint::ANSI);
        assert!(painted.contains("\x1b[32m+\x1b[0m vpc"), "{painted}");
        assert!(painted.contains("\x1b[33m~\x1b[0m kms"), "{painted}");
    }

    #[test]
    fn a_change_only_a_re_create_could_make_is_shown_as_refused() {
        let change = |property, observed: &str, desired: &str| Change {
            property,
            observed: Some(observed.into()),
            desired: desired.into(),
        };
        let changes = vec![
            change(&SPEC, "RSA_2048", "SYMMETRIC_DEFAULT"),
            change(&ROTATION, "false", "true"),
        ];
        let reports = [step("kms", Action::WouldUpdate(changes))];
        let plain = text(&reports, &Default::default(), &[], "dev", Paint::PLAIN);
        assert!(
            plain.contains("  ! kms (kms_key) cannot be updated in place: up will refuse, changing nothing\n      key_spec: \"RSA_2048\" -> \"SYMMETRIC_DEFAULT\" (fixed at creation)\n      rotation_enabled: \"false\" -> \"true\"\n"),
            "{plain}"
        );
    }

    #[test]
    fn a_plan_with_nothing_to_do_says_no_changes() {
        let reports = [step("vpc", Action::Unchanged)];
        assert_eq!(
            text(&reports, &Default::default(), &[], "dev", Paint::PLAIN),
            "No changes. Environment dev matches the configuration.\n"
        );
    }
}
