//! Drift: changes made behind medtech's back, through the SDK. For each, `verify` fails
//! naming exactly that check, `plan` reports exactly that change (exit 2), `up` repairs it and
//! `verify` passes again. Also: reports in every format, verification without state, and the
//! refusal to replace stateful resources.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::common::sent;
use crate::common::{TestContext, stderr, stdout};
use crate::lookup::{backup_retention, db_instance, default_security_group};
use crate::runs::{assert_no_changes, failed_checks, planned_changes};

async fn kms_key_id(t: &TestContext) -> String {
    t.outputs()["kms_key_id"]
        .as_str()
        .expect("kms_key_id")
        .to_owned()
}

#[tokio::test]
async fn every_drift_is_named_planned_and_repaired() {
    let t = TestContext::new("drift").await;
    t.run_ok(&["up"]);
    assert!(failed_checks(&t, 0).is_empty());
    assert_no_changes(&t, &t.env);

    let env = t.env.clone();
    let outputs = t.outputs();
    let text = |key: &str| outputs[key].as_str().expect(key).to_owned();

    // What the repairs must bring back, read through the SDK before anything drifts.
    let vpc = text("vpc_id");
    let rds_sg = text("rds_security_group_id");
    let default_sg = default_security_group(&t, &vpc).await;
    let default_sg = default_sg.group_id().expect("group id").to_owned();
    let db = text("rds_instance_identifier");
    let rds_sg_before = ingress(&t, &rds_sg).await;
    assert!(
        !rds_sg_before.is_empty(),
        "the database group admits nothing"
    );
    assert_eq!(ingress(&t, &default_sg).await, Vec::<String>::new());
    let vpc_tags_before = vpc_tags(&t, &vpc).await;
    assert_eq!(
        vpc_tags_before.get("Compliance").map(String::as_str),
        Some("HIPAA")
    );
    assert_eq!(backup_retention(&t, &db).await, 30);

    // (what is done behind medtech's back, the one check it must break)
    let mut drifts: Vec<(&str, &str)> = Vec::new();

    // 1. Key rotation turned off.
    sent!(t.kms.disable_key_rotation().key_id(kms_key_id(&t).await));
    drifts.push(("key rotation off", "kms.rotation_enabled"));
    // 2. An extra ingress rule on the database's security group.
    sent!(
        t.ec2
            .authorize_security_group_ingress()
            .group_id(text("rds_security_group_id"))
            .ip_protocol("tcp")
            .from_port(5432)
            .to_port(5432)
            .cidr_ip("0.0.0.0/0")
    );
    drifts.push(("database open to the world", "rds-sg.ingress"));
    // 3. Flow-log retention shortened.
    sent!(
        t.logs
            .put_retention_policy()
            .log_group_name(format!("/medtech/{env}/vpc-flow"))
            .retention_in_days(90)
    );
    drifts.push((
        "flow-log retention shortened",
        "flow-logs-group.retention_in_days",
    ));
    // 4. Stream encryption stopped.
    sent!(
        t.kinesis
            .stop_stream_encryption()
            .stream_name(text("kinesis_stream_name"))
            .encryption_type(aws_sdk_kinesis::types::EncryptionType::Kms)
            .key_id(text("kms_key_arn"))
    );
    drifts.push(("stream encryption stopped", "kinesis.encryption"));
    // 5. An alarm deleted.
    sent!(
        t.cloudwatch
            .delete_alarms()
            .alarm_names(format!("medtech-rds-cpu-{env}"))
    );
    drifts.push(("alarm deleted", "alarm-rds-cpu.exists"));
    // 6. A required tag removed.
    sent!(
        t.ec2
            .delete_tags()
            .resources(text("vpc_id"))
            .tags(aws_sdk_ec2::types::Tag::builder().key("Compliance").build())
    );
    drifts.push(("tag removed", "vpc.tags"));
    // 7. A resource deleted outright: the audit log group, with its history.
    sent!(
        t.logs
            .delete_log_group()
            .log_group_name(text("audit_log_group_name"))
    );
    drifts.push(("audit log group deleted", "audit-logs.exists"));
    // 8. The default security group opened.
    sent!(
        t.ec2
            .authorize_security_group_ingress()
            .group_id(&default_sg)
            .ip_protocol("tcp")
            .from_port(22)
            .to_port(22)
            .cidr_ip("0.0.0.0/0")
    );
    drifts.push(("default group opened", "default-sg.ingress"));
    // 9. An inline policy slipped onto a role.
    let shortcut = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kinesis:*","Resource":"*"}]}"#;
    sent!(
        t.iam
            .put_role_policy()
            .role_name(format!("medtech-kinesis-producer-{env}"))
            .policy_name("shortcut")
            .policy_document(shortcut)
    );
    drifts.push((
        "inline policy added",
        "kinesis-producer-role.inline_policies",
    ));
    // 10. Database backups cut to a week.
    sent!(
        t.rds
            .modify_db_instance()
            .db_instance_identifier(&db)
            .backup_retention_period(7)
            .apply_immediately(true)
    );
    drifts.push(("backups shortened", "rds.backup_retention_period"));

    let expected: BTreeSet<String> = drifts
        .iter()
        .map(|(_, check)| (*check).to_owned())
        .collect();
    assert_eq!(
        failed_checks(&t, 1),
        expected,
        "verify must name exactly the drifted checks"
    );
    assert_eq!(
        planned_changes(&t),
        expected,
        "plan must name exactly the drifted properties"
    );

    t.run_ok(&["up"]);
    assert!(
        failed_checks(&t, 0).is_empty(),
        "up did not repair everything"
    );
    assert_no_changes(&t, &t.env);

    // Read back through the SDK, not through medtech: the repairs are real.
    let rotation = sent!(t.kms.get_key_rotation_status().key_id(kms_key_id(&t).await));
    assert!(rotation.key_rotation_enabled());
    for group in [
        text("audit_log_group_name"),
        format!("/medtech/{env}/vpc-flow"),
    ] {
        let found = sent!(t.logs.describe_log_groups().log_group_name_prefix(&group));
        assert_eq!(
            found.log_groups()[0].retention_in_days(),
            Some(365),
            "{group}"
        );
        assert_eq!(
            found.log_groups()[0].kms_key_id(),
            Some(text("kms_key_arn").as_str()),
            "{group}"
        );
    }
    let stream = sent!(
        t.kinesis
            .describe_stream_summary()
            .stream_name(text("kinesis_stream_name"))
    );
    assert_eq!(
        stream
            .stream_description_summary()
            .unwrap()
            .encryption_type(),
        Some(&aws_sdk_kinesis::types::EncryptionType::Kms)
    );
    let inline = sent!(
        t.iam
            .list_role_policies()
            .role_name(format!("medtech-kinesis-producer-{env}"))
    );
    assert!(inline.policy_names().is_empty());
    let alarms = sent!(
        t.cloudwatch
            .describe_alarms()
            .alarm_names(format!("medtech-rds-cpu-{env}"))
    );
    assert_eq!(alarms.metric_alarms().len(), 1);
    assert_eq!(
        ingress(&t, &rds_sg).await,
        rds_sg_before,
        "database group ingress"
    );
    assert_eq!(
        ingress(&t, &default_sg).await,
        Vec::<String>::new(),
        "default group ingress"
    );
    assert_eq!(vpc_tags(&t, &vpc).await, vpc_tags_before, "VPC tags");
    assert_eq!(backup_retention(&t, &db).await, 30, "backup retention");
}

/// A security group's ingress rules as the emulator reports them: one line per protocol,
/// port range and source, sorted.
async fn ingress(t: &TestContext, group: &str) -> Vec<String> {
    let groups = sent!(t.ec2.describe_security_groups().group_ids(group));
    let mut rules = Vec::new();
    for p in groups.security_groups()[0].ip_permissions() {
        let ports = format!(
            "{:?} {:?}-{:?}",
            p.ip_protocol(),
            p.from_port(),
            p.to_port()
        );
        let sources = p
            .ip_ranges()
            .iter()
            .filter_map(|r| r.cidr_ip())
            .chain(p.ipv6_ranges().iter().filter_map(|r| r.cidr_ipv6()))
            .chain(p.user_id_group_pairs().iter().filter_map(|g| g.group_id()))
            .chain(
                p.prefix_list_ids()
                    .iter()
                    .filter_map(|l| l.prefix_list_id()),
            );
        rules.extend(sources.map(|source| format!("{ports} from {source}")));
    }
    rules.sort();
    rules
}

async fn vpc_tags(t: &TestContext, vpc: &str) -> std::collections::BTreeMap<String, String> {
    let vpcs = sent!(t.ec2.describe_vpcs().vpc_ids(vpc));
    crate::common::tags(vpcs.vpcs()[0].tags())
}

#[tokio::test]
async fn reports_parse_and_state_is_not_needed() {
    let t = TestContext::new("reports").await;
    t.run_ok(&["up"]);

    // JSON: documented fields on every check.
    let json: Value =
        serde_json::from_slice(&t.run_ok(&["verify", "--format", "json"]).stdout).unwrap();
    assert_eq!(json["passed"], Value::Bool(true));
    let checks = json["checks"].as_array().unwrap();
    assert!(checks.len() > 200, "only {} checks", checks.len());
    for field in [
        "id",
        "resource",
        "kind",
        "passed",
        "expected",
        "observed",
        "title",
        "severity",
        "safeguard",
        "fix",
        "prowler",
        "config_rule",
    ] {
        assert!(
            checks.iter().all(|c| c.get(field).is_some()),
            "a check lacks {field}"
        );
    }
    for id in [
        "rds.storage_encrypted",
        "db-subnets.subnet_ids",
        "flow-logs.traffic_type",
        "default-sg.ingress",
        "secrets-reader-role.inline_policies",
    ] {
        assert!(checks.iter().any(|c| c["id"] == id), "no check {id}");
    }

    // JUnit: testsuites > testsuite > testcase, counts consistent, one case per check.
    let junit = stdout(&t.run_ok(&["verify", "--format", "junit"]));
    assert!(junit.starts_with("<?xml"));
    let cases = junit.matches("<testcase ").count();
    assert_eq!(cases, checks.len());
    let doc = roxmltree::Document::parse(&junit).expect("a JUnit document");
    let suites: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 1, "{junit}");
    let suite = suites[0];
    assert_eq!(
        suite.attribute("name"),
        Some(format!("medtech.{}", t.env).as_str())
    );
    assert_eq!(suite.attribute("tests"), Some(cases.to_string().as_str()));
    assert_eq!(suite.attribute("failures"), Some("0"));
    assert!(junit.trim_end().ends_with("</testsuites>"));

    // Markdown, also appended to a GitHub job summary.
    let summary = t.path("summary.md");
    let out = t.medtech_with(
        &["verify", "--env", &t.env, "--format", "markdown"],
        &[("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())],
    );
    assert!(out.status.success());
    assert!(stdout(&out).contains("all controls pass"));
    assert!(
        std::fs::read_to_string(&summary)
            .unwrap()
            .contains("all controls pass")
    );

    // A failing control in JUnit: a <failure> element for exactly it.
    sent!(t.kms.disable_key_rotation().key_id(kms_key_id(&t).await));
    let out = t.medtech(&["verify", "--env", &t.env, "--format", "junit"]);
    assert_eq!(out.status.code(), Some(1));
    let junit = stdout(&out);
    assert_eq!(junit.matches("<failure ").count(), 1);
    assert!(junit.contains("name=\"kms.rotation_enabled\""));
    t.run_ok(&["up"]);

    // Without the state file, verify and plan still find everything and see no change.
    let recorded = t.state();
    assert!(
        recorded["resources"]
            .as_object()
            .is_some_and(|r| r.len() > 40),
        "{recorded}"
    );
    std::fs::remove_file(t.state_file()).unwrap();
    t.run_ok(&["verify"]);
    assert_no_changes(&t, &t.env);
    assert!(!t.state_file().exists(), "plan or verify wrote state");

    // state refresh rebuilds it from AWS: every resource, with the id and every identifier
    // (ARNs, association ids, endpoints) that `up` had recorded.
    t.run_ok(&["state", "refresh"]);
    let state = t.state();
    let (rebuilt, recorded_map) = (
        state["resources"].as_object().expect("resources"),
        recorded["resources"].as_object().expect("resources"),
    );
    assert_eq!(
        rebuilt.keys().collect::<Vec<_>>(),
        recorded_map.keys().collect::<Vec<_>>()
    );
    for (name, record) in recorded_map {
        assert_eq!(&rebuilt[name], record, "{name}");
    }
    for key in ["environment", "region", "account_id"] {
        assert_eq!(state[key], recorded[key], "{key}");
    }
    let shown: Value = serde_json::from_slice(&t.run_ok(&["state", "show"]).stdout).unwrap();
    assert_eq!(shown, state);
}

#[tokio::test]
async fn replacing_stateful_resources_is_refused() {
    let t = TestContext::new("keep").await;
    t.run_ok(&["up"]);
    let vpc = t.outputs()["vpc_id"].clone();
    let out = t.medtech(&["up", "--env", &t.env, "--vpc-cidr", "10.9.0.0/16"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("cidr_block") && err.contains("cannot change in place"),
        "{err}"
    );
    // Nothing was replaced.
    let vpcs = sent!(t.ec2.describe_vpcs().vpc_ids(vpc.as_str().unwrap()));
    assert_eq!(vpcs.vpcs()[0].cidr_block(), Some("10.0.0.0/16"));
    assert_eq!(t.sweep(&t.env).await["vpc"].len(), 1);
}

/// RDS and ElastiCache go on describing a modification they accepted as if nothing had
/// happened (`available`, the old values) for a while before `modifying`. Drift repaired by a
/// modify on each: `up` must wait to see the change rather than compare the description from
/// before it, and leave the desired values in place, `verify` passing at once.
#[tokio::test]
async fn repairs_wait_until_aws_describes_the_modification() {
    // RDS 4.5 s and Redis 3 s to create; a modification 0.3 s unseen, then 0.3 s `modifying`.
    // medtech polls on the same scale, so it looks many times within the unseen stretch.
    const SCALE: &str = "0.005";
    let scale = [("MEDTECH_TIME_SCALE", SCALE)];
    let t = TestContext::with_behaviour(
        "lag",
        serde_json::json!({"time_scale": 0.005, "durations": {"modify_lag": 60}}),
    )
    .await;
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--env", &t.env]);
        let out = t.medtech_with(&all, &scale);
        assert!(
            out.status.success(),
            "medtech {all:?}: {}\n{}",
            stdout(&out),
            stderr(&out)
        );
    };
    run(&["up"]);
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(t.state_file()).unwrap()).unwrap();
    let db = saved["resources"]["rds"]["id"].as_str().expect("rds id");
    let group = saved["resources"]["redis"]["id"]
        .as_str()
        .expect("redis id");
    assert_eq!(backup_retention(&t, db).await, 30);
    assert_eq!(snapshot_retention(&t, group).await, (7, "available".into()));

    // Shortened behind medtech's back, and left to take effect.
    sent!(
        t.rds
            .modify_db_instance()
            .db_instance_identifier(db)
            .backup_retention_period(3)
            .apply_immediately(true)
    );
    sent!(
        t.elasticache
            .modify_replication_group()
            .replication_group_id(group)
            .snapshot_retention_limit(1)
            .apply_immediately(true)
    );
    for _ in 0..600 {
        let rds_done = backup_retention(&t, db).await == 3 && db_settled(&t, db).await;
        if rds_done && snapshot_retention(&t, group).await == (1, "available".into()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(backup_retention(&t, db).await, 3, "the drift never applied");
    assert_eq!(snapshot_retention(&t, group).await, (1, "available".into()));

    run(&["up"]);
    assert_eq!(backup_retention(&t, db).await, 30);
    assert_eq!(snapshot_retention(&t, group).await, (7, "available".into()));
    assert!(failed_checks(&t, 0).is_empty());
}

/// Whether the instance is `available` with nothing pending.
async fn db_settled(t: &TestContext, db: &str) -> bool {
    let db = db_instance(t, db).await;
    db.db_instance_status() == Some("available")
        && db
            .pending_modified_values()
            .is_none_or(|p| p.backup_retention_period().is_none())
}

/// The replication group's snapshot retention and status.
async fn snapshot_retention(t: &TestContext, group: &str) -> (i32, String) {
    let out = sent!(
        t.elasticache
            .describe_replication_groups()
            .replication_group_id(group)
    );
    let group = &out.replication_groups()[0];
    (
        group
            .snapshot_retention_limit()
            .expect("snapshot retention"),
        group.status().unwrap_or_default().to_owned(),
    )
}
