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
pub(crate) mod wait;

use crate::logical::{Endpoint, Guards, Holds, Metric, Purpose, RdsEvents, RoleFor, Tier, Zone};
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
use iam::roles::IamRole;
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
    Stack::default()
        .with(Vpc)
        .with(DefaultSecurityGroup::new())
        .with_all(
            Tier::ALL
                .into_iter()
                .flat_map(|tier| Zone::ALL.map(|zone| Subnet::new(tier, zone))),
        )
        .with(InternetGateway)
        .with(ElasticIp)
        .with(NatGateway)
        .with_all(Tier::ALL.map(RouteTable::new))
        .with_all(Tier::ALL.map(NetworkAcl::new))
        .with(DefaultNetworkAcl::new())
        .with_all([Guards::Postgres, Guards::Redis, Guards::Endpoints].map(SecurityGroup::new))
        .with_all([Endpoint::SecretsManager, Endpoint::Kinesis, Endpoint::S3].map(VpcEndpoint::new))
        .with(KmsKey)
        .with_all(Purpose::ALL.map(LogGroup::new))
        .with(IamRole::new(RoleFor::FlowLogs))
        .with(FlowLog)
        .with(KinesisStream)
        .with_all(Holds::ALL.map(Secret::new))
        .with(DbParameterGroup)
        .with(DbSubnetGroup)
        .with(IamRole::new(RoleFor::RdsMonitoring))
        .with(RdsInstance)
        .with(BackupVault)
        .with(BackupPlan)
        .with(IamRole::new(RoleFor::Backup))
        .with(BackupSelection)
        .with(SecretEndpoint)
        .with(CacheSubnetGroup)
        .with(ReplicationGroup)
        .with(IamRole::new(RoleFor::KinesisProducer))
        .with(IamRole::new(RoleFor::SecretsReader))
        .with(SnsTopic)
        .with_all(Metric::ALL.map(Alarm::new))
        .with_all(RdsEvents::ALL.map(RdsEventSubscription::new))
        .0
}

/// The stack's resources as they are added, which is their order in reports.
#[derive(Default)]
struct Stack(Vec<Box<dyn Resource>>);

impl Stack {
    fn with(mut self, resource: impl Resource + 'static) -> Self {
        self.0.push(Box::new(resource));
        self
    }

    fn with_all<R: Resource + 'static>(self, resources: impl IntoIterator<Item = R>) -> Self {
        resources.into_iter().fold(self, Self::with)
    }
}
