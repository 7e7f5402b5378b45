//! The end-of-run summary: a table for people (resource, kind, id, action, seconds) and the
//! same as JSON for machines, with the root-cause errors listed once; and the counts line
//! (`Plan: 2 to create, …`) that ends a run, also as `summary` in the JSON.

use std::collections::BTreeMap;

use comfy_table::{CellAlignment, Table};

use serde_json::{Value, json};

use crate::aws::CallTotals;
use crate::engine::{Action, Outcome, StepReport};
use crate::stdout::FORMAT_VERSION;
use crate::style::Paint;
use crate::table::plain;

pub(crate) fn action_text(report: &StepReport) -> String {
    match &report.outcome {
        Outcome::Done(action) => action.label().to_owned(),
        Outcome::Failed(_) => "FAILED".to_owned(),
        Outcome::Skipped { because } => format!("skipped ({because} failed)"),
        Outcome::NotStarted => "not started".to_owned(),
    }
}

/// The summary table, for stderr.
pub(crate) fn table(reports: &[StepReport], calls: &CallTotals) -> String {
    let mut table = Table::new();
    table.set_header(["RESOURCE", "KIND", "ID", "ACTION", "SECONDS"]);
    for r in reports {
        table.add_row([
            r.resource.to_string(),
            r.kind.to_owned(),
            r.id.clone().unwrap_or_else(|| "-".into()),
            action_text(r),
            format!("{:.1}", r.seconds),
        ]);
    }
    if let Some(seconds) = table.column_mut(4) {
        seconds.set_cell_alignment(CellAlignment::Right);
    }
    let mut out = plain(table);
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

pub(crate) fn json(
    command: &str,
    environment: &str,
    reports: &[StepReport],
    calls: &CallTotals,
) -> Value {
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
        "format_version": FORMAT_VERSION,
        "command": command,
        "environment": environment,
        "ok": reports.iter().all(StepReport::is_ok),
        "steps": steps,
        "api_calls": calls,
    })
}

/// The runs that end with a counts line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Run {
    Plan,
    Up,
    Destroy,
}

impl Run {
    fn command(self) -> &'static str {
        match self {
            Run::Plan => "plan",
            Run::Up => "up",
            Run::Destroy => "destroy",
        }
    }
}

/// One count of a summary: its JSON key, the words after the number, and whether the line
/// shows it at zero.
struct Column {
    key: &'static str,
    words: &'static str,
    always: bool,
}

const fn column(key: &'static str, words: &'static str, always: bool) -> Column {
    Column { key, words, always }
}

/// Steps that failed, and steps that never ran (a dependency failed, or an interruption).
const TROUBLE: [Column; 2] = [
    column("failed", "failed", false),
    column("not_run", "not run", false),
];

impl Run {
    fn label(self) -> &'static str {
        match self {
            Self::Plan => "Plan",
            Self::Up => "Up",
            Self::Destroy => "Destroy",
        }
    }

    fn columns(self) -> &'static [Column] {
        match self {
            Self::Plan => &PLAN,
            Self::Up => &UP,
            Self::Destroy => &DESTROY,
        }
    }
}

const PLAN: [Column; 4] = [
    column("create", "to create", true),
    column("change", "to change", true),
    column("unchanged", "to leave alone", true),
    // AWS still carrying out an earlier change: `up` waits, then compares.
    column("settling", "settling", false),
];
const UP: [Column; 3] = [
    column("created", "created", true),
    column("changed", "changed", true),
    column("unchanged", "unchanged", true),
];
const DESTROY: [Column; 2] = [
    column("destroyed", "destroyed", true),
    column("already_gone", "already gone", true),
];

/// How many steps of a run ended each way.
#[derive(Debug)]
pub(crate) struct Summary {
    run: Run,
    counts: BTreeMap<&'static str, usize>,
}

impl Summary {
    pub(crate) fn of(run: Run, reports: &[StepReport]) -> Self {
        let mut counts = BTreeMap::new();
        for r in reports {
            let key = match &r.outcome {
                Outcome::Done(action) => counted_as(action),
                Outcome::Failed(_) => "failed",
                Outcome::Skipped { .. } | Outcome::NotStarted => "not_run",
            };
            *counts.entry(key).or_insert(0) += 1;
        }
        Self { run, counts }
    }

    fn count(&self, key: &str) -> usize {
        self.counts.get(key).copied().unwrap_or(0)
    }

    /// Every count of this run, zeros included, so that tools find every key every time.
    pub(crate) fn json(&self) -> Value {
        self.run
            .columns()
            .iter()
            .chain(&TROUBLE)
            .map(|c| (c.key.to_owned(), Value::from(self.count(c.key))))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }

    /// `Plan: 2 to create, 1 to change, 40 to leave alone.`; failures and steps that did not
    /// run are added only when there are some.
    pub(crate) fn line(&self, paint: Paint) -> String {
        let parts: Vec<String> = self
            .run
            .columns()
            .iter()
            .chain(&TROUBLE)
            .filter(|c| c.always || self.count(c.key) > 0)
            .map(|c| format!("{} {}", self.count(c.key), c.words))
            .collect();
        format!(
            "{} {}.",
            paint.bold(&format!("{}:", self.run.label())),
            parts.join(", ")
        )
    }
}

/// The summary key an action counts under.
fn counted_as(action: &Action) -> &'static str {
    match action {
        Action::WouldCreate => "create",
        Action::WouldUpdate(_) => "change",
        Action::WouldSettle(_) => "settling",
        Action::Created => "created",
        Action::Updated(_) => "changed",
        Action::Unchanged => "unchanged",
        Action::Deleted => "destroyed",
        // Destroy's discovery: found is what a destroy would delete.
        Action::Found => "found",
        Action::Absent => "already_gone",
    }
}

/// How an `up` or `destroy` ends on screen: the JSON document (with its counts) on stdout, or
/// the table and the counts line on stderr (nothing with `--quiet`).
pub(crate) fn print(
    run: Run,
    environment: &str,
    reports: &[StepReport],
    calls: &CallTotals,
    json_out: bool,
    quiet: bool,
) {
    let summary = Summary::of(run, reports);
    if json_out {
        let mut document = json(run.command(), environment, reports, calls);
        document["summary"] = summary.json();
        crate::outln!("{document}");
    } else if !quiet {
        eprint!(
            "\n{}\n{}\n",
            table(reports, calls),
            summary.line(crate::style::stderr())
        );
    }
}

/// Turns the reports of a mutating run into its result: failures and interruptions are errors.
pub(crate) fn conclude(
    reports: &[StepReport],
    interrupted: bool,
) -> Result<(), crate::error::Error> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    fn step(resource: &str, outcome: Outcome) -> StepReport {
        StepReport {
            resource: resource.to_owned(),
            kind: "vpc",
            id: None,
            outcome,
            seconds: 0.0,
        }
    }

    /// The counts line (unpainted) and the JSON counts of `reports` ended as `run`.
    fn assert_counts(run: Run, reports: &[StepReport], line: &str, counts: Value) {
        let summary = Summary::of(run, reports);
        assert_eq!(summary.line(Paint::PLAIN), line);
        assert_eq!(summary.json(), counts);
    }

    /// The columns people and the e2e tests read (`RESOURCE ` starts the table, the fourth
    /// word is the action), SECONDS right-aligned, then the calls line and each root cause once.
    #[test]
    fn the_summary_table_lines_up_its_columns() {
        let timed = |resource: &str, id: Option<&str>, outcome, seconds| StepReport {
            id: id.map(str::to_owned),
            seconds,
            ..step(resource, outcome)
        };
        let reports = [
            timed(
                "vpc",
                Some("vpc-0a1b2c3d"),
                Outcome::Done(Action::Created),
                1.25,
            ),
            timed(
                "rds",
                Some("medtech-dev-postgres"),
                Outcome::Done(Action::Updated(vec![])),
                912.0,
            ),
            timed(
                "kms",
                None,
                Outcome::Failed(Error::resource("kms", "AccessDenied on kms:CreateKey")),
                0.04,
            ),
            timed(
                "public-subnet-a",
                None,
                Outcome::Skipped {
                    because: "kms".into(),
                },
                0.0,
            ),
            timed("flow-logs", None, Outcome::NotStarted, 0.0),
        ];
        let calls = CallTotals {
            total: 12,
            reads: 9,
            mutating: 3,
            polls: 4,
            ..CallTotals::default()
        };
        insta::assert_snapshot!(table(&reports, &calls));
    }

    #[test]
    fn the_plan_line_counts_every_step_once() {
        let reports = [
            step("a", Outcome::Done(Action::WouldCreate)),
            step("b", Outcome::Done(Action::WouldCreate)),
            step("c", Outcome::Done(Action::WouldUpdate(vec![]))),
            step("d", Outcome::Done(Action::Unchanged)),
        ];
        assert_counts(
            Run::Plan,
            &reports,
            "Plan: 2 to create, 1 to change, 1 to leave alone.",
            json!({"create": 2, "change": 1, "unchanged": 1, "settling": 0, "failed": 0, "not_run": 0}),
        );
        assert_eq!(
            Summary::of(Run::Plan, &reports).line(Paint::ANSI),
            "\x1b[1mPlan:\x1b[0m 2 to create, 1 to change, 1 to leave alone."
        );
    }

    #[test]
    fn failures_and_steps_not_run_are_named_only_when_there_are_some() {
        let reports = [
            step("a", Outcome::Done(Action::Created)),
            step("b", Outcome::Failed(Error::Interrupted)),
            step(
                "c",
                Outcome::Skipped {
                    because: "b".into(),
                },
            ),
            step("d", Outcome::NotStarted),
        ];
        let summary = Summary::of(Run::Up, &reports);
        assert_eq!(
            summary.line(Paint::PLAIN),
            "Up: 1 created, 0 changed, 0 unchanged, 1 failed, 2 not run."
        );
        assert_eq!(summary.json()["not_run"], 2);
        let gone = [
            step("a", Outcome::Done(Action::Deleted)),
            step("b", Outcome::Done(Action::Absent)),
            step("c", Outcome::Done(Action::Absent)),
        ];
        assert_counts(
            Run::Destroy,
            &gone,
            "Destroy: 1 destroyed, 2 already gone.",
            json!({"destroyed": 1, "already_gone": 2, "failed": 0, "not_run": 0}),
        );
    }
}
