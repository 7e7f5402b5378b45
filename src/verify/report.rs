//! The verification report in its four forms: a table for a terminal (failures first, colour
//! only on a TTY), JSON for programs, JUnit XML so CI systems show each control as a test
//! case, and Markdown for a pipeline's job summary (appended to `GITHUB_STEP_SUMMARY` when
//! that is set).

use std::io::{IsTerminal, Write};

use serde_json::{Value, json};

use super::Check;
use crate::cli::VerifyFormat;
use crate::error::Error;

pub fn emit(env: &str, checks: &[Check], format: VerifyFormat) -> Result<(), Error> {
    let text = match format {
        VerifyFormat::Table => table(checks, std::io::stdout().is_terminal()),
        VerifyFormat::Json => format!("{}\n", json(env, checks)),
        VerifyFormat::Junit => junit(env, checks),
        VerifyFormat::Markdown => markdown(env, checks),
    };
    crate::stdout::write(&text);
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        let append = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(markdown(env, checks).as_bytes()));
        append.map_err(|source| Error::Io {
            path: path.to_string_lossy().into_owned(),
            source,
        })?;
    }
    Ok(())
}

fn ordered(checks: &[Check]) -> Vec<&Check> {
    let mut ordered: Vec<&Check> = checks.iter().collect();
    ordered.sort_by(|a, b| (a.passed, a.severity(), &a.id).cmp(&(b.passed, b.severity(), &b.id)));
    ordered
}

fn short(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() > 80 {
        format!("{}…", text.chars().take(79).collect::<String>())
    } else {
        text
    }
}

fn table(checks: &[Check], colour: bool) -> String {
    let paint = |code: &str, text: &str| {
        if colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    };
    let mut out = String::new();
    for c in ordered(checks) {
        if c.passed {
            out.push_str(&format!(
                "{}  {:<8} {}\n",
                paint("32", "PASS"),
                c.severity().as_str(),
                c.id
            ));
        } else {
            out.push_str(&format!(
                "{}  {:<8} {}  {}\n        expected {}\n        observed {}\n        fix: {}  [{}]\n",
                paint("1;31", "FAIL"),
                c.severity().as_str(),
                c.id,
                c.control.title,
                short(&c.expected),
                short(&c.observed),
                c.control.fix,
                c.control.safeguard,
            ));
        }
    }
    let failed = checks.iter().filter(|c| !c.passed).count();
    out.push_str(&format!(
        "\n{} checks, {} passed, {} failed\n",
        checks.len(),
        checks.len() - failed,
        failed
    ));
    out
}

pub fn json(env: &str, checks: &[Check]) -> Value {
    let failed = checks.iter().filter(|c| !c.passed).count();
    json!({
        "environment": env,
        "passed": failed == 0,
        "total": checks.len(),
        "failed": failed,
        "checks": ordered(checks),
    })
}

fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

fn junit(env: &str, checks: &[Check]) -> String {
    let failed = checks.iter().filter(|c| !c.passed).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"medtech verify\" tests=\"{}\" failures=\"{failed}\" errors=\"0\">\n",
        checks.len()
    ));
    out.push_str(&format!(
        "  <testsuite name=\"medtech.{}\" tests=\"{}\" failures=\"{failed}\" errors=\"0\" skipped=\"0\" timestamp=\"{}\">\n",
        xml(env),
        checks.len(),
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S")
    ));
    for c in checks {
        out.push_str(&format!(
            "    <testcase classname=\"medtech.{}.{}\" name=\"{}\" time=\"0\"",
            xml(env),
            xml(&c.resource),
            xml(&c.id)
        ));
        if c.passed {
            out.push_str("/>\n");
        } else {
            out.push_str(&format!(
                ">\n      <failure type=\"{}\" message=\"{}\">expected: {}\nobserved: {}\nsafeguard: {}\nfix: {}\nprowler: {}\nconfig rule: {}</failure>\n    </testcase>\n",
                c.severity().as_str(),
                xml(c.control.title),
                xml(&c.expected.to_string()),
                xml(&c.observed.to_string()),
                xml(c.control.safeguard),
                xml(c.control.fix),
                xml(c.control.prowler),
                xml(c.control.config_rule),
            ));
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn markdown(env: &str, checks: &[Check]) -> String {
    let failed: Vec<&Check> = ordered(checks).into_iter().filter(|c| !c.passed).collect();
    let mut out = format!(
        "## medtech verify: `{env}` — {}\n\n{} checks, {} passed, {} failed.\n\n",
        if failed.is_empty() {
            "all controls pass"
        } else {
            "controls FAIL"
        },
        checks.len(),
        checks.len() - failed.len(),
        failed.len()
    );
    if !failed.is_empty() {
        out.push_str("| Check | Severity | Safeguard | Expected | Observed | Fix |\n|---|---|---|---|---|---|\n");
        for c in &failed {
            out.push_str(&format!(
                "| `{}` | {} | {} | `{}` | `{}` | {} |\n",
                c.id,
                c.severity().as_str(),
                cell(c.control.safeguard),
                cell(&short(&c.expected)),
                cell(&short(&c.observed)),
                cell(c.control.fix)
            ));
        }
        out.push('\n');
    }
    out.push_str("<details><summary>Passed checks</summary>\n\n");
    for c in checks.iter().filter(|c| c.passed) {
        out.push_str(&format!("- `{}` — {}\n", c.id, cell(c.control.title)));
    }
    out.push_str("\n</details>\n\n");
    out
}
