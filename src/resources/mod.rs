//! The stack: one module per AWS resource kind, each implementing `Resource`, and the list
//! that puts them together. Dependencies are declared by each resource; the list order is
//! only the order in reports.

pub(crate) mod backup;
pub(crate) mod cloudwatch;
pub(crate) mod common;
pub(crate) mod ec2;
pub(crate) mod elasticache;
pub(crate) mod iam;
pub(crate) mod kinesis;
pub(crate) mod kms;
pub(crate) mod logs;
pub(crate) mod rds;
pub(crate) mod secretsmanager;
pub(crate) mod sns;
pub(crate) mod tagging;
pub(crate) mod wait;

use crate::logical::{Endpoint, Guards, Holds, Logical, Metric, Purpose, RdsEvents, RoleFor, Tier};
use crate::naming::{Names, Zone};
use crate::resource::Resource;

use backup::plan::BackupPlan;
use backup::selection::BackupSelection;
use backup::vault::BackupVault;
use cloudwatch::Alarm;
use ec2::default_network_acl::DefaultNetworkAcl;
use ec2::default_security_group::DefaultSecurityGroup;
use ec2::elastic_ip::ElasticIp;
use ec2::flow_log::FlowLog;
use ec2::internet_gateway::InternetGateway;
use ec2::nat_gateway::NatGateway;
use ec2::network_acl::NetworkAcl;
use ec2::route_table::RouteTable;
use ec2::security_group::SecurityGroup;
use ec2::subnet::Subnet;
use ec2::vpc::Vpc;
use ec2::vpc_endpoint::VpcEndpoint;
use elasticache::replication_group::ReplicationGroup;
use elasticache::subnet_group::CacheSubnetGroup;
use iam::role::{IamRole, Permissions, Trust};
use kinesis::KinesisStream;
use kms::KmsKey;
use logs::LogGroup;
use rds::event_subscription::RdsEventSubscription;
use rds::instance::RdsInstance;
use rds::parameter_group::DbParameterGroup;
use rds::subnet_group::DbSubnetGroup;
use secretsmanager::secret::Secret;
use secretsmanager::secret_endpoint::SecretEndpoint;
use sns::SnsTopic;

/// Every resource of the stack.
pub(crate) fn stack() -> Vec<Box<dyn Resource>> {
    let mut resources: Vec<Box<dyn Resource>> =
        vec![Box::new(Vpc), Box::new(DefaultSecurityGroup::new())];
    for tier in [Tier::Public, Tier::Private] {
        for zone in Zone::ALL {
            resources.push(Box::new(Subnet::new(tier, zone)));
        }
    }
    resources.extend([
        Box::new(InternetGateway) as Box<dyn Resource>,
        Box::new(ElasticIp),
        Box::new(NatGateway),
        Box::new(RouteTable::new(Tier::Public)),
        Box::new(RouteTable::new(Tier::Private)),
        Box::new(NetworkAcl::new(Tier::Public)),
        Box::new(NetworkAcl::new(Tier::Private)),
        Box::new(DefaultNetworkAcl::new()),
        Box::new(SecurityGroup::new(Guards::Postgres)),
        Box::new(SecurityGroup::new(Guards::Redis)),
        Box::new(SecurityGroup::new(Guards::Endpoints)),
        Box::new(VpcEndpoint::new(Endpoint::SecretsManager)),
        Box::new(VpcEndpoint::new(Endpoint::Kinesis)),
        Box::new(VpcEndpoint::new(Endpoint::S3)),
        Box::new(KmsKey),
        Box::new(LogGroup::new(Purpose::Audit)),
        Box::new(LogGroup::new(Purpose::FlowLogs)),
        Box::new(LogGroup::new(Purpose::RdsPostgresql)),
        Box::new(LogGroup::new(Purpose::RdsUpgrade)),
        Box::new(IamRole {
            logical: Logical::Role(RoleFor::FlowLogs),
            aws_name: Names::flow_logs_role,
            description: "medtech: VPC flow logs deliver to their encrypted log group",
            trust: Trust::Service("vpc-flow-logs.amazonaws.com"),
            permissions: Permissions::Custom(iam::policies::flow_logs),
            depends_on: vec![],
        }),
        Box::new(FlowLog),
        Box::new(KinesisStream),
        Box::new(Secret::new(Holds::RdsCredentials)),
        Box::new(Secret::new(Holds::RedisAuthToken)),
        Box::new(DbParameterGroup),
        Box::new(DbSubnetGroup),
        Box::new(IamRole {
            logical: Logical::Role(RoleFor::RdsMonitoring),
            aws_name: Names::rds_monitoring_role,
            description: "medtech: RDS enhanced monitoring publishes OS metrics",
            trust: Trust::Service("monitoring.rds.amazonaws.com"),
            permissions: Permissions::AwsManaged(&["service-role/AmazonRDSEnhancedMonitoringRole"]),
            depends_on: vec![],
        }),
        Box::new(RdsInstance),
        Box::new(BackupVault),
        Box::new(BackupPlan),
        Box::new(IamRole {
            logical: Logical::Role(RoleFor::Backup),
            aws_name: Names::backup_role,
            description: "medtech: AWS Backup backs up the RDS instance into its vault, and restores it",
            trust: Trust::Service("backup.amazonaws.com"),
            permissions: Permissions::AwsManaged(&[
                "service-role/AWSBackupServiceRolePolicyForBackup",
                "service-role/AWSBackupServiceRolePolicyForRestores",
            ]),
            depends_on: vec![],
        }),
        Box::new(BackupSelection),
        Box::new(SecretEndpoint),
        Box::new(CacheSubnetGroup),
        Box::new(ReplicationGroup),
        Box::new(IamRole {
            logical: Logical::Role(RoleFor::KinesisProducer),
            aws_name: Names::kinesis_producer_role,
            description: "medtech: producers write PHI events to the Kinesis stream",
            trust: Trust::Configured(|ctx| &ctx.settings.services.iam.kinesis_producer_principals),
            permissions: Permissions::Custom(iam::policies::kinesis_producer),
            depends_on: vec![Logical::KinesisStream, Logical::KmsKey],
        }),
        Box::new(IamRole {
            logical: Logical::Role(RoleFor::SecretsReader),
            aws_name: Names::secrets_reader_role,
            description: "medtech: applications read the database and Redis credentials",
            trust: Trust::Configured(|ctx| &ctx.settings.services.iam.secrets_reader_principals),
            permissions: Permissions::Custom(iam::policies::secrets_reader),
            depends_on: vec![
                Logical::Secret(Holds::RdsCredentials),
                Logical::Secret(Holds::RedisAuthToken),
                Logical::KmsKey,
            ],
        }),
        Box::new(SnsTopic),
    ]);
    resources.extend(Metric::ALL.map(|m| Box::new(Alarm::new(m)) as Box<dyn Resource>));
    resources.extend(
        RdsEvents::ALL.map(|e| Box::new(RdsEventSubscription::new(e)) as Box<dyn Resource>),
    );
    resources
}
