//! The control catalogue: for every property medtech checks, how bad a failure is, which
//! HIPAA Security Rule safeguard it supports, how to fix it, and the equivalent Prowler check
//! and AWS Config rule (HIPAA conformance pack) so auditors can cross-reference.

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Severity {
    Critical,
    High,
    Medium,
    Low,
}

impl Severity {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
        }
    }
}

/// What a check means for an auditor.
#[derive(Clone, Copy, Debug, Serialize)]
pub(crate) struct Control {
    pub title: &'static str,
    pub severity: Severity,
    pub safeguard: &'static str,
    pub fix: &'static str,
    pub prowler: &'static str,
    pub config_rule: &'static str,
}

const ENCRYPTION: &str = "164.312(a)(2)(iv) encryption and decryption";
const TRANSMISSION: &str = "164.312(e)(1) transmission security";
const AUDIT: &str = "164.312(b) audit controls";
const CONTINGENCY: &str = "164.308(a)(7) contingency plan";
const BACKUP: &str = "164.308(a)(7)(ii)(A) data backup plan";
const ACCESS: &str = "164.312(a)(1) access control";
const ACCESS_MGMT: &str = "164.308(a)(4) information access management";
const ACTIVITY: &str = "164.308(a)(1)(ii)(D) information system activity review";
const INTEGRITY: &str = "164.312(c)(1) integrity";
const AUTHN: &str = "164.312(d) person or entity authentication";

const fn c(
    title: &'static str,
    severity: Severity,
    safeguard: &'static str,
    fix: &'static str,
    prowler: &'static str,
    config_rule: &'static str,
) -> Control {
    Control {
        title,
        severity,
        safeguard,
        fix,
        prowler,
        config_rule,
    }
}

use Severity::{Critical, High, Low, Medium};

/// Controls that apply to every resource, whatever its kind.
pub(crate) fn common(property: &str) -> Option<Control> {
    Some(match property {
        "exists" => c(
            "The resource exists",
            Critical,
            INTEGRITY,
            "run `medtech up` to re-create it",
            "-",
            "-",
        ),
        "unique" => c(
            "Exactly one resource carries this name and environment",
            High,
            INTEGRITY,
            "delete the copies medtech did not create, keep the one in state",
            "-",
            "-",
        ),
        "settled" => c(
            "AWS has finished creating or changing the resource (its settings are checked once it has)",
            High,
            INTEGRITY,
            "wait for AWS to finish, or run `medtech up`, which waits, then verify again",
            "-",
            "-",
        ),
        "recorded" => c(
            "The resource is the one recorded in state",
            Medium,
            INTEGRITY,
            "run `medtech state refresh` after checking why it changed",
            "-",
            "-",
        ),
        "tags" => c(
            "Required tags (Project, Environment, ManagedBy, Compliance, DataClassification, Name)",
            Low,
            ACTIVITY,
            "run `medtech up` to re-tag",
            "-",
            "REQUIRED_TAGS",
        ),
        _ => return None,
    })
}

/// The control of a kind-specific property.
pub(crate) fn for_property(kind: &str, property: &str) -> Control {
    if let Some(control) = common(property) {
        return control;
    }
    match (kind, property) {
        // Network.
        ("vpc", "cidr_block") => c(
            "VPC address range as configured",
            Medium,
            ACCESS,
            "the CIDR cannot change in place: revert the config or re-create",
            "-",
            "-",
        ),
        ("vpc", _) => c(
            "VPC DNS support and hostnames on (private endpoints need both)",
            Medium,
            TRANSMISSION,
            "run `medtech up`",
            "-",
            "-",
        ),
        ("default_security_group", _) => c(
            "The VPC's default security group allows no traffic",
            High,
            ACCESS,
            "run `medtech up` to revoke its rules",
            "ec2_securitygroup_default_restrict_traffic",
            "VPC_DEFAULT_SECURITY_GROUP_CLOSED",
        ),
        ("subnet", "map_public_ip_on_launch") => c(
            "Subnets do not hand out public IPs",
            High,
            ACCESS,
            "run `medtech up`",
            "vpc_subnet_no_public_ip_by_default",
            "SUBNET_AUTO_MAP_PUBLIC_IP_DISABLED",
        ),
        ("subnet", _) => c(
            "Subnet placement as configured (VPC, CIDR, availability zone)",
            Medium,
            CONTINGENCY,
            "re-create the environment if the layout changed",
            "vpc_subnet_separate_private_public",
            "-",
        ),
        ("internet_gateway", _) => c(
            "Internet gateway attached to the VPC",
            Low,
            TRANSMISSION,
            "run `medtech up`",
            "-",
            "-",
        ),
        ("elastic_ip", _) => c(
            "NAT address allocated in the VPC",
            Low,
            ACCESS,
            "run `medtech up`",
            "ec2_elastic_ip_unassigned",
            "EIP_ATTACHED",
        ),
        ("nat_gateway", _) => c(
            "NAT gateway in public subnet a, available",
            Medium,
            ACCESS,
            "run `medtech up`",
            "-",
            "-",
        ),
        ("route_table", _) => c(
            "Routes and explicit subnet associations as designed",
            High,
            ACCESS,
            "run `medtech up` to restore routes and associations",
            "-",
            "-",
        ),
        ("security_group", "ingress") => c(
            "Only the service port, only from inside the VPC",
            Critical,
            ACCESS,
            "run `medtech up` to revoke extra rules",
            "ec2_securitygroup_allow_ingress_from_internet_to_any_port",
            "RESTRICTED_INCOMING_TRAFFIC",
        ),
        ("security_group", "egress") => c(
            "No egress rules on data-tier groups",
            Medium,
            ACCESS,
            "run `medtech up` to revoke them",
            "-",
            "-",
        ),
        ("security_group", _) => c(
            "Security group in the stack's VPC",
            Medium,
            ACCESS,
            "re-create the environment",
            "-",
            "-",
        ),
        ("vpc_endpoint", "private_dns_enabled") => c(
            "Endpoints answer the services' standard names (private DNS)",
            Medium,
            TRANSMISSION,
            "run `medtech up`",
            "-",
            "-",
        ),
        ("vpc_endpoint", _) => c(
            "AWS API traffic stays inside the VPC (endpoints in place and available)",
            Medium,
            TRANSMISSION,
            "run `medtech up`",
            "vpc_endpoint_services_allowed_principals_trust_boundaries",
            "-",
        ),
        ("flow_log", "delivery") => c(
            "AWS delivers the flow logs (DeliverLogsStatus SUCCESS): the role may write to the group",
            High,
            AUDIT,
            "run `medtech up` to repair the flow-logs role's policy, then `medtech verify` once AWS has delivered again",
            "vpc_flow_logs_enabled",
            "VPC_FLOW_LOGS_ENABLED",
        ),
        ("flow_log", _) => c(
            "VPC flow logs capture ALL traffic into the encrypted group",
            High,
            AUDIT,
            "run `medtech up`",
            "vpc_flow_logs_enabled",
            "VPC_FLOW_LOGS_ENABLED",
        ),
        // Encryption keys and logs.
        ("kms_key", "rotation_enabled") => c(
            "Automatic key rotation enabled",
            High,
            ENCRYPTION,
            "run `medtech up` (EnableKeyRotation)",
            "kms_cmk_rotation_enabled",
            "CMK_BACKING_KEY_ROTATION_ENABLED",
        ),
        ("kms_key", "enabled") => c(
            "Key enabled, not pending deletion",
            Critical,
            ENCRYPTION,
            "cancel the deletion / enable the key, then `medtech up`",
            "kms_cmk_are_used",
            "KMS_CMK_NOT_SCHEDULED_FOR_DELETION",
        ),
        ("kms_key", "policy") => c(
            "Key policy: account administration, CloudWatch Logs of this environment, alarms only",
            Critical,
            ACCESS_MGMT,
            "run `medtech up` (PutKeyPolicy)",
            "kms_key_not_publicly_accessible",
            "-",
        ),
        ("kms_key", _) => c(
            "Symmetric encryption key with its alias",
            High,
            ENCRYPTION,
            "run `medtech up`",
            "-",
            "-",
        ),
        ("log_group", "kms_key_id") => c(
            "Log group encrypted with the stack's key",
            High,
            ENCRYPTION,
            "run `medtech up` (AssociateKmsKey)",
            "cloudwatch_log_group_kms_encryption_enabled",
            "CLOUDWATCH_LOG_GROUP_ENCRYPTED",
        ),
        ("log_group", _) => c(
            "Logs kept for the configured retention (at least 90 days)",
            High,
            AUDIT,
            "run `medtech up` (PutRetentionPolicy)",
            "cloudwatch_log_group_retention_policy_specific_days_enabled",
            "CW_LOGGROUP_RETENTION_PERIOD_CHECK",
        ),
        // IAM.
        ("iam_role", "inline_policies") => c(
            "No inline policies",
            High,
            ACCESS_MGMT,
            "run `medtech up` to delete them",
            "iam_inline_policy_no_administrative_privileges",
            "IAM_NO_INLINE_POLICY_CHECK",
        ),
        ("iam_role", "policy_document") => c(
            "Least privilege: exact actions on this stack's ARNs, KMS on this key only",
            Critical,
            ACCESS_MGMT,
            "run `medtech up` (new policy version)",
            "iam_customer_attached_policy_no_administrative_privileges",
            "IAM_CUSTOMER_POLICY_BLOCKED_KMS_ACTIONS",
        ),
        ("iam_role", "assume_role_policy") => c(
            "Only the intended principals may assume the role",
            Critical,
            ACCESS_MGMT,
            "run `medtech up` (UpdateAssumeRolePolicy)",
            "iam_role_cross_service_confused_deputy_prevention",
            "-",
        ),
        ("iam_role", _) => c(
            "Only the intended managed policy is attached",
            High,
            ACCESS_MGMT,
            "run `medtech up`",
            "iam_policy_attached_only_to_group_or_roles",
            "IAM_POLICY_NO_STATEMENTS_WITH_ADMIN_ACCESS",
        ),
        // Streaming.
        ("kinesis_stream", "encryption") => c(
            "Stream encrypted at rest with the stack's key",
            Critical,
            ENCRYPTION,
            "run `medtech up` (StartStreamEncryption)",
            "kinesis_stream_encrypted_at_rest",
            "KINESIS_STREAM_ENCRYPTED",
        ),
        ("kinesis_stream", "retention_period_hours") => c(
            "Stream retention as configured",
            Medium,
            BACKUP,
            "run `medtech up`",
            "kinesis_stream_data_retention_period",
            "-",
        ),
        ("kinesis_stream", _) => c(
            "Stream provisioned, sized and active as configured",
            Low,
            CONTINGENCY,
            "run `medtech up`",
            "-",
            "-",
        ),
        // Secrets.
        ("secret", "kms_key_id") => c(
            "Secret encrypted with the stack's key",
            High,
            ENCRYPTION,
            "run `medtech up` (UpdateSecret)",
            "secretsmanager_secret_encrypted_with_cmk",
            "SECRETSMANAGER_USING_CMK",
        ),
        ("secret", "value") => c(
            "Secret holds the expected keys and a value within the service's rules",
            High,
            AUTHN,
            "restore the JSON keys; rotate through the service if the value is weak",
            "-",
            "-",
        ),
        ("secret_endpoint", _) => c(
            "RDS secret points at the live instance",
            Low,
            INTEGRITY,
            "run `medtech up`",
            "-",
            "-",
        ),
        // RDS.
        ("db_parameter_group", "parameters") => c(
            "TLS forced (rds.force_ssl=1); connections and disconnections logged",
            Critical,
            TRANSMISSION,
            "run `medtech up` (ModifyDBParameterGroup)",
            "rds_instance_transport_encrypted",
            "RDS_LOGGING_ENABLED",
        ),
        ("db_parameter_group", _) => c(
            "Parameter group of the engine's family",
            Medium,
            TRANSMISSION,
            "change the config back",
            "-",
            "-",
        ),
        ("db_subnet_group", _) | ("cache_subnet_group", _) => c(
            "Data tier only in the private subnets",
            High,
            ACCESS,
            "run `medtech up`",
            "elasticache_cluster_uses_public_subnet",
            "-",
        ),
        ("rds_instance", "storage_encrypted" | "kms_key_id") => c(
            "Storage encrypted with the stack's key",
            Critical,
            ENCRYPTION,
            "cannot change in place: restore a snapshot into an encrypted instance",
            "rds_instance_storage_encrypted",
            "RDS_STORAGE_ENCRYPTED",
        ),
        ("rds_instance", "publicly_accessible") => c(
            "Not publicly accessible",
            Critical,
            ACCESS,
            "run `medtech up`",
            "rds_instance_no_public_access",
            "RDS_INSTANCE_PUBLIC_ACCESS_CHECK",
        ),
        ("rds_instance", "backup_retention_period" | "preferred_backup_window") => c(
            "Automated backups kept 30 days",
            High,
            BACKUP,
            "run `medtech up`",
            "rds_instance_backup_enabled",
            "DB_INSTANCE_BACKUP_ENABLED",
        ),
        ("rds_instance", "multi_az") => c(
            "Multi-AZ standby",
            High,
            CONTINGENCY,
            "run `medtech up`",
            "rds_instance_multi_az",
            "RDS_MULTI_AZ_SUPPORT",
        ),
        ("rds_instance", "deletion_protection") => c(
            "Deletion protection on",
            High,
            CONTINGENCY,
            "run `medtech up`",
            "rds_instance_deletion_protection",
            "RDS_INSTANCE_DELETION_PROTECTION_ENABLED",
        ),
        ("rds_instance", "enabled_cloudwatch_logs_exports") => c(
            "PostgreSQL and upgrade logs exported to CloudWatch",
            High,
            AUDIT,
            "run `medtech up`",
            "rds_instance_integration_cloudwatch_logs",
            "RDS_LOGGING_ENABLED",
        ),
        ("rds_instance", "monitoring_interval" | "monitoring_role_arn") => c(
            "Enhanced monitoring through its role",
            Medium,
            ACTIVITY,
            "run `medtech up`",
            "rds_instance_enhanced_monitoring_enabled",
            "RDS_ENHANCED_MONITORING_ENABLED",
        ),
        ("rds_instance", "iam_database_authentication_enabled") => c(
            "IAM database authentication on",
            Medium,
            AUTHN,
            "run `medtech up`",
            "rds_instance_iam_authentication_enabled",
            "RDS_INSTANCE_IAM_AUTHENTICATION_ENABLED",
        ),
        ("rds_instance", "auto_minor_version_upgrade") => c(
            "Automatic minor version upgrades (security patches)",
            Medium,
            INTEGRITY,
            "run `medtech up`",
            "rds_instance_minor_version_upgrade_enabled",
            "RDS_AUTOMATIC_MINOR_VERSION_UPGRADE_ENABLED",
        ),
        ("rds_instance", "copy_tags_to_snapshot") => c(
            "Snapshots carry the PHI tags",
            Low,
            BACKUP,
            "run `medtech up`",
            "rds_instance_copy_tags_to_snapshots",
            "-",
        ),
        ("rds_instance", "performance_insights_enabled" | "performance_insights_kms_key_id") => c(
            "Performance Insights on, encrypted with the stack's key",
            Medium,
            ENCRYPTION,
            "run `medtech up`",
            "-",
            "-",
        ),
        ("rds_instance", "master_username") => c(
            "Master user is not a default name",
            Medium,
            AUTHN,
            "cannot change in place",
            "rds_instance_default_admin",
            "-",
        ),
        ("rds_instance", "db_parameter_group") => c(
            "Instance uses the TLS-forcing parameter group",
            Critical,
            TRANSMISSION,
            "run `medtech up`",
            "rds_instance_transport_encrypted",
            "-",
        ),
        ("rds_instance", "vpc_security_group_ids" | "db_subnet_group") => c(
            "Instance only in the private subnets, behind its security group",
            High,
            ACCESS,
            "run `medtech up`",
            "rds_instance_inside_vpc",
            "-",
        ),
        ("rds_instance", _) => c(
            "Instance shape and state as configured",
            Low,
            CONTINGENCY,
            "run `medtech up`",
            "-",
            "-",
        ),
        // ElastiCache.
        ("elasticache_replication_group", "at_rest_encryption_enabled" | "kms_key_id") => c(
            "Encrypted at rest with the stack's key",
            Critical,
            ENCRYPTION,
            "cannot change in place: re-create from a snapshot",
            "elasticache_redis_cluster_rest_encryption_enabled",
            "ELASTICACHE_REPL_GRP_ENCRYPTED_AT_REST",
        ),
        ("elasticache_replication_group", "transit_encryption_enabled") => c(
            "TLS in transit",
            Critical,
            TRANSMISSION,
            "cannot change in place: re-create",
            "elasticache_redis_cluster_in_transit_encryption_enabled",
            "ELASTICACHE_REPL_GRP_ENCRYPTED_IN_TRANSIT",
        ),
        ("elasticache_replication_group", "auth_token_enabled") => c(
            "Redis AUTH required",
            Critical,
            AUTHN,
            "cannot change in place: re-create",
            "elasticache_redis_replication_group_auth_enabled",
            "ELASTICACHE_REPL_GRP_REDIS_AUTH_ENABLED",
        ),
        ("elasticache_replication_group", "automatic_failover") => c(
            "Automatic failover",
            High,
            CONTINGENCY,
            "run `medtech up`",
            "elasticache_redis_cluster_automatic_failover_enabled",
            "ELASTICACHE_REPL_GRP_AUTO_FAILOVER_ENABLED",
        ),
        ("elasticache_replication_group", "multi_az" | "num_cache_clusters") => c(
            "Multi-AZ with a replica",
            High,
            CONTINGENCY,
            "run `medtech up`",
            "elasticache_redis_cluster_multi_az_enabled",
            "-",
        ),
        ("elasticache_replication_group", "snapshot_retention_limit" | "snapshot_window") => c(
            "Daily snapshots kept at least 7 days",
            High,
            BACKUP,
            "run `medtech up`",
            "elasticache_redis_cluster_backup_enabled",
            "ELASTICACHE_REDIS_CLUSTER_AUTOMATIC_BACKUP_CHECK",
        ),
        ("elasticache_replication_group", "auto_minor_version_upgrade") => c(
            "Automatic minor version upgrades",
            Medium,
            INTEGRITY,
            "run `medtech up`",
            "elasticache_redis_cluster_auto_minor_version_upgrades",
            "ELASTICACHE_AUTO_MINOR_VERSION_UPGRADE_CHECK",
        ),
        ("elasticache_replication_group", "security_group_ids" | "cache_subnet_group") => c(
            "Cache only in the private subnets, behind its security group",
            High,
            ACCESS,
            "run `medtech up`",
            "elasticache_cluster_uses_public_subnet",
            "-",
        ),
        ("elasticache_replication_group", _) => c(
            "Replication group shape and state as configured",
            Low,
            CONTINGENCY,
            "run `medtech up`",
            "-",
            "-",
        ),
        // Monitoring.
        ("sns_topic", "kms_master_key_id") => c(
            "Alarm topic encrypted with the stack's key",
            High,
            ENCRYPTION,
            "run `medtech up`",
            "sns_topics_kms_encryption_at_rest_enabled",
            "SNS_ENCRYPTED_KMS",
        ),
        ("sns_topic", _) => c(
            "Alarm notifications reach their subscribers",
            Low,
            ACTIVITY,
            "run `medtech up`",
            "-",
            "-",
        ),
        ("cloudwatch_alarm", "alarm_actions" | "insufficient_data_actions" | "actions_enabled") => {
            c(
                "Alarm notifies the topic on alarm and on missing data",
                High,
                ACTIVITY,
                "run `medtech up` (PutMetricAlarm)",
                "cloudwatch_alarm_actions_enabled",
                "CLOUDWATCH_ALARM_ACTION_CHECK",
            )
        }
        ("cloudwatch_alarm", "uncovered_members") => c(
            "Redis alarm watches every current member of the replication group, the primary and each replica, whichever a failover made primary",
            High,
            ACTIVITY,
            "run `medtech up` (PutMetricAlarm over every member)",
            "-",
            "-",
        ),
        ("cloudwatch_alarm", "treat_missing_data") => c(
            "Missing data is treated as the metric requires: healthy for Kinesis traffic metrics, a notification for metrics AWS always reports",
            Medium,
            ACTIVITY,
            "run `medtech up` (PutMetricAlarm TreatMissingData)",
            "-",
            "-",
        ),
        ("cloudwatch_alarm", _) => c(
            "Alarm watches the intended metric with the configured threshold",
            Medium,
            ACTIVITY,
            "run `medtech up` (PutMetricAlarm)",
            "-",
            "-",
        ),
        _ => c(
            "Setting as configured",
            Low,
            INTEGRITY,
            "run `medtech up`",
            "-",
            "-",
        ),
    }
}
