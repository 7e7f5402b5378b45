//! The stack's roles, one for each `RoleFor`: what each is called, says of itself, trusts,
//! may do and needs first. `role.rs` makes and checks a role of any of them.

use serde_json::Value;

use crate::context::Ctx;
use crate::error::Error;
use crate::logical::{Holds, Logical, RoleFor};

use super::policies;

/// Where a role's permissions come from.
pub(super) enum Permissions {
    /// AWS managed policies, by path and name under `arn:PARTITION:iam::aws:policy/`.
    AwsManaged(&'static [&'static str]),
    /// A customer-managed policy with this document, built once dependencies are known.
    Custom(fn(&Ctx) -> Result<Value, Error>),
}

/// Who may assume the role.
pub(super) enum Trust {
    Service(&'static str),
    /// Configured principals; the account itself when none are configured.
    Configured(fn(&Ctx) -> &[String]),
}

pub(crate) struct IamRole {
    role: RoleFor,
}

impl IamRole {
    pub(crate) fn new(role: RoleFor) -> Self {
        Self { role }
    }

    pub(super) fn logical(&self) -> Logical {
        Logical::Role(self.role)
    }

    pub(super) fn role_name(&self, ctx: &Ctx) -> String {
        let names = ctx.names();
        match self.role {
            RoleFor::FlowLogs => names.flow_logs_role(),
            RoleFor::RdsMonitoring => names.rds_monitoring_role(),
            RoleFor::KinesisProducer => names.kinesis_producer_role(),
            RoleFor::SecretsReader => names.secrets_reader_role(),
            RoleFor::Backup => names.backup_role(),
        }
    }

    /// The role's and its customer-managed policy's description.
    pub(super) fn description(&self) -> &'static str {
        match self.role {
            RoleFor::FlowLogs => "medtech: VPC flow logs deliver to their encrypted log group",
            RoleFor::RdsMonitoring => "medtech: RDS enhanced monitoring publishes OS metrics",
            RoleFor::KinesisProducer => "medtech: producers write PHI events to the Kinesis stream",
            RoleFor::SecretsReader => {
                "medtech: applications read the database and Redis credentials"
            }
            RoleFor::Backup => {
                "medtech: AWS Backup backs up the RDS instance into its vault, and restores it"
            }
        }
    }

    pub(super) fn trust(&self) -> Trust {
        match self.role {
            RoleFor::FlowLogs => Trust::Service("vpc-flow-logs.amazonaws.com"),
            RoleFor::RdsMonitoring => Trust::Service("monitoring.rds.amazonaws.com"),
            RoleFor::Backup => Trust::Service("backup.amazonaws.com"),
            RoleFor::KinesisProducer => {
                Trust::Configured(|ctx| &ctx.settings.services.iam.kinesis_producer_principals)
            }
            RoleFor::SecretsReader => {
                Trust::Configured(|ctx| &ctx.settings.services.iam.secrets_reader_principals)
            }
        }
    }

    pub(super) fn permissions(&self) -> Permissions {
        match self.role {
            RoleFor::FlowLogs => Permissions::Custom(policies::flow_logs),
            RoleFor::KinesisProducer => Permissions::Custom(policies::kinesis_producer),
            RoleFor::SecretsReader => Permissions::Custom(policies::secrets_reader),
            RoleFor::RdsMonitoring => {
                Permissions::AwsManaged(&["service-role/AmazonRDSEnhancedMonitoringRole"])
            }
            RoleFor::Backup => Permissions::AwsManaged(&[
                "service-role/AWSBackupServiceRolePolicyForBackup",
                "service-role/AWSBackupServiceRolePolicyForRestores",
            ]),
        }
    }

    /// The resources whose ARNs its policy names: they must exist first.
    pub(super) fn needs(&self) -> Vec<Logical> {
        match self.role {
            RoleFor::FlowLogs | RoleFor::RdsMonitoring | RoleFor::Backup => vec![],
            RoleFor::KinesisProducer => vec![Logical::KinesisStream, Logical::KmsKey],
            RoleFor::SecretsReader => vec![
                Logical::Secret(Holds::RdsCredentials),
                Logical::Secret(Holds::RedisAuthToken),
                Logical::KmsKey,
            ],
        }
    }
}
