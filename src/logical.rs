//! The stack's logical names: one value per resource, checked by the compiler wherever a
//! resource names another (dependencies, look-ups of a dependency's id, outputs, policies).
//! The spelling (`as_str`) is the key in state, in plan and in check ids, so it never changes.

use std::fmt;

/// Which side of the network a subnet or route table serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Tier {
    Public,
    Private,
}

impl Tier {
    /// In report order.
    pub(crate) const ALL: [Tier; 2] = [Tier::Public, Tier::Private];
}

/// The two availability zones the stack spans, in the order the region reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Zone {
    A,
    B,
}

impl Zone {
    pub(crate) const ALL: [Zone; 2] = [Zone::A, Zone::B];

    pub(crate) fn letter(self) -> char {
        match self {
            Zone::A => 'a',
            Zone::B => 'b',
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Zone::A => 0,
            Zone::B => 1,
        }
    }
}

/// What a security group guards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Guards {
    Postgres,
    Redis,
    /// The interface VPC endpoints: HTTPS from inside the VPC.
    Endpoints,
}

/// The AWS service a VPC endpoint reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Endpoint {
    SecretsManager,
    Kinesis,
    S3,
}

/// What a log group receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Purpose {
    Audit,
    FlowLogs,
    RdsPostgresql,
    RdsUpgrade,
}

impl Purpose {
    pub(crate) const ALL: [Purpose; 4] = [
        Purpose::Audit,
        Purpose::FlowLogs,
        Purpose::RdsPostgresql,
        Purpose::RdsUpgrade,
    ];
}

/// What a secret holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Holds {
    RdsCredentials,
    RedisAuthToken,
}

impl Holds {
    pub(crate) const ALL: [Holds; 2] = [Holds::RdsCredentials, Holds::RedisAuthToken];
}

/// Who an IAM role is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum RoleFor {
    FlowLogs,
    RdsMonitoring,
    KinesisProducer,
    SecretsReader,
    /// AWS Backup, backing up the RDS instance into the vault.
    Backup,
}

impl RoleFor {
    pub(crate) const ALL: [RoleFor; 5] = [
        RoleFor::FlowLogs,
        RoleFor::RdsMonitoring,
        RoleFor::KinesisProducer,
        RoleFor::SecretsReader,
        RoleFor::Backup,
    ];
}

/// Which RDS events an event subscription sends to the alarm topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum RdsEvents {
    /// The instance's failures, maintenance and configuration changes.
    Critical,
    /// The instance's failovers and low storage.
    Availability,
    /// Changes to its parameter group.
    ParameterGroup,
    /// Changes to and failures of (legacy) DB security groups.
    SecurityGroups,
}

impl RdsEvents {
    pub(crate) const ALL: [RdsEvents; 4] = [
        RdsEvents::Critical,
        RdsEvents::Availability,
        RdsEvents::ParameterGroup,
        RdsEvents::SecurityGroups,
    ];
}

/// What an alarm watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Metric {
    KinesisIteratorAge,
    KinesisWriteThrottled,
    RdsCpu,
    RdsFreeStorage,
    RedisCpu,
    RedisReplicationLag,
}

impl Metric {
    pub(crate) const ALL: [Metric; 6] = [
        Metric::KinesisIteratorAge,
        Metric::KinesisWriteThrottled,
        Metric::RdsCpu,
        Metric::RdsFreeStorage,
        Metric::RedisCpu,
        Metric::RedisReplicationLag,
    ];

    /// The `<metric>` of the alarm's AWS name `medtech-<metric>-E`.
    pub(crate) fn slug(self) -> &'static str {
        match self {
            Metric::KinesisIteratorAge => "kinesis-iterator-age",
            Metric::KinesisWriteThrottled => "kinesis-write-throttled",
            Metric::RdsCpu => "rds-cpu",
            Metric::RdsFreeStorage => "rds-free-storage",
            Metric::RedisCpu => "redis-cpu",
            Metric::RedisReplicationLag => "redis-replication-lag",
        }
    }
}

/// One resource of the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Logical {
    Vpc,
    DefaultSecurityGroup,
    Subnet(Tier, Zone),
    InternetGateway,
    NatEip,
    NatGateway,
    RouteTable(Tier),
    NetworkAcl(Tier),
    DefaultNetworkAcl,
    SecurityGroup(Guards),
    VpcEndpoint(Endpoint),
    KmsKey,
    LogGroup(Purpose),
    Role(RoleFor),
    FlowLog,
    KinesisStream,
    Secret(Holds),
    DbParameterGroup,
    DbSubnetGroup,
    RdsInstance,
    RdsSecretEndpoint,
    RdsEventSubscription(RdsEvents),
    BackupVault,
    BackupPlan,
    BackupSelection,
    CacheSubnetGroup,
    ReplicationGroup,
    AlarmTopic,
    Alarm(Metric),
}

impl Logical {
    /// The subnets of `tier`, one per zone.
    pub(crate) fn subnets(tier: Tier) -> [Logical; 2] {
        Zone::ALL.map(|zone| Logical::Subnet(tier, zone))
    }

    /// The name in state, plan, reports and check ids.
    pub(crate) fn as_str(self) -> &'static str {
        use Logical::*;
        match self {
            Vpc => "vpc",
            DefaultSecurityGroup => "default-sg",
            Subnet(Tier::Public, Zone::A) => "public-subnet-a",
            Subnet(Tier::Public, Zone::B) => "public-subnet-b",
            Subnet(Tier::Private, Zone::A) => "private-subnet-a",
            Subnet(Tier::Private, Zone::B) => "private-subnet-b",
            InternetGateway => "igw",
            NatEip => "nat-eip",
            NatGateway => "nat",
            RouteTable(Tier::Public) => "public-rt",
            RouteTable(Tier::Private) => "private-rt",
            NetworkAcl(Tier::Public) => "public-nacl",
            NetworkAcl(Tier::Private) => "private-nacl",
            DefaultNetworkAcl => "default-nacl",
            SecurityGroup(Guards::Postgres) => "rds-sg",
            SecurityGroup(Guards::Redis) => "redis-sg",
            SecurityGroup(Guards::Endpoints) => "endpoints-sg",
            VpcEndpoint(Endpoint::SecretsManager) => "secretsmanager-endpoint",
            VpcEndpoint(Endpoint::Kinesis) => "kinesis-endpoint",
            VpcEndpoint(Endpoint::S3) => "s3-endpoint",
            KmsKey => "kms",
            LogGroup(Purpose::Audit) => "audit-logs",
            LogGroup(Purpose::FlowLogs) => "flow-logs-group",
            LogGroup(Purpose::RdsPostgresql) => "rds-postgresql-logs",
            LogGroup(Purpose::RdsUpgrade) => "rds-upgrade-logs",
            Role(RoleFor::FlowLogs) => "flow-logs-role",
            Role(RoleFor::RdsMonitoring) => "rds-monitoring-role",
            Role(RoleFor::KinesisProducer) => "kinesis-producer-role",
            Role(RoleFor::SecretsReader) => "secrets-reader-role",
            Role(RoleFor::Backup) => "backup-role",
            FlowLog => "flow-logs",
            KinesisStream => "kinesis",
            Secret(Holds::RdsCredentials) => "rds-secret",
            Secret(Holds::RedisAuthToken) => "redis-secret",
            DbParameterGroup => "rds-params",
            DbSubnetGroup => "db-subnets",
            RdsInstance => "rds",
            RdsSecretEndpoint => "rds-secret-endpoint",
            RdsEventSubscription(RdsEvents::Critical) => "rds-events",
            RdsEventSubscription(RdsEvents::Availability) => "rds-availability-events",
            RdsEventSubscription(RdsEvents::ParameterGroup) => "rds-params-events",
            RdsEventSubscription(RdsEvents::SecurityGroups) => "rds-sg-events",
            BackupVault => "backup-vault",
            BackupPlan => "backup-plan",
            BackupSelection => "backup-selection",
            CacheSubnetGroup => "redis-subnets",
            ReplicationGroup => "redis",
            AlarmTopic => "alarm-topic",
            Alarm(Metric::KinesisIteratorAge) => "alarm-kinesis-iterator-age",
            Alarm(Metric::KinesisWriteThrottled) => "alarm-kinesis-write-throttled",
            Alarm(Metric::RdsCpu) => "alarm-rds-cpu",
            Alarm(Metric::RdsFreeStorage) => "alarm-rds-free-storage",
            Alarm(Metric::RedisCpu) => "alarm-redis-cpu",
            Alarm(Metric::RedisReplicationLag) => "alarm-redis-replication-lag",
        }
    }
}

impl Logical {
    /// The kind of resource it is, for reports and plan lines: `vpc`, `subnet`, `nat_gateway`.
    pub(crate) fn kind(self) -> &'static str {
        use Logical::*;
        match self {
            Vpc => "vpc",
            DefaultSecurityGroup => "default_security_group",
            Subnet(..) => "subnet",
            InternetGateway => "internet_gateway",
            NatEip => "elastic_ip",
            NatGateway => "nat_gateway",
            RouteTable(_) => "route_table",
            NetworkAcl(_) => "network_acl",
            DefaultNetworkAcl => "default_network_acl",
            SecurityGroup(_) => "security_group",
            VpcEndpoint(_) => "vpc_endpoint",
            KmsKey => "kms_key",
            LogGroup(_) => "log_group",
            Role(_) => "iam_role",
            FlowLog => "flow_log",
            KinesisStream => "kinesis_stream",
            Secret(_) => "secret",
            DbParameterGroup => "db_parameter_group",
            DbSubnetGroup => "db_subnet_group",
            RdsInstance => "rds_instance",
            RdsSecretEndpoint => "secret_endpoint",
            RdsEventSubscription(_) => "rds_event_subscription",
            BackupVault => "backup_vault",
            BackupPlan => "backup_plan",
            BackupSelection => "backup_selection",
            CacheSubnetGroup => "cache_subnet_group",
            ReplicationGroup => "elasticache_replication_group",
            AlarmTopic => "sns_topic",
            Alarm(_) => "cloudwatch_alarm",
        }
    }
}

impl serde::Serialize for Logical {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl fmt::Display for Logical {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_alarm_is_named_after_its_metric() {
        for metric in Metric::ALL {
            assert_eq!(
                Logical::Alarm(metric).as_str(),
                format!("alarm-{}", metric.slug())
            );
        }
    }
}
