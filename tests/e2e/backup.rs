//! AWS Backup of the RDS instance: the vault (the stack's key), the plan (rules, retention,
//! schedule) and the selection (the instance, through the backup role) as configured, read back
//! through the SDK; the instance listed as protected once a backup ran; drift repaired; and
//! `destroy`, which keeps the vault with its recovery points (and says so) for the next `up`
//! to take back, and deletes them only when told to.

use aws_config::{AppName, BehaviorVersion, Region};
use aws_sdk_backup::operation::get_backup_plan::GetBackupPlanOutput;
use aws_sdk_backup::types::BackupRule;
use serde_json::Value;

use crate::common::{REGION, TestContext, sent, stderr, tail};
use crate::lookup::{assert_tagged, role, stack_key, write_user_config};
use crate::policy_doc::{as_list, as_strings, policy_json};
use crate::runs::{
    DESTROY_NOW, assert_no_changes, assert_verify_passes, failed, failed_checks, planned_changes,
    verify_report,
};
use crate::sweep::TagSource;

/// AWS Backup as the tests read it back, fault-free like the context's other clients.
pub(crate) async fn client(t: &TestContext) -> aws_sdk_backup::Client {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(&t.emulator.endpoint)
        .credentials_provider(aws_sdk_backup::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .app_name(AppName::new("medtech-test-observer").expect("a valid app name"))
        .load()
        .await;
    aws_sdk_backup::Client::new(&config)
}

/// The one live plan of `env`, at its current version.
async fn plan_of(backup: &aws_sdk_backup::Client, env: &str) -> GetBackupPlanOutput {
    let plans = sent!(backup.list_backup_plans());
    let ids: Vec<&str> = plans
        .backup_plans_list()
        .iter()
        .filter(|p| p.backup_plan_name() == Some(&format!("medtech-{env}")))
        .filter(|p| p.deletion_date().is_none())
        .filter_map(|p| p.backup_plan_id())
        .collect();
    assert_eq!(ids.len(), 1, "plans of {env}: {ids:?}");
    sent!(backup.get_backup_plan().backup_plan_id(ids[0]))
}

fn rule<'a>(plan: &'a GetBackupPlanOutput, name: &str) -> Option<&'a BackupRule> {
    let rules = plan.backup_plan().expect("backup plan").rules();
    rules.iter().find(|r| r.rule_name() == name)
}

/// (schedule, retention days, target vault) of a rule.
fn shape(rule: &BackupRule) -> (Option<&str>, Option<i64>, &str) {
    (
        rule.schedule_expression(),
        rule.lifecycle().and_then(|l| l.delete_after_days()),
        rule.target_backup_vault_name(),
    )
}

/// The selection of `env`'s plan: its name, id, resources and role.
async fn selection_of(
    backup: &aws_sdk_backup::Client,
    plan: &str,
) -> (String, String, Vec<String>, String) {
    let listed = sent!(backup.list_backup_selections().backup_plan_id(plan));
    let [one] = listed.backup_selections_list() else {
        panic!("selections: {:?}", listed.backup_selections_list());
    };
    let id = one.selection_id().expect("selection id");
    let got = sent!(
        backup
            .get_backup_selection()
            .backup_plan_id(plan)
            .selection_id(id)
    );
    let selection = got.backup_selection().expect("selection");
    (
        selection.selection_name().to_owned(),
        id.to_owned(),
        selection.resources().to_vec(),
        selection.iam_role_arn().to_owned(),
    )
}

/// One on-demand backup of `env`'s database into its vault, as the daily rule makes at its
/// hour (the emulator does not run plans by the clock): the recovery point's ARN.
pub(crate) async fn back_up_now(t: &TestContext, env: &str) -> String {
    let backup = client(t).await;
    let db = sent!(
        t.rds
            .describe_db_instances()
            .db_instance_identifier(format!("medtech-rds-{env}"))
    );
    let db = db.db_instances().first().expect("the RDS instance");
    let role = role(t, &format!("medtech-backup-{env}")).await;
    let job = sent!(
        backup
            .start_backup_job()
            .backup_vault_name(format!("medtech-{env}"))
            .resource_arn(db.db_instance_arn().expect("instance ARN"))
            .iam_role_arn(role.arn())
    );
    job.recovery_point_arn().expect("recovery point").to_owned()
}

/// The ARNs of the resources AWS Backup lists as protected.
async fn protected(backup: &aws_sdk_backup::Client) -> Vec<(String, Option<String>)> {
    let out = sent!(backup.list_protected_resources());
    out.results()
        .iter()
        .map(|r| {
            (
                r.resource_arn().unwrap_or_default().to_owned(),
                r.last_backup_vault_arn().map(str::to_owned),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_vault_plan_and_selection_are_as_configured() {
    let t = TestContext::new("bkp").await;
    write_user_config(
        &t,
        "[backup]\ndaily_retention_days = 40\nmonthly_retention_days = 365\nschedule_hour_utc = 6\n",
    );
    t.run_ok(&["up"]);
    let env = t.env.clone();
    let backup = client(&t).await;
    let key = stack_key(&t, &env).await;

    // The vault: the stack's key, the standard tags.
    let vault = sent!(
        backup
            .describe_backup_vault()
            .backup_vault_name(format!("medtech-{env}"))
    );
    assert_eq!(vault.encryption_key_arn(), key.arn(), "vault key");
    assert_eq!(vault.locked(), Some(false), "no lock unless configured");
    let vault_arn = vault.backup_vault_arn().expect("vault ARN").to_owned();
    assert_tagged(
        &t,
        TagSource::Backup(vault_arn.clone()),
        &env,
        &format!("medtech-{env}"),
    )
    .await;

    // The plan: a daily and a monthly rule at 06:00 UTC, kept as configured, into the vault;
    // their recovery points tagged as the PHI they copy.
    let plan = plan_of(&backup, &env).await;
    let vault_name = format!("medtech-{env}");
    let daily = rule(&plan, "daily").expect("daily rule");
    assert_eq!(
        shape(daily),
        (Some("cron(0 6 ? * * *)"), Some(40), vault_name.as_str())
    );
    let monthly = rule(&plan, "monthly").expect("monthly rule");
    assert_eq!(
        shape(monthly),
        (Some("cron(0 6 1 * ? *)"), Some(365), vault_name.as_str())
    );
    for r in [daily, monthly] {
        assert_eq!(r.schedule_expression_timezone(), Some("Etc/UTC"));
        assert_eq!(r.start_window_minutes(), Some(60));
        assert_eq!(
            r.lifecycle()
                .and_then(|l| l.move_to_cold_storage_after_days()),
            None
        );
        let tags = r.recovery_point_tags().expect("recovery point tags");
        assert_eq!(
            tags.get("DataClassification").map(String::as_str),
            Some("PHI")
        );
        assert_eq!(tags.get("Environment"), Some(&env));
    }
    let plan_arn = plan.backup_plan_arn().expect("plan ARN").to_owned();
    assert_tagged(
        &t,
        TagSource::Backup(plan_arn),
        &env,
        &format!("medtech-{env}"),
    )
    .await;

    // The selection: the RDS instance, through the backup role, which AWS Backup may assume
    // and which carries AWS's policies for backups and restores.
    let plan_id = plan.backup_plan_id().expect("plan id");
    let (name, _, resources, role_arn) = selection_of(&backup, plan_id).await;
    let db = t.outputs()["rds_instance_identifier"]
        .as_str()
        .unwrap()
        .to_owned();
    let db_arn = format!("arn:aws:rds:{REGION}:{}:db:{db}", t.account_id().await);
    assert_eq!(
        (name.as_str(), resources),
        (db.as_str(), vec![db_arn.clone()])
    );
    let backup_role = role(&t, &format!("medtech-backup-{env}")).await;
    assert_eq!(role_arn, backup_role.arn());
    let trust = policy_json(backup_role.assume_role_policy_document().unwrap());
    let services: Vec<String> = as_list(trust.get("Statement"))
        .iter()
        .flat_map(|s| as_strings(s.get("Principal").and_then(|p| p.get("Service"))))
        .collect();
    assert_eq!(services, ["backup.amazonaws.com"]);
    let attached = sent!(
        t.iam
            .list_attached_role_policies()
            .role_name(backup_role.role_name())
    );
    let mut attached: Vec<&str> = attached
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn())
        .collect();
    attached.sort_unstable();
    assert_eq!(
        attached,
        [
            "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
            "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
        ]
    );

    // Protected once a backup has run, into this vault.
    assert!(
        !protected(&backup)
            .await
            .iter()
            .any(|(arn, _)| *arn == db_arn)
    );
    back_up_now(&t, &env).await;
    assert!(
        protected(&backup)
            .await
            .contains(&(db_arn, Some(vault_arn))),
        "{:?}",
        protected(&backup).await
    );
    assert_verify_passes(&t, &env);
    assert_no_changes(&t, &env);
}

#[tokio::test]
async fn drift_in_the_plan_and_the_selection_is_named_planned_and_repaired() {
    let t = TestContext::new("bkpdrift").await;
    t.run_ok(&["up"]);
    let env = t.env.clone();
    let backup = client(&t).await;
    let before = plan_of(&backup, &env).await;
    let plan_id = before.backup_plan_id().unwrap().to_owned();
    let (_, selection, ..) = selection_of(&backup, &plan_id).await;

    // Daily recovery points kept a week instead of 35 days, and the selection removed.
    let mut shortened = aws_sdk_backup::types::BackupPlanInput::builder()
        .backup_plan_name(format!("medtech-{env}"));
    for r in before.backup_plan().unwrap().rules() {
        shortened = shortened.rules(
            aws_sdk_backup::types::BackupRuleInput::builder()
                .rule_name(r.rule_name())
                .target_backup_vault_name(r.target_backup_vault_name())
                .set_schedule_expression(r.schedule_expression().map(str::to_owned))
                .lifecycle(
                    aws_sdk_backup::types::Lifecycle::builder()
                        .delete_after_days(7)
                        .build(),
                )
                .build()
                .unwrap(),
        );
    }
    sent!(
        backup
            .update_backup_plan()
            .backup_plan_id(&plan_id)
            .backup_plan(shortened.build().unwrap())
    );
    sent!(
        backup
            .delete_backup_selection()
            .backup_plan_id(&plan_id)
            .selection_id(&selection)
    );

    // A tag taken off the vault and the plan: their tags come from the environment's tag
    // list in a no-op run, and must show the drift all the same.
    let vault_arn = sent!(
        backup
            .describe_backup_vault()
            .backup_vault_name(format!("medtech-{env}"))
    )
    .backup_vault_arn()
    .expect("vault ARN")
    .to_owned();
    let plan_arn = before.backup_plan_arn().expect("plan ARN").to_owned();
    for arn in [&vault_arn, &plan_arn] {
        sent!(
            backup
                .untag_resource()
                .resource_arn(arn)
                .tag_key_list("Compliance")
        );
    }

    let drifted = [
        "backup-plan.daily_rule",
        "backup-plan.tags",
        "backup-selection.exists",
        "backup-vault.tags",
    ];
    assert_eq!(failed_checks(&t, 1), drifted.map(str::to_owned).into());
    assert_eq!(planned_changes(&t), drifted.map(str::to_owned).into());
    t.run_ok(&["up"]);

    // The same plan, at a new version, keeps 35 days again; a new selection of the instance.
    let after = plan_of(&backup, &env).await;
    assert_eq!(after.backup_plan_id(), Some(plan_id.as_str()));
    assert_ne!(after.version_id(), before.version_id());
    let daily = rule(&after, "daily").expect("daily rule");
    assert_eq!(
        daily.lifecycle().and_then(|l| l.delete_after_days()),
        Some(35)
    );
    for arn in [&vault_arn, &plan_arn] {
        let tags = sent!(backup.list_tags().resource_arn(arn));
        assert_eq!(
            tags.tags()
                .and_then(|t| t.get("Compliance"))
                .map(String::as_str),
            Some("HIPAA"),
            "{arn}"
        );
    }
    let (_, again, resources, _) = selection_of(&backup, &plan_id).await;
    assert_ne!(again, selection);
    assert_eq!(resources.len(), 1);
    assert_verify_passes(&t, &env);
    assert_no_changes(&t, &env);
}

#[tokio::test]
async fn a_configured_vault_lock_is_put_and_repaired() {
    let t = TestContext::new("bkplock").await;
    std::fs::write(
        t.path("medtech.toml"),
        "[backup.vault_lock]\nmin_retention_days = 7\nmax_retention_days = 400\n",
    )
    .unwrap();
    t.run_ok(&["up"]);
    let env = t.env.clone();
    let backup = client(&t).await;
    let vault = format!("medtech-{env}");
    let lock = |v: &aws_sdk_backup::operation::describe_backup_vault::DescribeBackupVaultOutput| {
        (
            v.locked(),
            v.min_retention_days(),
            v.max_retention_days(),
            v.lock_date().is_some(),
        )
    };
    let described = sent!(backup.describe_backup_vault().backup_vault_name(&vault));
    // Governance mode: no lock date, since no changeable_for_days was configured.
    assert_eq!(lock(&described), (Some(true), Some(7), Some(400), false));

    sent!(
        backup
            .delete_backup_vault_lock_configuration()
            .backup_vault_name(&vault)
    );
    assert_eq!(
        failed_checks(&t, 1),
        ["backup-vault.vault_lock".to_owned()].into()
    );
    t.run_ok(&["up"]);
    let described = sent!(backup.describe_backup_vault().backup_vault_name(&vault));
    assert_eq!(lock(&described), (Some(true), Some(7), Some(400), false));
}

#[tokio::test]
async fn destroy_keeps_the_vault_with_its_recovery_points_until_told_otherwise() {
    let t = TestContext::new("bkpkeep").await;
    t.run_ok(&["up"]);
    let env = t.env.clone();
    let backup = client(&t).await;
    let point = back_up_now(&t, &env).await;
    let vault = format!("medtech-{env}");
    let vault_arn = sent!(backup.describe_backup_vault().backup_vault_name(&vault))
        .backup_vault_arn()
        .unwrap()
        .to_owned();

    // Without the flag: everything else goes; the vault stays, and destroy says so.
    let out = t.run_ok(&DESTROY_NOW);
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "kept: backup vault {vault} with its 1 recovery points"
        )),
        "{err}"
    );
    assert!(
        err.lines().any(
            |l| l.starts_with("warning: the recovery points of backup vault")
                && l.contains("encrypted with KMS key")
        ),
        "{err}"
    );
    t.assert_only_the_vault_left(&env).await;
    // State records what remains, so the next `up` and `destroy` start from it.
    let resources: Vec<String> = t.state()["resources"]
        .as_object()
        .expect("resources")
        .keys()
        .cloned()
        .collect();
    assert_eq!(resources, ["backup-vault"]);

    // The next `up` takes the vault back, recovery point and all.
    t.run_ok(&["up"]);
    let again = sent!(backup.describe_backup_vault().backup_vault_name(&vault));
    assert_eq!(again.backup_vault_arn(), Some(vault_arn.as_str()));
    assert_eq!(again.number_of_recovery_points(), 1);
    let key = stack_key(&t, &env).await;
    assert_eq!(
        again.encryption_key_arn(),
        key.arn(),
        "the key taken back too"
    );
    sent!(
        backup
            .describe_recovery_point()
            .backup_vault_name(&vault)
            .recovery_point_arn(&point)
    );
    let (_, report) = verify_report(&t, &env);
    let failed: Vec<&Value> = failed(&report)
        .filter(|c| {
            c["resource"]
                .as_str()
                .is_some_and(|r| r.starts_with("backup-"))
        })
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");

    // With the flag: the recovery points, then the vault, and nothing is left.
    let mut args = DESTROY_NOW.to_vec();
    args.push("--delete-recovery-points");
    let out = t.run_ok(&args);
    assert!(!stderr(&out).contains("kept:"), "{}", stderr(&out));
    t.assert_nothing_left(&env).await;
    assert!(!t.state_file().exists(), "state file still there");
    let described = backup
        .describe_backup_vault()
        .backup_vault_name(&vault)
        .send()
        .await;
    assert!(described.is_err(), "{described:?}");
}

/// IAM is eventually consistent: AWS Backup refuses a role made seconds ago ("cannot be
/// assumed by AWS Backup"). A backup role made again meets that with the latency model on;
/// `up` waits for it (bounded) instead of failing, and the selection is made.
#[tokio::test]
async fn up_waits_for_a_new_backup_role_to_propagate() {
    // The other waits short, so the run is about the role.
    let mut durations: serde_json::Map<String, Value> = [
        "rds_create",
        "redis_create",
        "nat_create",
        "kinesis_create",
        "vpce_create",
    ]
    .iter()
    .map(|d| ((*d).to_owned(), Value::from(100)))
    .collect();
    // Refused for a minute: well inside the two minutes medtech waits.
    durations.insert("iam_propagation".into(), Value::from(60));
    let t = TestContext::with_behaviour(
        "bkprole",
        serde_json::json!({"time_scale": 0.01, "durations": durations}),
    )
    .await;
    let up = || {
        let out = t.medtech_with(
            &["up", "--env", "bkprole"],
            &[("MEDTECH_TIME_SCALE", "0.01")],
        );
        assert!(out.status.success(), "up: {}", tail(&stderr(&out), 40));
        stderr(&out)
    };
    up();
    // The selection and its role gone: the next `up` makes the role, then at once the
    // selection, which AWS Backup refuses while the role is new.
    let backup = client(&t).await;
    let plan = plan_of(&backup, &t.env).await;
    let plan_id = plan.backup_plan_id().unwrap();
    let (_, selection, ..) = selection_of(&backup, plan_id).await;
    sent!(
        backup
            .delete_backup_selection()
            .backup_plan_id(plan_id)
            .selection_id(&selection)
    );
    let role = format!("medtech-backup-{}", t.env);
    let attached = sent!(t.iam.list_attached_role_policies().role_name(&role));
    for policy in attached.attached_policies() {
        sent!(
            t.iam
                .detach_role_policy()
                .role_name(&role)
                .policy_arn(policy.policy_arn().unwrap())
        );
    }
    sent!(t.iam.delete_role().role_name(&role));

    let err = up();
    assert!(
        err.contains("waiting for the new backup role to propagate"),
        "the run met no propagation delay:\n{}",
        tail(&err, 40)
    );
    let (_, _, resources, role_arn) = selection_of(&backup, plan_id).await;
    assert_eq!(resources.len(), 1);
    assert!(role_arn.ends_with(&format!(":role/{role}")), "{role_arn}");
}
