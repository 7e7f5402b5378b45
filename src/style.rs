//! Colour, decided once per run for each stream: stderr carries logs, progress and the run
//! summaries; stdout the plan and verify reports. `--color always|never` wins, then
//! `NO_COLOR` (off), then `CLICOLOR_FORCE` (on), else colour only on a terminal.
//!
//! The rule is written here rather than taken from `anstream` (which clap already links): its
//! `CLICOLOR_FORCE=0` forces colour, where the convention says 0 leaves it alone, and its
//! lookups read the process environment, which unit tests cannot vary safely.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::sync::OnceLock;

use crate::cli::ColorChoice;

/// Whether one stream gets colour, and the few paints medtech uses on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Paint {
    on: bool,
}

impl Paint {
    pub const PLAIN: Self = Self { on: false };
    pub const ANSI: Self = Self { on: true };

    pub fn is_on(self) -> bool {
        self.on
    }

    /// Something made or passed: a create, PASS.
    pub fn green(self, text: &str) -> String {
        self.sgr("32", text)
    }

    /// Something changed in place.
    pub fn yellow(self, text: &str) -> String {
        self.sgr("33", text)
    }

    /// Something deleted or failed.
    pub fn red(self, text: &str) -> String {
        self.sgr("31", text)
    }

    pub fn bold(self, text: &str) -> String {
        self.sgr("1", text)
    }

    fn sgr(self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

struct Streams {
    stdout: Paint,
    stderr: Paint,
}

impl Streams {
    fn decide(choice: ColorChoice) -> Self {
        let var = |name: &str| std::env::var_os(name);
        Self {
            stdout: Paint {
                on: wanted(choice, std::io::stdout().is_terminal(), var),
            },
            stderr: Paint {
                on: wanted(choice, std::io::stderr().is_terminal(), var),
            },
        }
    }
}

static DECIDED: OnceLock<Streams> = OnceLock::new();

/// Decides for this run; `main` calls it before anything is printed.
pub fn init(choice: ColorChoice) {
    let _ = DECIDED.set(Streams::decide(choice));
}

/// For the plan and verify reports.
pub fn stdout() -> Paint {
    decided().stdout
}

/// For logs, progress and run summaries.
pub fn stderr() -> Paint {
    decided().stderr
}

fn decided() -> &'static Streams {
    // Without `init` (the library used from tests): as `--color auto`.
    DECIDED.get_or_init(|| Streams::decide(ColorChoice::Auto))
}

/// The precedence: an explicit `--color always|never`, then `NO_COLOR` (any non-empty value:
/// off), then `CLICOLOR_FORCE` (non-empty and not `0`: on), then a terminal that is not `dumb`.
fn wanted(choice: ColorChoice, terminal: bool, var: impl Fn(&str) -> Option<OsString>) -> bool {
    let set = |name: &str| var(name).filter(|v| !v.is_empty());
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto if set("NO_COLOR").is_some() => false,
        ColorChoice::Auto if set("CLICOLOR_FORCE").is_some_and(|v| v != "0") => true,
        ColorChoice::Auto => terminal && var("TERM").is_none_or(|t| t != "dumb"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Environment variables a case sets.
    type Vars = &'static [(&'static str, &'static str)];

    fn decide(choice: ColorChoice, terminal: bool, vars: Vars) -> bool {
        wanted(choice, terminal, |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| OsString::from(v))
        })
    }

    #[test]
    fn the_flag_beats_no_color_which_beats_clicolor_force_which_beats_the_terminal() {
        use ColorChoice::{Always, Auto, Never};
        let both: Vars = &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")];
        let cases: [(ColorChoice, bool, Vars, bool); 12] = [
            (Always, false, both, true),
            (Never, true, &[("CLICOLOR_FORCE", "1")], false),
            (Auto, true, both, false),
            (Auto, true, &[("NO_COLOR", "1")], false),
            (Auto, true, &[("NO_COLOR", "")], true),
            (Auto, false, &[("CLICOLOR_FORCE", "1")], true),
            (Auto, false, &[("CLICOLOR_FORCE", "0")], false),
            (Auto, false, &[("CLICOLOR_FORCE", "")], false),
            (Auto, true, &[("CLICOLOR_FORCE", "0")], true),
            (Auto, false, &[], false),
            (Auto, true, &[("TERM", "xterm-256color")], true),
            (Auto, true, &[("TERM", "dumb")], false),
        ];
        for (choice, terminal, vars, want) in cases {
            assert_eq!(
                decide(choice, terminal, vars),
                want,
                "{choice:?}, terminal {terminal}, {vars:?}"
            );
        }
    }

    #[test]
    fn plain_paint_leaves_the_text_alone() {
        assert_eq!(Paint::PLAIN.red("FAIL"), "FAIL");
        assert_eq!(Paint::ANSI.red("FAIL"), "\x1b[31mFAIL\x1b[0m");
        assert_eq!(Paint::ANSI.green("+"), "\x1b[32m+\x1b[0m");
    }
}
