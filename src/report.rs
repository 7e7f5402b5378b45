//! The end-of-run summary: a table for people (resource, kind, id, action, seconds) and the
//! same as JSON for machines, with the root-cause errors listed once.

use serde_json::{Value, json};

use crate::aws::CallTotals;
use crate::engine::{Outcome, StepReport};

pub fn action_text(report: &StepReport) -> String {
    match &report.outcome {
        Outcome::Done(action) => action.label().to_owned(),
        Outcome::Failed(_) => "FAILED".to_owned(),
        Outcome::Skipped { because } => format!("skipped ({because} failed)"),
        Outcome::NotStarted => "not started".to_owned(),
    }
}

/// The summary table, for stderr.
pub fn table(reports: &[StepReport], calls: &CallTotals) -> String {
    let rows: Vec<[String; 5]> = reports
        .iter()
        .map(|r| {
            [
                r.resource.clone(),
                r.kind.to_owned(),
                r.id.clone().unwrap_or_else(|| "-".into()),
                action_text(r),
                format!("{:.1}", r.seconds),
            ]
        })
        .collect();
    let header = ["RESOURCE", "KIND", "ID", "ACTION", "SECONDS"].map(str::to_owned);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (cell, w))| {
                if i == 4 {
                    format!("{cell:>w$}")
                } else {
                    format!("{cell:<w$}")
                }
            })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out.push_str(&format!(
        "{} resources, {} AWS calls ({} reads of which {} polls, {} changes)\n",
        reports.len(),
        calls.total,
        calls.reads,
        calls.polls,
        calls.mutating
    ));
    let errors: Vec<String> = reports
        .iter()
        .filter_map(|r| match &r.outcome {
            Outcome::Failed(e) => {
                let text = e.to_string();
                // Resource errors already start with the resource's name.
                Some(if text.starts_with(&r.resource) {
                    format!("error: {text}")
                } else {
                    format!("error: {}: {text}", r.resource)
                })
            }
            _ => None,
        })
        .collect();
    if !errors.is_empty() {
        out.push('\n');
        out.push_str(&errors.join("\n"));
        out.push('\n');
    }
    out
}

pub fn json(command: &str, environment: &str, reports: &[StepReport], calls: &CallTotals) -> Value {
    let steps: Vec<Value> = reports
        .iter()
        .map(|r| {
            let (status, action, error) = match &r.outcome {
                Outcome::Done(a) => ("ok", Some(a.label()), None),
                Outcome::Failed(e) => ("failed", None, Some(e.to_string())),
                Outcome::Skipped { .. } => ("skipped", None, None),
                Outcome::NotStarted => ("not_started", None, None),
            };
            let changes: Vec<Value> = match &r.outcome {
                Outcome::Done(a) => a
                    .changes()
                    .iter()
                    .map(|c| json!({"property": c.property, "from": c.observed, "to": c.desired}))
                    .collect(),
                _ => vec![],
            };
            let mut step = json!({
                "resource": r.resource,
                "kind": r.kind,
                "id": r.id,
                "status": status,
                "action": action,
                "changes": changes,
                "error": error,
                "seconds": (r.seconds * 1000.0).round() / 1000.0,
            });
            if let Outcome::Done(crate::engine::Action::WouldSettle(aws_status)) = &r.outcome {
                step["aws_status"] = json!(aws_status);
            }
            step
        })
        .collect();
    json!({
        "command": command,
        "environment": environment,
        "ok": reports.iter().all(StepReport::is_ok),
        "steps": steps,
        "api_calls": calls,
    })
}

/// Turns the reports of a mutating run into its result: failures and interruptions are errors.
pub fn conclude(reports: &[StepReport], interrupted: bool) -> Result<(), crate::error::Error> {
    // Steps that stopped waiting because of Ctrl-C were interrupted, not failed.
    let failed = reports
        .iter()
        .filter(|r| matches!(&r.outcome, Outcome::Failed(e) if !matches!(e, crate::error::Error::Interrupted)))
        .count();
    // A missing permission is the user's to fix first, whatever else failed beside it.
    let failures = reports.iter().filter_map(|r| match &r.outcome {
        Outcome::Failed(e) => Some(e),
        _ => None,
    });
    if let Some(denied) = crate::error::Error::from_denied_steps(failures) {
        return Err(denied);
    }
    if failed > 0 {
        return Err(crate::error::Error::StepsFailed {
            failed,
            total: reports.len(),
        });
    }
    if interrupted || reports.iter().any(|r| !r.is_ok()) {
        return Err(crate::error::Error::Interrupted);
    }
    Ok(())
}
