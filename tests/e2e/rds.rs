//! The RDS instance, its parameter and subnet groups: every STACK.md setting read back, and
//! the engine version resolved through RDS, never a pinned minor that RDS has retired.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::common::sent;
use crate::common::{TestContext, stderr, stdout};
use crate::lookup::{
    assert_tagged, assert_tags, rds_instance, role, security_group_id, sorted, stack_key,
    subnet_ids, vpc_id,
};
use crate::sweep::TagSource;

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
