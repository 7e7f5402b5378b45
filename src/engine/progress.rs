//! How a run shows itself while it works: a spinner per running step on a terminal, plain
//! timestamped lines elsewhere (CI logs), or nothing with `-q`. Output goes to stderr; stdout
//! is kept for machine-readable results. Outcomes are coloured as `style` decided for stderr;
//! no indicatif template carries a colour of its own, so `--color never` holds here too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::context::StatusSink;

pub(crate) trait Progress: StatusSink {
    fn started(&self, resource: &str, activity: &str);
    fn finished(&self, resource: &str, summary: &str, ok: bool);
}

/// Picks the display for this run.
pub(crate) fn choose(interactive: bool, quiet: bool) -> Arc<dyn Progress> {
    if quiet {
        Arc::new(Silent)
    } else if interactive {
        Arc::new(Bars::new())
    } else {
        Arc::new(Lines)
    }
}

pub(crate) struct Silent;

impl StatusSink for Silent {
    fn status(&self, _: &str, _: &str) {}
}

impl Progress for Silent {
    fn started(&self, _: &str, _: &str) {}
    fn finished(&self, _: &str, _: &str, _: bool) {}
}

/// One timestamped line per event, for logs that are read after the fact.
pub(crate) struct Lines;

impl Lines {
    fn line(resource: &str, text: &str) {
        let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
        eprintln!("{now} {resource:<24} {text}");
    }
}

impl StatusSink for Lines {
    fn status(&self, resource: &str, status: &str) {
        Self::line(resource, status);
    }
}

impl Progress for Lines {
    // Only outcomes and statuses: in a log, a start line per read is noise.
    fn started(&self, _: &str, _: &str) {}

    fn finished(&self, resource: &str, summary: &str, ok: bool) {
        if !ok {
            Self::line(resource, &crate::style::stderr().red("FAILED"));
        }
        Self::line(resource, summary);
    }
}

/// A spinner per running step, replaced by a one-line result when it ends.
pub(crate) struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    fn new() -> Self {
        Self {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: Mutex::new(HashMap::new()),
        }
    }

    fn with_bar(&self, resource: &str, f: impl FnOnce(&ProgressBar)) {
        let bars = self.bars.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(bar) = bars.get(resource) {
            f(bar);
        }
    }
}

impl StatusSink for Bars {
    fn status(&self, resource: &str, status: &str) {
        self.with_bar(resource, |bar| bar.set_message(status.to_owned()));
    }
}

impl Progress for Bars {
    fn started(&self, resource: &str, activity: &str) {
        let style = ProgressStyle::with_template("{spinner} {prefix:<24} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(style);
        bar.set_prefix(resource.to_owned());
        bar.set_message(activity.to_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        self.bars
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(resource.to_owned(), bar);
    }

    fn finished(&self, resource: &str, summary: &str, ok: bool) {
        let bar = self
            .bars
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(resource);
        if let Some(bar) = bar {
            let paint = crate::style::stderr();
            let mark = if ok {
                paint.green("✓")
            } else {
                paint.red("✗")
            };
            bar.set_style(
                ProgressStyle::with_template("{msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.finish_with_message(format!("{mark} {resource:<24} {summary}"));
        }
    }
}
