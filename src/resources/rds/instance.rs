//! The RDS PostgreSQL instance: Multi-AZ, encrypted with the stack's key, gp3, 30-day
//! backups, TLS forced through its parameter group with a server certificate from a pinned,
//! current CA, logs exported, private, on the configured port, deletion protected, IAM
//! authentication, enhanced monitoring and Performance Insights (encrypted). Creation takes
//! 15–25 minutes on real AWS; deletion protection is lifted only by `destroy`.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_rds::operation::describe_db_instances::DescribeDbInstancesOutput;
use aws_sdk_rds::operation::modify_db_instance::builders::ModifyDBInstanceFluentBuilder;
use aws_sdk_rds::types::{Certificate, DbInstance, PendingModifiedValues};
use serde_json::{Value, json};

use super::engine;
use super::tags::RdsTags;
use crate::aws::{AwsError, AwsResultExt, ErrorKind, Required};
use crate::context::{Ctx, ListKey};
use crate::control::{
    ACCESS, ACTIVITY, AUDIT, AUTHN, BACKUP, CONTINGENCY, Control, ENCRYPTION, INTEGRITY, Severity,
    TRANSMISSION, control,
};
use crate::error::Error;
use crate::logical::{Guards, Holds, Logical, Purpose, RoleFor};
use crate::property::{Floor, Prop, Property, TAGS};
use crate::resource::{Change, Observed, Properties, Resource, Transition, diff, unchangeable};
use crate::resources::common::settling::{Settling, first_found};
use crate::resources::common::tags_by_arn::TagsByArn;
use crate::resources::common::{desired_tags, strings};
use crate::resources::secretsmanager::credential;
use crate::resources::wait::Pace;
use crate::state::Record;

const LOG_EXPORTS: [&str; 2] = ["postgresql", "upgrade"];

/// Statuses from which an instance becomes available without help.
const SETTLING: [&str; 13] = [
    NO_ENDPOINT_YET,
    "creating",
    "backing-up",
    "modifying",
    "configuring-enhanced-monitoring",
    "configuring-log-exports",
    "configuring-iam-database-auth",
    "upgrading",
    "rebooting",
    "renaming",
    "resetting-master-credentials",
    "maintenance",
    "starting",
];

/// `available`, but not usable yet: RDS describes the endpoint a moment later.
const NO_ENDPOINT_YET: &str = "available, no endpoint yet";

/// After any storage change RDS reports `storage-optimization` for hours; the instance is
/// fully usable and accepts changes meanwhile, so it counts as `available`: neither a
/// failure, nor a wait, nor drift.
const OPTIMIZING_STORAGE: &str = "storage-optimization";

/// The status as medtech compares it: `available` for an instance that is at rest.
fn usable_status(status: Option<&str>) -> Option<&str> {
    match status {
        Some(OPTIMIZING_STORAGE) => Some("available"),
        other => other,
    }
}

pub(crate) struct RdsInstance;

const SHAPE: Control = control(
    "Instance shape and state as configured",
    Severity::Low,
    CONTINGENCY,
    "run `medtech up`",
    None,
    None,
);
static ENGINE: Property = Property::fixed("engine", SHAPE);
/// A major version cannot change in place, yet it is declared in place: `update` refuses a
/// new one itself, to say whether it is an upgrade or a downgrade and how to go back.
static ENGINE_MAJOR: Property = Property::in_place("engine_major_version", SHAPE);
static INSTANCE_CLASS: Property = Property::in_place("instance_class", SHAPE);
/// Grows in place; `update` refuses to shrink it.
static ALLOCATED_STORAGE: Property = Property::in_place("allocated_storage", SHAPE);
static STORAGE_TYPE: Property = Property::in_place("storage_type", SHAPE);
static MAINTENANCE_WINDOW: Property = Property::in_place("preferred_maintenance_window", SHAPE);
/// Changed in place (DBPortNumber), which RDS applies at once with a reboot whatever
/// ApplyImmediately says: a brief outage, shown by `plan` first, rather than a new instance;
/// the security group, the secret and the outputs follow in the same run.
static PORT: Property = Property::in_place("port", SHAPE);
static STATUS: Property = Property::in_place("status", SHAPE);
static MASTER_USERNAME: Property = Property::fixed(
    "master_username",
    control(
        "Master user is not a default name",
        Severity::Medium,
        AUTHN,
        "cannot change in place",
        Some("rds_instance_default_admin"),
        None,
    ),
);
const ENCRYPTED_STORAGE: Control = control(
    "Storage encrypted with the stack's key",
    Severity::Critical,
    ENCRYPTION,
    "cannot change in place: restore a snapshot into an encrypted instance",
    Some("rds_instance_storage_encrypted"),
    Some("RDS_STORAGE_ENCRYPTED"),
);
static STORAGE_ENCRYPTED: Property = Property::fixed("storage_encrypted", ENCRYPTED_STORAGE);
static KMS_KEY: Property = Property::fixed("kms_key_id", ENCRYPTED_STORAGE);
const AUTOMATED_BACKUPS: Control = control(
    "Automated backups kept 30 days",
    Severity::High,
    BACKUP,
    "run `medtech up`",
    Some("rds_instance_backup_enabled"),
    Some("DB_INSTANCE_BACKUP_ENABLED"),
);
static BACKUP_RETENTION: Property =
    Property::in_place("backup_retention_period", AUTOMATED_BACKUPS);
static BACKUP_WINDOW: Property = Property::in_place("preferred_backup_window", AUTOMATED_BACKUPS);
static MULTI_AZ: Property = Property::in_place(
    "multi_az",
    control(
        "Multi-AZ standby",
        Severity::High,
        CONTINGENCY,
        "run `medtech up`",
        Some("rds_instance_multi_az"),
        Some("RDS_MULTI_AZ_SUPPORT"),
    ),
);
static PUBLICLY_ACCESSIBLE: Property = Property::in_place(
    "publicly_accessible",
    control(
        "Not publicly accessible",
        Severity::Critical,
        ACCESS,
        "run `medtech up`",
        Some("rds_instance_no_public_access"),
        Some("RDS_INSTANCE_PUBLIC_ACCESS_CHECK"),
    ),
);
static DELETION_PROTECTION: Property = Property::in_place(
    "deletion_protection",
    control(
        "Deletion protection on",
        Severity::High,
        CONTINGENCY,
        "run `medtech up`",
        Some("rds_instance_deletion_protection"),
        Some("RDS_INSTANCE_DELETION_PROTECTION_ENABLED"),
    ),
);
static EXPORTED_LOGS: Property = Property::in_place(
    "enabled_cloudwatch_logs_exports",
    control(
        "PostgreSQL and upgrade logs exported to CloudWatch",
        Severity::High,
        AUDIT,
        "run `medtech up`",
        Some("rds_instance_integration_cloudwatch_logs"),
        Some("RDS_LOGGING_ENABLED"),
    ),
);
const ENHANCED_MONITORING: Control = control(
    "Enhanced monitoring through its role",
    Severity::Medium,
    ACTIVITY,
    "run `medtech up`",
    Some("rds_instance_enhanced_monitoring_enabled"),
    Some("RDS_ENHANCED_MONITORING_ENABLED"),
);
static MONITORING_INTERVAL: Property =
    Property::in_place("monitoring_interval", ENHANCED_MONITORING);
static MONITORING_ROLE: Property = Property::in_place("monitoring_role_arn", ENHANCED_MONITORING);
/// Where RDS delivers the OS metrics, which is what scanners read to call monitoring on: the
/// instance's own stream of the `RDSOSMetrics` log group.
static MONITORING_STREAM: Property =
    Property::in_place("enhanced_monitoring_resource_arn", ENHANCED_MONITORING);
/// The log group RDS delivers every instance's OS metrics to.
const OS_METRICS_GROUP: &str = "RDSOSMetrics";
static IAM_AUTHENTICATION: Property = Property::in_place(
    "iam_database_authentication_enabled",
    control(
        "IAM database authentication on",
        Severity::Medium,
        AUTHN,
        "run `medtech up`",
        Some("rds_instance_iam_authentication_enabled"),
        Some("RDS_INSTANCE_IAM_AUTHENTICATION_ENABLED"),
    ),
);
static AUTO_MINOR_UPGRADE: Property = Property::in_place(
    "auto_minor_version_upgrade",
    control(
        "Automatic minor version upgrades (security patches)",
        Severity::Medium,
        INTEGRITY,
        "run `medtech up`",
        Some("rds_instance_minor_version_upgrade_enabled"),
        Some("RDS_AUTOMATIC_MINOR_VERSION_UPGRADE_ENABLED"),
    ),
);
static COPY_TAGS_TO_SNAPSHOT: Property = Property::in_place(
    "copy_tags_to_snapshot",
    control(
        "Snapshots carry the PHI tags",
        Severity::Low,
        BACKUP,
        "run `medtech up`",
        Some("rds_instance_copy_tags_to_snapshots"),
        None,
    ),
);
const INSIGHTS: Control = control(
    "Performance Insights on, encrypted with the stack's key",
    Severity::Medium,
    ENCRYPTION,
    "run `medtech up`",
    None,
    None,
);
static INSIGHTS_ENABLED: Property = Property::in_place("performance_insights_enabled", INSIGHTS);
static INSIGHTS_KEY: Property = Property::fixed("performance_insights_kms_key_id", INSIGHTS);
static PARAMETER_GROUP: Property = Property::in_place(
    "db_parameter_group",
    control(
        "Instance uses the TLS-forcing parameter group",
        Severity::Critical,
        TRANSMISSION,
        "run `medtech up`",
        Some("rds_instance_transport_encrypted"),
        None,
    ),
);
const PLACEMENT: Control = control(
    "Instance only in the private subnets, behind its security group",
    Severity::High,
    ACCESS,
    "run `medtech up`",
    Some("rds_instance_inside_vpc"),
    None,
);
static SUBNET_GROUP: Property = Property::fixed("db_subnet_group", PLACEMENT);
static SECURITY_GROUPS: Property = Property::in_place("vpc_security_group_ids", PLACEMENT);
/// Changed in place with ApplyImmediately: the PostgreSQL versions RDS offers rotate the
/// certificate without a restart (SupportsCertificateRotationWithoutRestart), others reboot;
/// RDS reports `modifying` and the CA in PendingModifiedValues until it is done.
static CA_CERTIFICATE: Property = Property::in_place(
    "ca_certificate_identifier",
    control(
        "Server certificate signed by the configured current RDS CA",
        Severity::High,
        TRANSMISSION,
        "run `medtech up` (ModifyDBInstance CACertificateIdentifier)",
        None,
        None,
    ),
);
/// Three months, Prowler's line between pass and fail: time to roll a new CA bundle out to
/// every client, test it and switch the instance in a maintenance window, before clients that
/// verify the server (verify-full) stop connecting.
static CA_VALIDITY: Floor = Floor {
    property: Property::in_place(
        "ca_certificate_valid_days",
        control(
            "The instance's CA stays valid at least 90 more days (DescribeCertificates)",
            Severity::High,
            TRANSMISSION,
            "set rds.ca_certificate to a CA valid longer, then run `medtech up`",
            Some("rds_instance_certificate_expiration"),
            None,
        ),
    ),
    at_least: 90,
    unit: "days",
};
/// Not 90 days: RDS rotates the server certificate itself before it expires (under every CA
/// medtech allows), so a near date is normal; an expired one is not.
static SERVER_CERTIFICATE_VALIDITY: Floor = Floor {
    property: Property::in_place(
        "server_certificate_valid_days",
        control(
            "The instance's server certificate has not expired (CertificateDetails)",
            Severity::High,
            TRANSMISSION,
            "ask AWS Support: RDS rotates the server certificate itself",
            None,
            None,
        ),
    ),
    at_least: 0,
    unit: "days",
};

/// The CAs the region offers: one page, as RDS has a handful.
const CERTIFICATES: ListKey<Vec<Certificate>> = ListKey::new("rds:DescribeCertificates");

impl RdsInstance {
    /// What `read` reports of one description; `certificates` are the region's CAs, which
    /// give the instance's CA its expiry (`None` in a wait, which does not look at it).
    fn observed(
        db: &DbInstance,
        certificates: Option<&[Certificate]>,
    ) -> Result<Observed, AwsError> {
        let mut exports: Vec<&str> = db
            .enabled_cloudwatch_logs_exports()
            .iter()
            .map(String::as_str)
            .collect();
        exports.sort();
        let mut groups: Vec<&str> = db
            .vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id())
            .collect();
        groups.sort();
        // DescribeDBInstances carries the tags: no ListTagsForResource call.
        let tags = RdsTags::value(db.tag_list());
        let mut observed = Observed {
            record: Self::record(db, Self::DESCRIBE)?,
            properties: Properties::from([
                (&ENGINE, json!(db.engine())),
                (&MASTER_USERNAME, json!(db.master_username())),
                (
                    &ENGINE_MAJOR,
                    json!(db.engine_version().and_then(|v| v.split('.').next())),
                ),
                (&INSTANCE_CLASS, json!(db.db_instance_class())),
                (&ALLOCATED_STORAGE, json!(db.allocated_storage())),
                (&STORAGE_TYPE, json!(db.storage_type())),
                (&MULTI_AZ, json!(db.multi_az())),
                (&STORAGE_ENCRYPTED, json!(db.storage_encrypted())),
                (&KMS_KEY, json!(db.kms_key_id())),
                (&BACKUP_RETENTION, json!(db.backup_retention_period())),
                (&BACKUP_WINDOW, json!(db.preferred_backup_window())),
                (
                    &MAINTENANCE_WINDOW,
                    json!(db.preferred_maintenance_window()),
                ),
                (&EXPORTED_LOGS, json!(exports)),
                (&PUBLICLY_ACCESSIBLE, json!(db.publicly_accessible())),
                (&DELETION_PROTECTION, json!(db.deletion_protection())),
                (&COPY_TAGS_TO_SNAPSHOT, json!(db.copy_tags_to_snapshot())),
                (&AUTO_MINOR_UPGRADE, json!(db.auto_minor_version_upgrade())),
                (
                    &IAM_AUTHENTICATION,
                    json!(db.iam_database_authentication_enabled()),
                ),
                (&MONITORING_INTERVAL, json!(db.monitoring_interval())),
                (&MONITORING_ROLE, json!(db.monitoring_role_arn())),
                (&MONITORING_STREAM, monitoring_stream(db)),
                (&CA_CERTIFICATE, json!(db.ca_certificate_identifier())),
                (&INSIGHTS_ENABLED, json!(db.performance_insights_enabled())),
                (&INSIGHTS_KEY, json!(db.performance_insights_kms_key_id())),
                (
                    &PARAMETER_GROUP,
                    json!(
                        db.db_parameter_groups()
                            .first()
                            .and_then(|g| g.db_parameter_group_name())
                    ),
                ),
                (
                    &SUBNET_GROUP,
                    json!(db.db_subnet_group().and_then(|g| g.db_subnet_group_name())),
                ),
                (&SECURITY_GROUPS, json!(groups)),
                (
                    &PORT,
                    json!(
                        db.endpoint()
                            .and_then(|e| e.port())
                            .or(db.db_instance_port())
                    ),
                ),
                (&STATUS, json!(usable_status(db.db_instance_status()))),
                (&TAGS, tags),
            ]),
        };
        let now = chrono::Utc::now().timestamp();
        if let Some(certificates) = certificates {
            let days = ca_days_left(db, certificates, now);
            observed
                .properties
                .insert(&CA_VALIDITY.property, json!(days));
        }
        // Only when AWS reports the server certificate: it is not always described.
        if let Some(till) = db.certificate_details().and_then(|c| c.valid_till()) {
            let days = days_until(till.secs(), now);
            observed
                .properties
                .insert(&SERVER_CERTIFICATE_VALIDITY.property, json!(days));
        }
        Ok(observed)
    }

    /// The CAs RDS offers in the region, from the run's batched list while it is current.
    async fn certificates(ctx: &Ctx) -> Result<Vec<Certificate>, Error> {
        let fetch = || Self::describe_certificates(ctx);
        match ctx.listed(&CERTIFICATES, fetch).await? {
            Some(listed) => Ok(listed.as_ref().clone()),
            None => Self::describe_certificates(ctx).await,
        }
    }

    async fn describe_certificates(ctx: &Ctx) -> Result<Vec<Certificate>, Error> {
        let out = ctx
            .clients
            .rds
            .describe_certificates()
            .max_records(100)
            .send()
            .await
            .op("rds:DescribeCertificates")?;
        Ok(out.certificates().to_vec())
    }

    /// A ModifyDBInstance of the instance, applied at once rather than in the maintenance
    /// window.
    pub(crate) fn modify(ctx: &Ctx) -> ModifyDBInstanceFluentBuilder {
        ctx.clients
            .rds
            .modify_db_instance()
            .db_instance_identifier(ctx.names().rds_instance())
            .apply_immediately(true)
    }
}

#[async_trait]
impl Settling for RdsInstance {
    type Item = DbInstance;
    const SETTLING: &'static [&'static str] = &SETTLING;
    /// Multi-AZ and encrypted: commonly 10-20 minutes to create, 5-10 to delete with its
    /// final snapshot (the sources are those of the emulator's modeled durations).
    const USUAL_CREATE: Duration = Duration::from_secs(15 * 60);
    const USUAL_DELETE: Duration = Duration::from_secs(7 * 60);
    const DESCRIBE: &'static str = "rds:DescribeDBInstances";

    /// What state keeps of `db`, as `operation` (a describe, or the create) reported it.
    fn record(db: &DbInstance, operation: &'static str) -> Result<Record, AwsError> {
        let endpoint = db.endpoint();
        let mut record = Record::new(
            db.db_instance_identifier()
                .required(operation, "DBInstanceIdentifier")?,
        )
        .with(
            "arn",
            db.db_instance_arn().required(operation, "DBInstanceArn")?,
        );
        // No endpoint while the instance is being created: recorded once AWS reports one.
        if let Some(address) = endpoint.and_then(|e| e.address()) {
            record = record.with("endpoint", address);
        }
        if let Some(port) = endpoint.and_then(|e| e.port()) {
            record = record.with("port", port.to_string());
        }
        // The version chosen at create, kept current across RDS's minor upgrades.
        if let Some(version) = db.engine_version() {
            record = record.with("engine_version", version);
        }
        Ok(record)
    }

    fn timeout_minutes(ctx: &Ctx) -> u64 {
        ctx.settings.services.timeouts.rds_minutes
    }

    async fn describe(&self, ctx: &Ctx) -> Result<Option<DbInstance>, Error> {
        first_found(
            ctx.clients
                .rds
                .describe_db_instances()
                .db_instance_identifier(ctx.names().rds_instance())
                .send()
                .await
                .op(Self::DESCRIBE),
            DescribeDbInstancesOutput::db_instances,
        )
    }

    fn status(db: &DbInstance) -> Option<&str> {
        usable_status(db.db_instance_status())
    }

    fn has_pending(db: &DbInstance) -> bool {
        db.pending_modified_values()
            .is_some_and(|p| *p != PendingModifiedValues::builder().build())
    }

    /// Usable once RDS describes its endpoint too.
    fn waiting_status(db: &DbInstance) -> &str {
        match Self::status(db) {
            Some("available") if db.endpoint().and_then(|e| e.address()).is_none() => {
                NO_ENDPOINT_YET
            }
            status => status.unwrap_or("missing"),
        }
    }

    async fn describes(
        &self,
        _ctx: &Ctx,
        db: &DbInstance,
        wanted: &Properties,
    ) -> Result<bool, Error> {
        Ok(diff(wanted, &Self::observed(db, None)?.properties).is_empty())
    }
}

/// Where the OS metrics go, as AWS reports it (`EnhancedMonitoringResourceArn`,
/// `arn:aws:logs:REGION:ACCOUNT:log-group:RDSOSMetrics:log-stream:<DbiResourceId>`): the log
/// group, which is what must hold, beside the ARN for the report; null while AWS reports none.
fn monitoring_stream(db: &DbInstance) -> Value {
    let Some(arn) = db.enhanced_monitoring_resource_arn() else {
        return Value::Null;
    };
    let group = arn.split(':').skip_while(|p| *p != "log-group").nth(1);
    json!({"log_group": group, "arn": arn})
}

/// Whole days from `now` to `till` (epoch seconds); negative once past.
fn days_until(till: i64, now: i64) -> i64 {
    (till - now).div_euclid(86_400)
}

/// Whole days until the instance's CA expires, as RDS lists the CA; `None` when RDS no longer
/// lists it (a retired CA).
fn ca_days_left(db: &DbInstance, certificates: &[Certificate], now: i64) -> Option<i64> {
    let ca = db.ca_certificate_identifier()?;
    let listed = certificates
        .iter()
        .find(|c| c.certificate_identifier() == Some(ca))?;
    Some(days_until(listed.valid_till()?.secs(), now))
}

/// A monitoring role made seconds ago is refused until IAM has propagated it; RDS says so
/// with a generic InvalidParameterValue, told apart only by its message.
fn role_not_ready(e: &AwsError) -> bool {
    e.code.as_deref() == Some("InvalidParameterValue")
        && e.detail.to_ascii_lowercase().contains("monitoring")
        && e.detail.to_ascii_lowercase().contains("role")
}

#[async_trait]
impl Resource for RdsInstance {
    fn name(&self) -> Logical {
        Logical::RdsInstance
    }

    fn depends_on(&self) -> Vec<Logical> {
        vec![
            Logical::KmsKey,
            Logical::Secret(Holds::RdsCredentials),
            Logical::DbParameterGroup,
            Logical::DbSubnetGroup,
            Logical::SecurityGroup(Guards::Postgres),
            Logical::Role(RoleFor::RdsMonitoring),
            // Made first, so that RDS exports into encrypted groups with a retention.
            Logical::LogGroup(Purpose::RdsPostgresql),
            Logical::LogGroup(Purpose::RdsUpgrade),
        ]
    }

    fn properties(&self) -> &'static [Prop] {
        const {
            &[
                &ENGINE,
                &ENGINE_MAJOR,
                &MASTER_USERNAME,
                &INSTANCE_CLASS,
                &ALLOCATED_STORAGE,
                &STORAGE_TYPE,
                &MULTI_AZ,
                &STORAGE_ENCRYPTED,
                &KMS_KEY,
                &BACKUP_RETENTION,
                &BACKUP_WINDOW,
                &MAINTENANCE_WINDOW,
                &EXPORTED_LOGS,
                &PUBLICLY_ACCESSIBLE,
                &DELETION_PROTECTION,
                &COPY_TAGS_TO_SNAPSHOT,
                &AUTO_MINOR_UPGRADE,
                &IAM_AUTHENTICATION,
                &MONITORING_INTERVAL,
                &MONITORING_ROLE,
                &MONITORING_STREAM,
                &INSIGHTS_ENABLED,
                &INSIGHTS_KEY,
                &PARAMETER_GROUP,
                &SUBNET_GROUP,
                &SECURITY_GROUPS,
                &PORT,
                &CA_CERTIFICATE,
                &STATUS,
                &TAGS,
            ]
        }
    }

    fn floors(&self) -> &'static [&'static Floor] {
        const { &[&CA_VALIDITY, &SERVER_CERTIFICATE_VALIDITY] }
    }

    fn typical_seconds(&self) -> u64 {
        Self::USUAL_CREATE.as_secs()
    }

    fn in_transition(&self, observed: &Observed) -> Option<Transition> {
        Transition::of(observed, &STATUS, &SETTLING)
    }

    async fn settle(&self, ctx: &Ctx, _observed: &Observed) -> Result<(), Error> {
        self.wait_available(ctx, Pace::Adaptive).await.map(drop)
    }

    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error> {
        let rds = &ctx.settings.services.rds;
        let key = ctx.arn_of(Logical::KmsKey)?;
        Ok(Properties::from([
            (&ENGINE, json!("postgres")),
            (&ENGINE_MAJOR, json!(rds.engine_version.split('.').next())),
            (&MASTER_USERNAME, json!(rds.master_username)),
            (&INSTANCE_CLASS, json!(rds.instance_class)),
            (&ALLOCATED_STORAGE, json!(rds.allocated_storage_gb)),
            (&STORAGE_TYPE, json!("gp3")),
            (&MULTI_AZ, json!(true)),
            (&STORAGE_ENCRYPTED, json!(true)),
            (&KMS_KEY, json!(key)),
            (&BACKUP_RETENTION, json!(rds.backup_retention_days)),
            (&BACKUP_WINDOW, json!(rds.backup_window)),
            (&MAINTENANCE_WINDOW, json!(rds.maintenance_window)),
            (&EXPORTED_LOGS, json!(LOG_EXPORTS)),
            (&PUBLICLY_ACCESSIBLE, json!(false)),
            (&DELETION_PROTECTION, json!(true)),
            (&COPY_TAGS_TO_SNAPSHOT, json!(true)),
            (&AUTO_MINOR_UPGRADE, json!(true)),
            (&IAM_AUTHENTICATION, json!(true)),
            (&MONITORING_INTERVAL, json!(rds.monitoring_interval_seconds)),
            (
                &MONITORING_ROLE,
                json!(ctx.arn_of(Logical::Role(RoleFor::RdsMonitoring))?),
            ),
            (&MONITORING_STREAM, json!({"log_group": OS_METRICS_GROUP})),
            (&INSIGHTS_ENABLED, json!(true)),
            (&INSIGHTS_KEY, json!(key)),
            (&PARAMETER_GROUP, json!(ctx.names().db_parameter_group())),
            (&SUBNET_GROUP, json!(ctx.names().db_subnet_group())),
            (
                &SECURITY_GROUPS,
                json!([ctx.id_of(Logical::SecurityGroup(Guards::Postgres))?]),
            ),
            (&PORT, json!(rds.port)),
            (&CA_CERTIFICATE, json!(rds.ca_certificate)),
            (&STATUS, json!("available")),
            (&TAGS, desired_tags(ctx, &ctx.names().rds_instance())),
        ]))
    }

    async fn read(&self, ctx: &Ctx, _recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        let (db, certificates) = tokio::try_join!(self.describe(ctx), Self::certificates(ctx))?;
        Ok(db
            .map(|db| Self::observed(&db, Some(&certificates)))
            .transpose()?)
    }

    async fn create(&self, ctx: &Ctx) -> Result<Observed, Error> {
        let rds = &ctx.settings.services.rds;
        let name = ctx.names().rds_instance();
        let key = ctx.arn_of(Logical::KmsKey)?;
        let engine = engine::for_create(ctx, self.name()).await?;
        let password = credential::current(ctx, Holds::RdsCredentials).await?;
        let started = Instant::now();
        loop {
            let result = ctx
                .clients
                .rds
                .create_db_instance()
                .db_instance_identifier(&name)
                .engine("postgres")
                .engine_version(&engine.version)
                .db_instance_class(&rds.instance_class)
                .allocated_storage(rds.allocated_storage_gb)
                .storage_type("gp3")
                .master_username(&rds.master_username)
                .master_user_password(password.expose())
                .db_name(&rds.database_name)
                .port(i32::from(rds.port))
                .ca_certificate_identifier(&rds.ca_certificate)
                .db_subnet_group_name(ctx.names().db_subnet_group())
                .vpc_security_group_ids(ctx.id_of(Logical::SecurityGroup(Guards::Postgres))?)
                .db_parameter_group_name(ctx.names().db_parameter_group())
                .multi_az(true)
                .storage_encrypted(true)
                .kms_key_id(&key)
                .backup_retention_period(rds.backup_retention_days)
                .preferred_backup_window(&rds.backup_window)
                .preferred_maintenance_window(&rds.maintenance_window)
                .set_enable_cloudwatch_logs_exports(Some(LOG_EXPORTS.map(str::to_owned).to_vec()))
                .publicly_accessible(false)
                .deletion_protection(true)
                .copy_tags_to_snapshot(true)
                .auto_minor_version_upgrade(true)
                .enable_iam_database_authentication(true)
                .monitoring_interval(rds.monitoring_interval_seconds)
                .monitoring_role_arn(ctx.arn_of(Logical::Role(RoleFor::RdsMonitoring))?)
                .enable_performance_insights(true)
                .performance_insights_kms_key_id(&key)
                .performance_insights_retention_period(rds.performance_insights_retention_days)
                .set_tags(Some(RdsTags::sdk(ctx, &name)))
                .send()
                .await
                .op("rds:CreateDBInstance");
            match result {
                Ok(out) => {
                    self.record_created(ctx, out.db_instance(), "rds:CreateDBInstance")?;
                    break;
                }
                Err(e)
                    if role_not_ready(&e)
                        && started.elapsed() < ctx.scaled(Duration::from_secs(120)) =>
                {
                    ctx.status(
                        self.name(),
                        "waiting for the new monitoring role to propagate",
                    );
                    ctx.pause(Duration::from_secs(5)).await?;
                }
                // Identifiers are unique: a create whose response was lost; the wait adopts it.
                Err(e) if e.is(ErrorKind::AlreadyExists) => break,
                Err(e) => return Err(e.into()),
            }
        }
        drop(password);
        self.wait_created(ctx).await
    }

    async fn update(&self, ctx: &Ctx, current: &Observed, changes: &[Change]) -> Result<(), Error> {
        if let Some(change) = changes.iter().find(|c| c.property == &ENGINE_MAJOR) {
            return Err(engine::refuse_major_change(self.name(), change));
        }
        let rds = &ctx.settings.services.rds;
        let changed = |p: Prop| changes.iter().any(|c| c.property == p);
        if changed(&ALLOCATED_STORAGE) {
            let now = current
                .properties
                .get(&ALLOCATED_STORAGE)
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if now > i64::from(rds.allocated_storage_gb) {
                return Err(Error::resource(
                    self.name(),
                    format!(
                        "storage is {now} GiB; RDS cannot shrink storage to {} GiB: raise the config to at least {now}",
                        rds.allocated_storage_gb
                    ),
                ));
            }
        }
        // A run stopped mid-wait, or AWS busy (backing-up, modifying): wait first.
        self.wait_available(ctx, Pace::Adaptive).await?;
        let settings: Vec<&Change> = changes
            .iter()
            .filter(|c| c.property != &STATUS && c.property != &TAGS)
            .collect();
        if !settings.is_empty() {
            let key = ctx.arn_of(Logical::KmsKey)?;
            let mut modify = Self::modify(ctx);
            for change in &settings {
                modify = match change.property {
                    p if p == &INSTANCE_CLASS => modify.db_instance_class(&rds.instance_class),
                    p if p == &ALLOCATED_STORAGE => {
                        modify.allocated_storage(rds.allocated_storage_gb)
                    }
                    p if p == &STORAGE_TYPE => modify.storage_type("gp3"),
                    p if p == &MULTI_AZ => modify.multi_az(true),
                    p if p == &BACKUP_RETENTION => {
                        modify.backup_retention_period(rds.backup_retention_days)
                    }
                    p if p == &BACKUP_WINDOW => modify.preferred_backup_window(&rds.backup_window),
                    p if p == &MAINTENANCE_WINDOW => {
                        modify.preferred_maintenance_window(&rds.maintenance_window)
                    }
                    p if p == &EXPORTED_LOGS => {
                        let have = strings(change.observed.as_ref());
                        let enable: Vec<String> = LOG_EXPORTS
                            .iter()
                            .filter(|l| !have.iter().any(|h| h == *l))
                            .map(|l| (*l).to_owned())
                            .collect();
                        let disable: Vec<String> = have
                            .into_iter()
                            .filter(|h| !LOG_EXPORTS.contains(&h.as_str()))
                            .collect();
                        modify.cloudwatch_logs_export_configuration(
                            aws_sdk_rds::types::CloudwatchLogsExportConfiguration::builder()
                                .set_enable_log_types(Some(enable))
                                .set_disable_log_types(Some(disable))
                                .build(),
                        )
                    }
                    p if p == &PUBLICLY_ACCESSIBLE => modify.publicly_accessible(false),
                    p if p == &DELETION_PROTECTION => modify.deletion_protection(true),
                    p if p == &COPY_TAGS_TO_SNAPSHOT => modify.copy_tags_to_snapshot(true),
                    p if p == &AUTO_MINOR_UPGRADE => modify.auto_minor_version_upgrade(true),
                    p if p == &IAM_AUTHENTICATION => {
                        modify.enable_iam_database_authentication(true)
                    }
                    p if p == &MONITORING_INTERVAL
                        || p == &MONITORING_ROLE
                        || p == &MONITORING_STREAM =>
                    {
                        modify
                            .monitoring_interval(rds.monitoring_interval_seconds)
                            .monitoring_role_arn(ctx.arn_of(Logical::Role(RoleFor::RdsMonitoring))?)
                    }
                    p if p == &INSIGHTS_ENABLED => modify
                        .enable_performance_insights(true)
                        .performance_insights_kms_key_id(&key)
                        .performance_insights_retention_period(
                            rds.performance_insights_retention_days,
                        ),
                    p if p == &PARAMETER_GROUP => {
                        modify.db_parameter_group_name(ctx.names().db_parameter_group())
                    }
                    p if p == &SECURITY_GROUPS => modify.vpc_security_group_ids(
                        ctx.id_of(Logical::SecurityGroup(Guards::Postgres))?,
                    ),
                    p if p == &PORT => modify.db_port_number(i32::from(rds.port)),
                    p if p == &CA_CERTIFICATE => {
                        modify.ca_certificate_identifier(&rds.ca_certificate)
                    }
                    _ => return Err(unchangeable(self.name(), change)),
                };
            }
            let accepted = modify.send().await.op("rds:ModifyDBInstance")?;
            self.wait_modified(ctx, accepted.db_instance(), &settings)
                .await?;
        }
        if changed(&TAGS) {
            let name = ctx.names().rds_instance();
            RdsTags::rewrite(ctx, self.name(), &current.record, &name).await?;
        }
        Ok(())
    }

    async fn destroy(&self, ctx: &Ctx, _current: &Observed) -> Result<(), Error> {
        let Some(db) = self.describe(ctx).await? else {
            return Ok(());
        };
        if db.db_instance_status() == Some("deleting") {
            return self.wait_gone(ctx).await;
        }
        self.wait_unless_at_rest(ctx, &db).await?;
        if db.deletion_protection() == Some(true) {
            // Lifted only here, after the user confirmed the destroy.
            let modified = Self::modify(ctx)
                .deletion_protection(false)
                .send()
                .await
                .op("rds:ModifyDBInstance")?;
            // The flag alone usually applies at once; wait only if RDS says otherwise.
            let status = modified
                .db_instance()
                .and_then(DbInstance::db_instance_status);
            if status != Some("available") {
                self.wait_available(ctx, Pace::Adaptive).await?;
            }
        }
        let retirement = &ctx.settings.services.destroy;
        let delete = ctx
            .clients
            .rds
            .delete_db_instance()
            .db_instance_identifier(ctx.names().rds_instance())
            .delete_automated_backups(false);
        let delete = if retirement.skip_final_snapshot {
            delete.skip_final_snapshot(true)
        } else {
            let snapshot = ctx.names().rds_final_snapshot(chrono::Utc::now());
            ctx.status(self.name(), &format!("final snapshot {snapshot}"));
            delete
                .skip_final_snapshot(false)
                .final_db_snapshot_identifier(snapshot)
        };
        self.wait_deleted(ctx, delete.send().await.op("rds:DeleteDBInstance"))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn described(status: &str) -> Observed {
        let db = DbInstance::builder()
            .db_instance_identifier("medtech-dev-db")
            .db_instance_arn("arn:aws:rds:us-east-1:000000000000:db:medtech-dev-db")
            .db_instance_status(status)
            .build();
        RdsInstance::observed(&db, None).unwrap()
    }

    #[test]
    fn the_ca_expires_when_rds_lists_it_and_a_retired_one_is_unknown() {
        use aws_sdk_rds::primitives::DateTime;
        let now = 1_700_000_000;
        let listed = |ca: &str, days: i64| {
            Certificate::builder()
                .certificate_identifier(ca)
                .valid_till(DateTime::from_secs(now + days * 86_400 + 60))
                .build()
        };
        let certificates = [
            listed("rds-ca-rsa2048-g1", 89),
            listed("rds-ca-rsa4096-g1", 36_500),
        ];
        let on = |ca: &str| DbInstance::builder().ca_certificate_identifier(ca).build();
        let days = |ca: &str| ca_days_left(&on(ca), &certificates, now);
        assert_eq!(days("rds-ca-rsa2048-g1"), Some(89));
        assert_eq!(days("rds-ca-rsa4096-g1"), Some(36_500));
        assert_eq!(days("rds-ca-2019"), None, "not listed: unknown, and failed");
        assert_eq!(days_until(now - 1, now), -1, "expired a second ago");
    }

    #[test]
    fn monitoring_is_seen_by_the_log_group_rds_delivers_to() {
        let arn = "arn:aws:logs:us-east-1:123456789012:log-group:RDSOSMetrics:log-stream:db-ABC";
        let db = DbInstance::builder()
            .enhanced_monitoring_resource_arn(arn)
            .build();
        assert_eq!(
            monitoring_stream(&db),
            json!({"log_group": OS_METRICS_GROUP, "arn": arn})
        );
        assert_eq!(
            monitoring_stream(&DbInstance::builder().build()),
            Value::Null
        );
    }

    #[test]
    fn optimizing_storage_is_available_not_drift_nor_a_wait() {
        let optimizing = described(OPTIMIZING_STORAGE);
        assert_eq!(
            optimizing.properties.get(&STATUS),
            Some(&json!("available"))
        );
        assert!(RdsInstance.in_transition(&optimizing).is_none());
        // Whereas a modification under way is waited for.
        assert!(RdsInstance.in_transition(&described("modifying")).is_some());
    }
}
