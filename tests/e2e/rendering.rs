//! How results read: colour only where asked for (`--color`, `NO_COLOR`, `CLICOLOR_FORCE`,
//! a terminal), the counts line that ends `plan`, `up` and `destroy` and the same counts in
//! their JSON, `format_version` in every JSON document, and a `verify` that could not run
//! still answering in the format asked for (JUnit with an errored case, the JSON error
//! document).

use std::process::Output;

use serde_json::Value;

use crate::common::sent;
use crate::common::{TestContext, stderr, stdout};
use crate::runs::DESTROY_NOW;

/// Environment variables a case sets.
type Vars = &'static [(&'static str, &'static str)];

/// The byte every colour code starts with.
const ESC: u8 = 0x1b;

/// An SDK debug line on stderr, so that stderr's colour is tested on a line that is there.
const LOG: (&str, &str) = ("RUST_LOG", "aws_config=debug");

fn escapes(bytes: &[u8]) -> bool {
    bytes.contains(&ESC)
}

/// `medtech graph --output json`'s node count: what a fresh environment must create.
fn graph_nodes(t: &TestContext) -> usize {
    let graph: Value = serde_json::from_slice(&t.run_ok(&["graph", "--output", "json"]).stdout)
        .expect("graph JSON");
    graph["nodes"].as_array().expect("nodes").len()
}

/// The one JSON document a run printed on stdout (a second one would not parse).
fn document(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document: {e}\n{}", stdout(out)))
}

/// How many rows of the summary table on `stderr` have `action`.
fn table_rows(stderr: &str, action: &str) -> usize {
    stderr
        .lines()
        .skip_while(|l| !l.starts_with("RESOURCE "))
        .filter(|l| l.split_whitespace().nth(3) == Some(action))
        .count()
}

/// The last line of a text.
fn last_line(text: &str) -> &str {
    text.trim_end().lines().last().unwrap_or_default()
}

/// The test process's stdout is no terminal, so `auto` means no colour; `--color` beats
/// `NO_COLOR`, which beats `CLICOLOR_FORCE`. Nothing is up, so `plan` has changes pending and
/// `verify` fails every `exists` check: both print what they would colour.
#[tokio::test]
async fn colour_follows_the_flag_then_no_color_then_clicolor_force() {
    let t = TestContext::new("colour").await;
    let cases: [(&str, &[&str], Vars, bool); 7] = [
        ("auto, not a terminal", &[], &[LOG], false),
        (
            "--color never over CLICOLOR_FORCE",
            &["--color", "never"],
            &[LOG, ("CLICOLOR_FORCE", "1")],
            false,
        ),
        ("NO_COLOR", &[], &[LOG, ("NO_COLOR", "1")], false),
        (
            "NO_COLOR over CLICOLOR_FORCE",
            &[],
            &[LOG, ("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")],
            false,
        ),
        (
            "--color always over NO_COLOR",
            &["--color", "always"],
            &[LOG, ("NO_COLOR", "1")],
            true,
        ),
        ("CLICOLOR_FORCE", &[], &[LOG, ("CLICOLOR_FORCE", "1")], true),
        (
            "MEDTECH_COLOR",
            &[],
            &[LOG, ("MEDTECH_COLOR", "always")],
            true,
        ),
    ];
    for (case, flags, vars, coloured) in cases {
        for (command, code, marks) in [
            ("plan", 0, ["+ vpc (vpc) will be created", "Plan: "]),
            ("verify", 1, ["FAIL", "vpc.exists"]),
        ] {
            let mut args = vec![command, "--env", "colour"];
            args.extend(flags);
            let out = t.medtech_with(&args, vars);
            assert_eq!(out.status.code(), Some(code), "{command}, {case}: {out:?}");
            let (text, log) = (stdout(&out), stderr(&out));
            assert!(!log.is_empty(), "{command}, {case}: no log line on stderr");
            assert_eq!(
                escapes(&out.stdout),
                coloured,
                "{command}, {case}: stdout\n{text}"
            );
            assert_eq!(
                escapes(&out.stderr),
                coloured,
                "{command}, {case}: stderr\n{log}"
            );
            if !coloured {
                for mark in marks {
                    assert!(text.contains(mark), "{command}, {case}: {mark}\n{text}");
                }
            }
        }
    }
    // What is coloured: terraform's marks, verify's verdicts.
    let plan = stdout(&t.medtech(&["plan", "--env", "colour", "--color", "always"]));
    assert!(plan.contains("\x1b[32m+\x1b[0m vpc (vpc)"), "{plan}");
    let verify = stdout(&t.medtech(&["verify", "--env", "colour", "--color", "always"]));
    assert!(verify.starts_with("\x1b[31mFAIL\x1b[0m"), "{verify}");
}

/// The counts that end `plan`, `up` and `destroy`, in text and in JSON, against what the
/// emulator holds at each step: a fresh environment, a converged one, one drifted setting,
/// and a destroyed one.
#[tokio::test]
async fn plan_up_and_destroy_end_with_counts_of_what_they_found() {
    let t = TestContext::new("counts").await;
    let nodes = graph_nodes(&t);
    assert!(nodes > 40, "{nodes} graph nodes");
    assert!(
        t.sweep_all(&t.env).await.values().all(Vec::is_empty),
        "a fresh emulator holds resources"
    );

    // Nothing exists: every node is to be created.
    let plan = stdout(&t.run_ok(&["plan"]));
    insta::assert_snapshot!("plan_fresh", plan);
    assert_eq!(
        last_line(&plan),
        format!("Plan: {nodes} to create, 0 to change, 0 to leave alone."),
        "{plan}"
    );
    let json = document(&t.run_ok(&["plan", "--output", "json"]));
    assert_eq!(json["format_version"], 1, "{json}");
    assert_eq!(
        json["summary"],
        serde_json::json!({"create": nodes, "change": 0, "unchanged": 0, "settling": 0, "failed": 0, "not_run": 0})
    );

    // Some resources exist as soon as another does (a VPC's default security group): `up`
    // updates them, and its line says so as its table does.
    let up = stderr(&t.run_ok(&["up"]));
    let (created, updated) = (table_rows(&up, "created"), table_rows(&up, "updated"));
    assert_eq!(created + updated, nodes, "{up}");
    assert!(created > updated, "{up}");
    assert!(
        up.contains(&format!(
            "\nUp: {created} created, {updated} changed, 0 unchanged.\n"
        )),
        "{up}"
    );
    let kms = t.outputs()["kms_key_id"]
        .as_str()
        .expect("kms_key_id")
        .to_owned();
    let rotation =
        async || sent!(t.kms.get_key_rotation_status().key_id(&kms)).key_rotation_enabled();
    assert!(rotation().await);

    // Converged: nothing to do, every node left alone.
    let plan = stdout(&t.run_ok(&["plan"]));
    assert_eq!(
        plan,
        "No changes. Environment counts matches the configuration.\n"
    );
    let json = document(&t.run_ok(&["plan", "--output", "json"]));
    assert_eq!(json["summary"]["create"], 0, "{json}");
    assert_eq!(json["summary"]["change"], 0, "{json}");
    assert_eq!(json["summary"]["unchanged"], nodes, "{json}");
    let verify = document(&t.run_ok(&["verify", "--output", "json"]));
    assert_eq!(verify["format_version"], 1, "{verify}");
    assert_eq!(verify["passed"], true, "{verify}");

    // One setting drifted behind medtech's back: one change.
    sent!(t.kms.disable_key_rotation().key_id(&kms));
    assert!(!rotation().await);
    let plan = stdout(&t.run_ok(&["plan"]));
    insta::assert_snapshot!("plan_one_drift", plan);
    assert_eq!(
        last_line(&plan),
        format!(
            "Plan: 0 to create, 1 to change, {} to leave alone.",
            nodes - 1
        )
    );
    let json = document(&t.run_ok(&["plan", "--output", "json"]));
    assert_eq!(json["summary"]["change"], 1, "{json}");
    assert_eq!(json["summary"]["unchanged"], nodes - 1, "{json}");

    let up = document(&t.run_ok(&["up", "--output", "json"]));
    assert_eq!(up["format_version"], 1, "{up}");
    assert_eq!(
        up["summary"],
        serde_json::json!({"created": 0, "changed": 1, "unchanged": nodes - 1, "failed": 0, "not_run": 0})
    );
    assert!(rotation().await, "up did not repair the rotation");

    // Destroy: everything goes; the counts add up to the graph, and what the table calls
    // deleted is what the line calls destroyed.
    let destroy = stderr(&t.run_ok(&DESTROY_NOW));
    let deleted = table_rows(&destroy, "deleted");
    assert!(deleted > 0, "{destroy}");
    assert!(
        destroy.contains(&format!(
            "\nDestroy: {deleted} destroyed, {} already gone.\n",
            nodes - deleted
        )),
        "{destroy}"
    );
    t.assert_nothing_left(&t.env).await;
    let again = document(&t.run_ok(&["destroy", "--yes", "--output", "json"]));
    assert_eq!(again["format_version"], 1, "{again}");
    assert_eq!(
        again["summary"],
        serde_json::json!({"destroyed": 0, "already_gone": nodes, "failed": 0, "not_run": 0})
    );
}

/// A `verify` that cannot run (here: no state and no AWS to reach) exits 2 as before, and
/// still answers in the format asked for: a JUnit document whose one test case has an
/// `<error>` naming the kind, or exactly one JSON error document.
#[tokio::test]
async fn a_verify_that_cannot_run_says_why_in_its_format() {
    let t = TestContext::new("blind").await;
    let unreachable = ["--env", "blind", "--endpoint-url", "http://127.0.0.1:1"];
    assert!(!t.state_file().exists());

    let mut args = vec!["verify", "--format", "junit"];
    args.extend(unreachable);
    let out = t.medtech(&args);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let xml = stdout(&out);
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let suites: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 1, "{xml}");
    assert_eq!(suites[0].attribute("errors"), Some("1"), "{xml}");
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 1, "{xml}");
    let error = cases[0]
        .children()
        .find(|n| n.has_tag_name("error"))
        .unwrap_or_else(|| panic!("no <error> in the test case\n{xml}"));
    assert_eq!(error.attribute("type"), Some("aws_access"), "{xml}");
    let message = error.attribute("message").unwrap_or_default();
    assert!(
        message.starts_with("verification could not run: ") && message.contains("127.0.0.1:1"),
        "{message}"
    );

    for format in [&["--output", "json"][..], &["--format", "json"]] {
        let mut args = vec!["verify"];
        args.extend(format);
        args.extend(unreachable);
        let out = t.medtech(&args);
        assert_eq!(out.status.code(), Some(2), "{format:?}: {}", stderr(&out));
        let json = document(&out);
        assert_eq!(json["format_version"], 1, "{json}");
        assert_eq!(json["command"], "verify", "{json}");
        assert_eq!(json["error"]["kind"], "aws_access", "{json}");
        assert_eq!(json["error"]["exit_code"], 2, "{json}");
        assert!(
            stderr(&out).starts_with("error: verification could not run: "),
            "{}",
            stderr(&out)
        );
    }

    // Bad input is still bad input, with the same exit code.
    let out = t.medtech(&["verify", "--env", "Bad", "--output", "json"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(document(&out)["error"]["kind"], "invalid_input");
}
