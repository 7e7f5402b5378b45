//! The RDS instance, its parameter and subnet groups: every STACK.md setting read back, the
//! engine version resolved through RDS, never a pinned minor that RDS has retired, the CA
//! pinned and repaired, and the configured port everywhere a client or a rule needs it.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::common::sent;
use crate::common::{TestContext, stderr, stdout};
use crate::lookup::{
    assert_tagged, assert_tags, rds_instance, role, secret_json, security_group_id, sorted,
    stack_key, subnet_ids, vpc_id,
};
use crate::runs::{
    assert_no_changes, assert_verify_passes, check, failed_checks, planned_changes, verify_report,
};
use crate::sweep::TagSource;

/// The CA medtech pins by default (`rds.ca_certificate`).
const DEFAULT_CA: &str = "rds-ca-rsa2048-g1";

pub(crate) async fn check_rds(t: &TestContext, env: &str) {
    let key = stack_key(t, env).await;
    let key_arn = key.arn().unwrap();
    let private = sorted(subnet_ids(t, env, "private").await);
    let vpc = vpc_id(t, env).await;
    let db = rds_instance(t, env).await;
    let id = format!("medtech-rds-{env}");

    // Parameter group: postgres family of the engine, the three parameters.
    let pg_name = format!("medtech-pg-{env}");
    let pgs = sent!(
        t.rds
            .describe_db_parameter_groups()
            .db_parameter_group_name(&pg_name)
    );
    let pg = &pgs.db_parameter_groups()[0];
    let version = db.engine_version().expect("engine version");
    let major = if version.starts_with("9.") {
        version.splitn(3, '.').take(2).collect::<Vec<_>>().join(".")
    } else {
        version.split('.').next().unwrap().to_owned()
    };
    assert_eq!(
        pg.db_parameter_group_family(),
        Some(format!("postgres{major}").as_str()),
        "parameter group family for engine {version}"
    );
    let params: Vec<_> = t
        .rds
        .describe_db_parameters()
        .db_parameter_group_name(&pg_name)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .unwrap();
    let params: BTreeMap<&str, &str> = params
        .iter()
        .flat_map(|p| p.parameters())
        .filter_map(|p| Some((p.parameter_name()?, p.parameter_value()?)))
        .collect();
    for name in ["rds.force_ssl", "log_connections", "log_disconnections"] {
        assert_eq!(
            params.get(name).copied(),
            Some("1"),
            "parameter {name} in {params:?}"
        );
    }
    let arn = pg.db_parameter_group_arn().unwrap().to_owned();
    assert_tagged(t, TagSource::Rds(arn), env, &pg_name).await;

    // Subnet group: the two private subnets.
    let sg_name = format!("medtech-db-subnets-{env}");
    let groups = sent!(
        t.rds
            .describe_db_subnet_groups()
            .db_subnet_group_name(&sg_name)
    );
    let group = &groups.db_subnet_groups()[0];
    let members: Vec<String> = group
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier().map(str::to_owned))
        .collect();
    assert_eq!(sorted(members), private, "DB subnet group subnets");
    assert_eq!(group.vpc_id(), Some(vpc.as_str()));
    let arn = group.db_subnet_group_arn().unwrap().to_owned();
    assert_tagged(t, TagSource::Rds(arn), env, &sg_name).await;

    // The instance: every row of STACK.md's rds line.
    assert_eq!(db.db_instance_status(), Some("available"));
    assert_eq!(db.engine(), Some("postgres"));
    assert_eq!(db.multi_az(), Some(true), "Multi-AZ");
    assert_eq!(db.storage_encrypted(), Some(true), "storage encrypted");
    assert_eq!(db.kms_key_id(), Some(key_arn), "storage key");
    assert_eq!(db.storage_type(), Some("gp3"));
    assert_eq!(db.backup_retention_period(), Some(30), "backup retention");
    assert_eq!(
        sorted(db.enabled_cloudwatch_logs_exports().to_vec()),
        ["postgresql", "upgrade"],
        "log exports"
    );
    assert_eq!(db.publicly_accessible(), Some(false), "publicly accessible");
    assert_eq!(db.deletion_protection(), Some(true), "deletion protection");
    assert_eq!(
        db.copy_tags_to_snapshot(),
        Some(true),
        "copy tags to snapshot"
    );
    assert_eq!(
        db.auto_minor_version_upgrade(),
        Some(true),
        "auto minor version upgrade"
    );
    assert_eq!(
        db.iam_database_authentication_enabled(),
        Some(true),
        "IAM DB auth"
    );
    let interval = db.monitoring_interval().unwrap_or_default();
    assert!(
        [1, 5, 10, 15, 30, 60].contains(&interval),
        "enhanced monitoring interval {interval}"
    );
    let monitoring = role(t, &format!("medtech-rds-monitoring-{env}")).await;
    assert_eq!(
        db.monitoring_role_arn(),
        Some(monitoring.arn()),
        "monitoring role"
    );
    assert_eq!(
        db.performance_insights_enabled(),
        Some(true),
        "Performance Insights"
    );
    assert_eq!(
        db.performance_insights_kms_key_id(),
        Some(key_arn),
        "PI key"
    );
    assert_eq!(
        db.db_parameter_groups()
            .iter()
            .filter_map(|g| g.db_parameter_group_name())
            .collect::<Vec<_>>(),
        [pg_name.as_str()],
        "parameter group"
    );
    assert_eq!(
        db.db_subnet_group().and_then(|g| g.db_subnet_group_name()),
        Some(sg_name.as_str())
    );
    let rds_sg = security_group_id(t, &format!("medtech-rds-sg-{env}")).await;
    assert_eq!(
        db.vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id())
            .collect::<Vec<_>>(),
        [rds_sg.as_str()],
        "instance security groups"
    );
    let endpoint = db.endpoint().expect("endpoint");
    assert!(endpoint.address().is_some_and(|a| !a.is_empty()));
    assert_eq!(endpoint.port(), Some(5432), "the only port rds-sg opens");
    assert_eq!(
        db.ca_certificate_identifier(),
        Some(DEFAULT_CA),
        "CA (default)"
    );
    assert_eq!(
        db.certificate_details().and_then(|c| c.ca_identifier()),
        Some(DEFAULT_CA),
        "the server certificate's CA"
    );
    let resource_id = db.dbi_resource_id().expect("DbiResourceId");
    assert_eq!(
        db.enhanced_monitoring_resource_arn(),
        Some(
            format!(
                "arn:aws:logs:{}:{}:log-group:RDSOSMetrics:log-stream:{resource_id}",
                crate::common::REGION,
                t.account_id().await
            )
            .as_str()
        ),
        "where enhanced monitoring delivers"
    );
    assert!(
        db.secondary_availability_zone().is_some(),
        "Multi-AZ instance without a standby AZ"
    );
    let tags = db.tag_list().iter();
    let tags = tags.filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())));
    assert_tags("rds instance", &tags.collect(), env, Some(&id));
}

/// The version RDS answers as the default of `major`, read through the SDK.
async fn default_engine_version(
    t: &TestContext,
    major: &str,
) -> aws_sdk_rds::types::DbEngineVersion {
    let out = sent!(
        t.rds
            .describe_db_engine_versions()
            .engine("postgres")
            .engine_version(major)
            .default_only(true)
    );
    assert_eq!(out.db_engine_versions().len(), 1, "default of {major}");
    out.db_engine_versions()[0].clone()
}

async fn parameter_group_family(t: &TestContext, env: &str) -> String {
    let out = sent!(
        t.rds
            .describe_db_parameter_groups()
            .db_parameter_group_name(format!("medtech-pg-{env}"))
    );
    out.db_parameter_groups()[0]
        .db_parameter_group_family()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn up_runs_rds_default_minor_of_the_configured_major_and_refuses_a_major_upgrade() {
    let t = TestContext::new("engine").await;
    let env = t.env.clone();
    let default = default_engine_version(&t, "16").await;
    let version = default.engine_version().unwrap();

    let planned = stdout(&t.run_ok(&["plan"]));
    assert!(
        planned.contains(&format!("engine postgres 16 → {version}")),
        "plan does not show the chosen version:\n{planned}"
    );
    t.run_ok(&["up"]);
    let db = rds_instance(&t, &env).await;
    assert_eq!(db.engine_version(), Some(version), "engine version");
    assert_eq!(
        Some(parameter_group_family(&t, &env).await.as_str()),
        default.db_parameter_group_family(),
        "parameter group family"
    );
    assert_eq!(
        t.state()["resources"]["rds"]["attrs"]["engine_version"],
        Value::from(version),
        "version recorded in state"
    );

    // RDS upgrading the minor by itself is not drift.
    sent!(
        t.rds
            .modify_db_instance()
            .db_instance_identifier(format!("medtech-rds-{env}"))
            .engine_version("16.10")
            .apply_immediately(true)
    );
    t.run_ok(&["verify"]);
    assert!(
        stdout(&t.run_ok(&["plan"])).contains("No changes"),
        "a minor upgrade shows as a change"
    );

    // A new major is refused in one line that says what to do, and nothing is touched.
    std::fs::write(t.path("medtech.toml"), "[rds]\nengine_version = \"17\"\n").unwrap();
    let out = t.medtech(&["up", "--env", &env]);
    assert!(!out.status.success(), "a major upgrade was attempted");
    let err = stderr(&out);
    let line = err
        .lines()
        .find(|l| l.contains("major upgrade"))
        .unwrap_or_else(|| panic!("no refusal:\n{err}"));
    assert!(
        line.contains("rds.engine_version = \"16\"") && line.contains("PostgreSQL 16"),
        "{line}"
    );
    let db = rds_instance(&t, &env).await;
    assert_eq!(
        db.engine_version(),
        Some("16.10"),
        "the instance was changed"
    );
    assert_eq!(parameter_group_family(&t, &env).await, "postgres16");
}

#[tokio::test]
async fn a_pinned_full_version_and_the_postgres_master_user_are_honoured() {
    let t = TestContext::new("pinned").await;
    let env = t.env.clone();
    std::fs::write(
        t.path("medtech.toml"),
        "[rds]\nengine_version = \"16.10\"\nmaster_username = \"postgres\"\n",
    )
    .unwrap();
    let planned = stdout(&t.run_ok(&["plan"]));
    assert!(
        planned.contains("engine postgres 16.10 → 16.10"),
        "{planned}"
    );
    t.run_ok(&["up"]);
    let db = rds_instance(&t, &env).await;
    assert_eq!(db.engine_version(), Some("16.10"));
    assert_eq!(db.master_username(), Some("postgres"));
    assert_eq!(parameter_group_family(&t, &env).await, "postgres16");
}

#[tokio::test]
async fn a_retired_pinned_version_fails_plan_naming_the_field_and_the_choices() {
    let t = TestContext::new("retired").await;
    std::fs::write(t.path("medtech.toml"), "[rds]\nengine_version = \"16.4\"\n").unwrap();
    let out = t.medtech(&["plan", "--env", &t.env]);
    assert!(!out.status.success(), "plan accepted a retired version");
    let err = stderr(&out);
    assert!(
        err.contains("rds.engine_version \"16.4\" is not offered")
            && err.contains("16.8")
            && err.contains("set \"16\""),
        "{err}"
    );
}

/// The rule of `medtech-rds-sg-<env>`, as `tcp <port> <cidr>` lines.
async fn rds_ingress(t: &TestContext, env: &str) -> Vec<String> {
    let id = security_group_id(t, &format!("medtech-rds-sg-{env}")).await;
    let out = sent!(t.ec2.describe_security_groups().group_ids(id));
    let mut rules = Vec::new();
    for p in out.security_groups()[0].ip_permissions() {
        for range in p.ip_ranges() {
            rules.push(format!(
                "{} {:?}-{:?} {}",
                p.ip_protocol().unwrap_or_default(),
                p.from_port(),
                p.to_port(),
                range.cidr_ip().unwrap_or_default()
            ));
        }
    }
    rules
}

/// Everywhere a client or a rule needs the database's port: the instance, the one ingress
/// rule of its security group, the secret applications connect with, and the outputs.
async fn assert_port_everywhere(t: &TestContext, env: &str, port: i32) {
    let db = rds_instance(t, env).await;
    assert_eq!(db.endpoint().and_then(|e| e.port()), Some(port), "endpoint");
    assert_eq!(
        rds_ingress(t, env).await,
        [format!("tcp Some({port})-Some({port}) 10.0.0.0/16")],
        "the database's security group"
    );
    let (_, secret) = secret_json(t, &format!("medtech-rds-credentials-{env}")).await;
    assert_eq!(secret["port"], Value::from(port), "the secret's port");
    let outputs: Value = serde_json::from_slice(&t.run_ok(&["outputs"]).stdout).unwrap();
    assert_eq!(
        outputs["rds_port"],
        Value::from(port),
        "the rds_port output"
    );
}

/// `rds.port` reaches the instance, its security group, the secret and the outputs; a new
/// port is moved in place by `up` (DBPortNumber), everywhere at once, with no new instance.
#[tokio::test]
async fn the_configured_port_is_used_everywhere_and_moves_in_place() {
    let t = TestContext::new("port").await;
    let env = t.env.clone();
    std::fs::write(t.path("medtech.toml"), "[rds]\nport = 6543\n").unwrap();
    t.run_ok(&["up"]);
    assert_port_everywhere(&t, &env, 6543).await;
    let created = rds_instance(&t, &env)
        .await
        .dbi_resource_id()
        .map(str::to_owned);
    assert_verify_passes(&t, &env);

    std::fs::write(t.path("medtech.toml"), "[rds]\nport = 7000\n").unwrap();
    let planned = planned_changes(&t);
    for change in ["rds.port", "rds-sg.ingress"] {
        assert!(planned.contains(change), "{change} not in {planned:?}");
    }
    t.run_ok(&["up"]);
    assert_port_everywhere(&t, &env, 7000).await;
    assert_eq!(
        rds_instance(&t, &env)
            .await
            .dbi_resource_id()
            .map(str::to_owned),
        created,
        "the same instance"
    );
    assert_verify_passes(&t, &env);
    assert_no_changes(&t, &env);
}

/// The CA is pinned at create; one changed behind medtech's back fails `verify` (and only
/// that check) and `up` puts it back; a new CA in the config is applied the same way. The
/// CA's expiry is read from DescribeCertificates (2061 for the default).
#[tokio::test]
async fn the_pinned_ca_is_checked_and_repaired_in_place() {
    let t = TestContext::new("ca").await;
    let env = t.env.clone();
    let id = format!("medtech-rds-{env}");
    t.run_ok(&["up"]);
    assert_eq!(
        rds_instance(&t, &env).await.ca_certificate_identifier(),
        Some(DEFAULT_CA)
    );
    let (code, report) = verify_report(&t, &env);
    assert_eq!(code, Some(0), "{report}");
    let validity = check(&report, "rds.ca_certificate_valid_days");
    assert_eq!(validity["prowler"], "rds_instance_certificate_expiration");
    assert_eq!(validity["expected"], "at least 90 days");
    // Valid until 2061-05-25: at least 34 years from the day this was written.
    let days = validity["observed"].as_i64().expect("days");
    assert!(days > 34 * 365, "{validity}");
    let server = check(&report, "rds.server_certificate_valid_days");
    assert_eq!(server["passed"], true, "{server}");

    sent!(
        t.rds
            .modify_db_instance()
            .db_instance_identifier(&id)
            .ca_certificate_identifier("rds-ca-rsa4096-g1")
            .apply_immediately(true)
    );
    assert_eq!(
        failed_checks(&t, 1),
        BTreeSet::from(["rds.ca_certificate_identifier".to_owned()])
    );
    assert_eq!(
        planned_changes(&t),
        BTreeSet::from(["rds.ca_certificate_identifier".to_owned()])
    );
    t.run_ok(&["up"]);
    let db = rds_instance(&t, &env).await;
    assert_eq!(db.ca_certificate_identifier(), Some(DEFAULT_CA), "repaired");
    assert_eq!(
        db.certificate_details().and_then(|c| c.ca_identifier()),
        Some(DEFAULT_CA)
    );
    assert_verify_passes(&t, &env);

    std::fs::write(
        t.path("medtech.toml"),
        "[rds]\nca_certificate = \"rds-ca-ecc384-g1\"\n",
    )
    .unwrap();
    t.run_ok(&["up"]);
    assert_eq!(
        rds_instance(&t, &env).await.ca_certificate_identifier(),
        Some("rds-ca-ecc384-g1")
    );
    assert_verify_passes(&t, &env);
}
