//! The stack: one module per AWS resource kind, each implementing `Resource`, and the list
//! that puts them together. Dependencies are declared by each resource; the list order is
//! only the order in reports.

mod alarm;
mod cache_subnet_group;
mod common;
mod db_parameter_group;
mod db_subnet_group;
mod default_security_group;
mod ec2;
mod elastic_ip;
mod flow_log;
mod iam_role;
mod internet_gateway;
mod kinesis_stream;
mod kms_key;
mod log_group;
mod nat_gateway;
mod policies;
pub mod rds_engine;
mod rds_instance;
mod rds_tags;
mod replication_group;
mod route_table;
mod secret;
mod secret_endpoint;
mod security_group;
mod sg_rules;
mod sns_topic;
mod subnet;
mod tagging;
mod vpc;
mod vpc_endpoint;

use crate::naming::{Names, Zone};
use crate::resource::Resource;

use alarm::{Alarm, Metric};
use cache_subnet_group::CacheSubnetGroup;
use db_parameter_group::DbParameterGroup;
use db_subnet_group::DbSubnetGroup;
use default_security_group::DefaultSecurityGroup;
use elastic_ip::ElasticIp;
use flow_log::FlowLog;
use iam_role::{IamRole, Permissions, Trust};
use internet_gateway::InternetGateway;
use kinesis_stream::KinesisStream;
use kms_key::KmsKey;
use log_group::{LogGroup, Purpose};
use nat_gateway::NatGateway;
use rds_instance::RdsInstance;
use replication_group::ReplicationGroup;
use route_table::RouteTable;
use secret::{Holds, Secret};
use secret_endpoint::SecretEndpoint;
use security_group::{SecurityGroup, Service};
use sns_topic::SnsTopic;
use subnet::{Subnet, Tier};
use vpc::Vpc;
use vpc_endpoint::VpcEndpoint;

/// Every resource of the stack.
pub fn stack() -> Vec<Box<dyn Resource>> {
    let mut resources: Vec<Box<dyn Resource>> = vec![Box::new(Vpc), Box::new(DefaultSecurityGroup)];
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
        Box::new(SecurityGroup::new(Service::Postgres)),
        Box::new(SecurityGroup::new(Service::Redis)),
        Box::new(SecurityGroup::new(Service::Endpoints)),
        Box::new(VpcEndpoint::new(vpc_endpoint::Service::SecretsManager)),
        Box::new(VpcEndpoint::new(vpc_endpoint::Service::Kinesis)),
        Box::new(VpcEndpoint::new(vpc_endpoint::Service::S3)),
        Box::new(KmsKey),
        Box::new(LogGroup::new(Purpose::Audit)),
        Box::new(LogGroup::new(Purpose::FlowLogs)),
        Box::new(LogGroup::new(Purpose::RdsPostgresql)),
        Box::new(LogGroup::new(Purpose::RdsUpgrade)),
        Box::new(IamRole {
            logical: FlowLog::ROLE,
            aws_name: Names::flow_logs_role,
            description: "medtech: VPC flow logs deliver to their encrypted log group",
            trust: Trust::Service("vpc-flow-logs.amazonaws.com"),
            permissions: Permissions::Custom(policies::flow_logs),
            depends_on: vec![],
        }),
        Box::new(FlowLog),
        Box::new(KinesisStream),
        Box::new(Secret::new(Holds::RdsCredentials)),
        Box::new(Secret::new(Holds::RedisAuthToken)),
        Box::new(DbParameterGroup),
        Box::new(DbSubnetGroup),
        Box::new(IamRole {
            logical: rds_instance::MONITORING_ROLE,
            aws_name: Names::rds_monitoring_role,
            description: "medtech: RDS enhanced monitoring publishes OS metrics",
            trust: Trust::Service("monitoring.rds.amazonaws.com"),
            permissions: Permissions::AwsManaged("service-role/AmazonRDSEnhancedMonitoringRole"),
            depends_on: vec![],
        }),
        Box::new(RdsInstance),
        Box::new(SecretEndpoint),
        Box::new(CacheSubnetGroup),
        Box::new(ReplicationGroup),
        Box::new(IamRole {
            logical: "kinesis-producer-role",
            aws_name: Names::kinesis_producer_role,
            description: "medtech: producers write PHI events to the Kinesis stream",
            trust: Trust::Configured(|ctx| &ctx.settings.services.iam.kinesis_producer_principals),
            permissions: Permissions::Custom(policies::kinesis_producer),
            depends_on: vec![KinesisStream::NAME, KmsKey::NAME],
        }),
        Box::new(IamRole {
            logical: "secrets-reader-role",
            aws_name: Names::secrets_reader_role,
            description: "medtech: applications read the database and Redis credentials",
            trust: Trust::Configured(|ctx| &ctx.settings.services.iam.secrets_reader_principals),
            permissions: Permissions::Custom(policies::secrets_reader),
            depends_on: vec![Secret::RDS, Secret::REDIS, KmsKey::NAME],
        }),
        Box::new(SnsTopic),
    ]);
    resources.extend(Metric::ALL.map(|m| Box::new(Alarm::new(m)) as Box<dyn Resource>));
    resources
}
