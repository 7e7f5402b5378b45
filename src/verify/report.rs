//! The verification report in its four forms: a table for a terminal (failures first,
//! coloured as `style` decided for stdout), JSON for programs, JUnit XML so CI systems show
//! each control as a test case (and why verification could not run, when it could not), and
//! Markdown for a pipeline's job summary (appended to `GITHUB_STEP_SUMMARY` when that is set).

use std::io::Write;

use serde_json::{Value, json};

use super::Check;
use crate::cli::VerifyFormat;
use crate::error::Error;
use crate::failure::Failure;
use crate::stdout::FORMAT_VERSION;
use crate::style::Paint;

pub fn emit(env: &str, checks: &[Check], format: VerifyFormat) -> Result<(), Error> {
    let text = match format {
        VerifyFormat::Table => table(checks, crate::style::stdout()),
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

fn table(checks: &[Check], paint: Paint) -> String {
    let mut out = String::new();
    for c in ordered(checks) {
        if c.passed {
            out.push_str(&format!(
                "{}  {:<8} {}\n",
                paint.green("PASS"),
                c.severity().as_str(),
                c.id
            ));
        } else {
            out.push_str(&format!(
                "{}  {:<8} {}  {}\n        expected {}\n        observed {}\n        fix: {}  [{}]\n",
                paint.red("FAIL"),
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
        "format_version": FORMAT_VERSION,
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

/// The XML declaration and the opening of the one suite (`medtech.ENV`) every JUnit document
/// of medtech has.
fn junit_open(suite: &str, tests: usize, failures: usize, errors: usize) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <testsuites name=\"medtech verify\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\">\n  \
         <testsuite name=\"{suite}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"0\" timestamp=\"{}\">\n",
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S")
    )
}

const JUNIT_CLOSE: &str = "  </testsuite>\n</testsuites>\n";

fn junit(env: &str, checks: &[Check]) -> String {
    let failed = checks.iter().filter(|c| !c.passed).count();
    let mut out = junit_open(&format!("medtech.{}", xml(env)), checks.len(), failed, 0);
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
    out.push_str(JUNIT_CLOSE);
    out
}

/// The JUnit document of a verification that could not run: one test case with an `<error>`
/// whose type is the failure's kind, so that a test report published `if: always()` shows why
/// instead of an unreadable file. `env` is the one asked for, when known.
pub fn junit_error(env: Option<&str>, failure: &Failure) -> String {
    let suite = env.map_or_else(|| "medtech".to_owned(), |e| format!("medtech.{}", xml(e)));
    let mut out = junit_open(&suite, 1, 0, 1);
    out.push_str(&format!(
        "    <testcase classname=\"{suite}\" name=\"verify\" time=\"0\">\n      <error type=\"{}\" message=\"{}\">{}\nexit code: {}</error>\n    </testcase>\n",
        xml(failure.kind),
        xml(&failure.message),
        xml(&failure.message),
        failure.exit_code
    ));
    out.push_str(JUNIT_CLOSE);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn checks() -> Vec<Check> {
        vec![
            Check::new("vpc", "vpc", "exists", true.into(), true.into()),
            Check::new(
                "kms",
                "kms_key",
                "rotation_enabled",
                true.into(),
                false.into(),
            ),
        ]
    }

    #[test]
    fn the_table_is_coloured_only_when_asked() {
        let plain = table(&checks(), Paint::PLAIN);
        assert!(!plain.contains('\x1b'), "{plain}");
        assert!(plain.starts_with("FAIL  "), "{plain}");
        let painted = table(&checks(), Paint::ANSI);
        assert!(painted.contains("\x1b[31mFAIL\x1b[0m"), "{painted}");
        assert!(painted.contains("\x1b[32mPASS\x1b[0m"), "{painted}");
    }

    #[test]
    fn the_json_report_carries_the_format_version() {
        let report = json("dev", &checks());
        assert_eq!(report["format_version"], FORMAT_VERSION);
        assert_eq!(report["failed"], 1);
    }

    #[test]
    fn a_verification_that_could_not_run_is_one_errored_test_case() {
        let failure = Failure {
            kind: "aws_access",
            message: "verification could not run: AWS: <endpoint> \"unreachable\" & more".into(),
            exit_code: 2,
        };
        let doc = junit_error(Some("dev"), &failure);
        assert!(
            doc.contains("tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\""),
            "{doc}"
        );
        assert!(
            doc.contains(
                "<error type=\"aws_access\" message=\"verification could not run: AWS: &lt;endpoint&gt; &quot;unreachable&quot; &amp; more\">"
            ),
            "{doc}"
        );
        assert_eq!(doc.matches("<testcase ").count(), 1, "{doc}");
        assert!(doc.ends_with(JUNIT_CLOSE), "{doc}");
        assert!(junit_error(None, &failure).contains("<testsuite name=\"medtech\" "));
    }
}
