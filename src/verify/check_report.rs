//! The verification report in its four forms: a table for a terminal (failures first,
//! coloured as `style` decided for stdout), JSON for programs, JUnit XML so CI systems show
//! each control as a test case (and why verification could not run, when it could not), and
//! Markdown for a pipeline's job summary (appended to `GITHUB_STEP_SUMMARY` when that is set).

use std::io::Write;
use std::time::Duration;

use comfy_table::Table;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use serde_json::{Value, json};

use super::Check;
use crate::cli::VerifyFormat;
use crate::control;
use crate::error::Error;
use crate::failure::Failure;
use crate::stdout::FORMAT_VERSION;
use crate::style::Paint;

pub(crate) fn emit(env: &str, checks: &[Check], format: VerifyFormat) -> Result<(), Error> {
    let text = match format {
        VerifyFormat::Table => table(checks, crate::style::stdout()),
        VerifyFormat::Json => format!("{}\n", json(env, checks)),
        VerifyFormat::Junit => junit(env, checks)?,
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
    let mut table = Table::new();
    for c in ordered(checks) {
        let (verdict, detail) = if c.passed {
            (PASS, String::new())
        } else {
            let detail = format!(
                "{}\nexpected {}\nobserved {}\nfix: {}  [{}]",
                c.control.title,
                short(&c.expected),
                short(&c.observed),
                c.control.fix,
                c.control.safeguard,
            );
            (FAIL, detail)
        };
        table.add_row([verdict, c.severity().as_str(), &c.id, &detail]);
    }
    // Coloured after the layout: comfy-table would count the escape codes as width.
    let mut out: String = crate::table::plain(table)
        .lines()
        .map(|line| format!("{}\n", painted(line, paint)))
        .collect();
    let failed = checks.iter().filter(|c| !c.passed).count();
    out.push_str(&format!(
        "\n{} checks, {} passed, {} failed\n",
        checks.len(),
        checks.len() - failed,
        failed
    ));
    out
}

const PASS: &str = "PASS";
const FAIL: &str = "FAIL";

/// A row of the table with its verdict coloured; a failure's detail lines as they are.
fn painted(line: &str, paint: Paint) -> String {
    if let Some(rest) = line.strip_prefix(PASS) {
        format!("{}{rest}", paint.green(PASS))
    } else if let Some(rest) = line.strip_prefix(FAIL) {
        format!("{}{rest}", paint.red(FAIL))
    } else {
        line.to_owned()
    }
}

pub(crate) fn json(env: &str, checks: &[Check]) -> Value {
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

/// The one suite (`medtech.ENV`) every JUnit document of medtech has, stamped now.
fn suite(name: &str) -> TestSuite {
    let mut suite = TestSuite::new(name);
    suite.set_timestamp(chrono::Utc::now());
    suite
}

/// A test case that took no time: a check reads what `discover` already fetched.
fn case(name: &str, classname: &str, status: TestCaseStatus) -> TestCase {
    let mut case = TestCase::new(name, status);
    case.set_classname(classname).set_time(Duration::ZERO);
    case
}

fn document(suite: TestSuite) -> Result<String, Error> {
    let mut report = Report::new("medtech verify");
    report.add_test_suite(suite);
    report.to_string().map_err(|e| Error::Io {
        path: "the JUnit report".to_owned(),
        source: std::io::Error::other(e),
    })
}

fn junit(env: &str, checks: &[Check]) -> Result<String, Error> {
    let name = format!("medtech.{env}");
    let mut suite = suite(&name);
    for c in checks {
        let status = if c.passed {
            TestCaseStatus::success()
        } else {
            let mut failure = TestCaseStatus::non_success(NonSuccessKind::Failure);
            failure
                .set_type(c.severity().as_str())
                .set_message(c.control.title)
                .set_description(format!(
                    "expected: {}\nobserved: {}\nsafeguard: {}\nfix: {}\nprowler: {}\nconfig rule: {}",
                    c.expected,
                    c.observed,
                    c.control.safeguard,
                    c.control.fix,
                    control::shown(c.control.prowler),
                    control::shown(c.control.config_rule),
                ));
            failure
        };
        suite.add_test_case(case(&c.id, &format!("{name}.{}", c.resource), status));
    }
    document(suite)
}

/// The JUnit document of a verification that could not run: one test case with an `<error>`
/// whose type is the failure's kind, so that a test report published `if: always()` shows why
/// instead of an unreadable file. `env` is the one asked for, when known.
pub(crate) fn junit_error(env: Option<&str>, failure: &Failure) -> String {
    let name = env.map_or_else(|| "medtech".to_owned(), |e| format!("medtech.{e}"));
    let mut error = TestCaseStatus::non_success(NonSuccessKind::Error);
    error
        .set_type(failure.kind)
        .set_message(failure.message.as_str())
        .set_description(format!(
            "{}\nexit code: {}",
            failure.message, failure.exit_code
        ));
    let mut suite = suite(&name);
    suite.add_test_case(case("verify", &name, error));
    // The caller reports the failure on stderr as well; should even this document fail to
    // build, an empty stdout is better than half a document.
    document(suite).unwrap_or_default()
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
    use crate::logical::{Guards, Logical};

    /// One check that passes, one that fails, and one whose observed value is longer than a
    /// table cell (and holds what XML and Markdown must escape).
    fn checks() -> Vec<Check> {
        vec![
            Check::common(
                Logical::Vpc,
                ("exists", crate::control::EXISTS),
                true.into(),
                true.into(),
            ),
            Check::property(
                Logical::KmsKey,
                declared(Logical::KmsKey, "rotation_enabled"),
                true.into(),
                false.into(),
            ),
            Check::property(
                Logical::SecurityGroup(Guards::Postgres),
                declared(Logical::SecurityGroup(Guards::Postgres), "ingress"),
                json!([]),
                json!([{"cidr": "0.0.0.0/0", "ports": "0-65535", "note": "<opened by hand> & 'kept' | \"wide\""}]),
            ),
        ]
    }

    /// The property `resource` declares under `name`, control and all.
    fn declared(resource: Logical, name: &str) -> crate::property::Prop {
        let stack = crate::resources::stack();
        let res = stack.iter().find(|r| r.name() == resource).unwrap();
        res.properties()
            .iter()
            .find(|p| p.name == name)
            .copied()
            .unwrap()
    }

    /// The document with its one moving part, the timestamp, fixed.
    fn stamped(doc: &str) -> String {
        let Some(start) = doc.find(" timestamp=\"") else {
            return doc.to_owned();
        };
        let value = start + " timestamp=\"".len();
        let end = value + doc[value..].find('"').unwrap_or(0);
        format!("{}TIMESTAMP{}", &doc[..value], &doc[end..])
    }

    #[test]
    fn the_table_is_coloured_only_when_asked() {
        let plain = table(&checks(), Paint::PLAIN);
        assert!(!plain.contains('\x1b'), "{plain}");
        assert!(plain.starts_with("FAIL  "), "{plain}");
        let painted = table(&checks(), Paint::ANSI);
        assert!(painted.starts_with("\x1b[31mFAIL\x1b[0m  "), "{painted}");
        assert!(painted.contains("\n\x1b[32mPASS\x1b[0m  "), "{painted}");
        // Colour changes nothing but the verdicts.
        assert_eq!(
            painted
                .replace("\x1b[31m", "")
                .replace("\x1b[32m", "")
                .replace("\x1b[0m", ""),
            plain
        );
    }

    #[test]
    fn every_format_of_a_fixed_report() {
        let checks = checks();
        insta::assert_snapshot!("table", table(&checks, Paint::PLAIN));
        insta::assert_snapshot!("markdown", markdown("dev", &checks));
        insta::assert_snapshot!(
            "junit",
            stamped(&junit("dev", &checks).expect("JUnit document"))
        );
        insta::assert_snapshot!(
            "json",
            serde_json::to_string_pretty(&json("dev", &checks)).expect("JSON document")
        );
    }

    #[test]
    fn the_json_report_carries_the_format_version() {
        let report = json("dev", &checks());
        assert_eq!(report["format_version"], FORMAT_VERSION);
        assert_eq!(report["failed"], 2);
    }

    /// The elements named `tag` within `node`.
    fn tagged<'a, 'i>(node: roxmltree::Node<'a, 'i>, tag: &str) -> Vec<roxmltree::Node<'a, 'i>> {
        node.descendants().filter(|n| n.has_tag_name(tag)).collect()
    }

    /// What a CI's test view reads back, the escaping undone: the suite, a case per check
    /// named by its id, and a failure's type and text.
    #[test]
    fn the_junit_report_reads_back_as_one_suite_with_a_case_per_check() {
        let xml = junit("dev", &checks()).expect("JUnit document");
        let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
        let [suite] = tagged(doc.root(), "testsuite")[..] else {
            panic!("not one testsuite\n{xml}")
        };
        assert_eq!(suite.attribute("name"), Some("medtech.dev"));
        let verdicts: Vec<_> = tagged(suite, "testcase")
            .into_iter()
            .map(|case| {
                let failure = tagged(case, "failure")
                    .first()
                    .map(|f| (f.attribute("type"), f.text().and_then(|t| t.lines().nth(1))));
                (case.attribute("name"), failure)
            })
            .collect();
        assert_eq!(
            verdicts,
            [
                (Some("vpc.exists"), None),
                (
                    Some("kms.rotation_enabled"),
                    Some((Some("high"), Some("observed: false")))
                ),
                (
                    Some("rds-sg.ingress"),
                    Some((
                        Some("critical"),
                        Some(
                            r#"observed: [{"cidr":"0.0.0.0/0","note":"<opened by hand> & 'kept' | \"wide\"","ports":"0-65535"}]"#
                        )
                    ))
                ),
            ],
            "{xml}"
        );
    }

    #[test]
    fn a_verification_that_could_not_run_is_one_errored_test_case() {
        let failure = Failure {
            kind: "aws_access",
            message: "verification could not run: AWS: <endpoint> \"unreachable\" & more".into(),
            exit_code: 2,
        };
        let xml = junit_error(Some("dev"), &failure);
        insta::assert_snapshot!("junit_error", stamped(&xml));
        // The counts and the type are in the snapshot; the escaping must give the message back.
        let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
        let [error] = tagged(doc.root(), "error")[..] else {
            panic!("not one <error>\n{xml}")
        };
        assert_eq!(error.attribute("message"), Some(failure.message.as_str()));
        let unnamed = junit_error(None, &failure);
        assert!(
            unnamed.contains("<testsuite name=\"medtech\" "),
            "{unnamed}"
        );
    }
}
