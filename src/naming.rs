//! Every AWS name medtech uses, derived from the environment name in one place, so that the
//! limits in `shared/STACK.md` (the tightest: 40 characters for an ElastiCache replication
//! group id) are checked once, before any AWS call.

use std::fmt;

use crate::logical::{Holds, Purpose, Tier, Zone};

/// Longest environment name: `medtech-redis-` + 20 characters stays well inside every limit.
pub(crate) const MAX_ENV_LEN: usize = 20;

/// A validated environment name (`^[a-z][a-z0-9-]{0,19}$`, no `--`, no trailing `-`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct EnvName(String);

impl EnvName {
    /// Validates `raw`; the error says what is wrong in words a user can act on.
    pub(crate) fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() {
            return Err("is empty; pass a name such as dev or staging".into());
        }
        if raw.len() > MAX_ENV_LEN {
            return Err(format!(
                "is {} characters long; use at most {MAX_ENV_LEN} (derived AWS names have length limits)",
                raw.len()
            ));
        }
        if !raw.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err("must start with a lowercase letter a-z".into());
        }
        if let Some(bad) = raw
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(format!(
                "contains {bad:?}; use only lowercase letters, digits and single hyphens"
            ));
        }
        if raw.contains("--") {
            return Err("contains \"--\"; use single hyphens".into());
        }
        if raw.ends_with('-') {
            return Err("ends with '-'; end it with a letter or digit".into());
        }
        Ok(Self(raw.to_owned()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EnvName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Deterministic names of the stack's resources for one environment.
#[derive(Clone, Debug)]
pub(crate) struct Names {
    env: EnvName,
}

impl Names {
    pub(crate) fn new(env: EnvName) -> Self {
        Self { env }
    }

    pub(crate) fn env(&self) -> &EnvName {
        &self.env
    }

    /// `medtech-<part>-<env>`, the shape of almost every name in STACK.md.
    pub(crate) fn resource(&self, part: &str) -> String {
        format!("medtech-{part}-{}", self.env)
    }

    pub(crate) fn vpc(&self) -> String {
        self.resource("vpc")
    }
    pub(crate) fn igw(&self) -> String {
        self.resource("igw")
    }
    pub(crate) fn nat(&self) -> String {
        self.resource("nat")
    }
    pub(crate) fn nat_eip(&self) -> String {
        self.resource("nat-eip")
    }
    /// `medtech-public-a-E`: the tier, then the zone's letter.
    pub(crate) fn subnet(&self, tier: Tier, zone: Zone) -> String {
        self.tiered(tier, zone.letter())
    }
    pub(crate) fn route_table(&self, tier: Tier) -> String {
        self.tiered(tier, "rt")
    }
    pub(crate) fn network_acl(&self, tier: Tier) -> String {
        self.tiered(tier, "nacl")
    }
    /// `medtech-<tier>-<part>-<env>`, the shape of the names of the network's two sides.
    fn tiered(&self, tier: Tier, part: impl fmt::Display) -> String {
        let tier = match tier {
            Tier::Public => "public",
            Tier::Private => "private",
        };
        self.resource(&format!("{tier}-{part}"))
    }
    pub(crate) fn rds_security_group(&self) -> String {
        self.resource("rds-sg")
    }
    pub(crate) fn redis_security_group(&self) -> String {
        self.resource("redis-sg")
    }
    pub(crate) fn redis_replication_group(&self) -> String {
        self.resource("redis")
    }
    pub(crate) fn endpoints_security_group(&self) -> String {
        self.resource("endpoints-sg")
    }
    pub(crate) fn endpoint(&self, service: &str) -> String {
        self.resource(&format!("{service}-endpoint"))
    }
    pub(crate) fn kms_alias(&self) -> String {
        format!("alias/medtech-{}", self.env)
    }
    pub(crate) fn kms_key(&self) -> String {
        self.resource("kms")
    }
    /// `/medtech/E/audit`, `/medtech/E/vpc-flow`, and where RDS puts the logs it exports
    /// (`/aws/rds/instance/medtech-rds-E/postgresql`): those names are RDS's, not ours.
    pub(crate) fn log_group(&self, purpose: Purpose) -> String {
        let last = match purpose {
            Purpose::Audit => "audit",
            Purpose::FlowLogs => "vpc-flow",
            Purpose::RdsPostgresql => "postgresql",
            Purpose::RdsUpgrade => "upgrade",
        };
        format!("{}{last}", self.log_group_prefix(purpose))
    }
    /// The prefix the log group shares with its siblings: `/medtech/E/` for the stack's own,
    /// the instance's under `/aws/rds/` for those RDS exports to.
    pub(crate) fn log_group_prefix(&self, purpose: Purpose) -> String {
        match purpose {
            Purpose::Audit | Purpose::FlowLogs => format!("/medtech/{}/", self.env),
            Purpose::RdsPostgresql | Purpose::RdsUpgrade => self.rds_log_prefix(),
        }
    }
    pub(crate) fn rds_log_prefix(&self) -> String {
        format!("/aws/rds/instance/{}/", self.rds_instance())
    }
    pub(crate) fn flow_logs_role(&self) -> String {
        self.resource("flow-logs")
    }
    pub(crate) fn flow_log(&self) -> String {
        self.resource("flow-log")
    }
    pub(crate) fn kinesis_stream(&self) -> String {
        self.resource("kinesis")
    }
    pub(crate) fn secret(&self, holds: Holds) -> String {
        self.resource(match holds {
            Holds::RdsCredentials => "rds-credentials",
            Holds::RedisAuthToken => "redis-credentials",
        })
    }
    pub(crate) fn db_parameter_group(&self) -> String {
        self.resource("pg")
    }
    pub(crate) fn db_subnet_group(&self) -> String {
        self.resource("db-subnets")
    }
    pub(crate) fn rds_instance(&self) -> String {
        self.resource("rds")
    }
    pub(crate) fn rds_monitoring_role(&self) -> String {
        self.resource("rds-monitoring")
    }
    /// `medtech-rds-E-final-20261123T021700`: unique per destroy, sortable.
    pub(crate) fn rds_final_snapshot(&self, at: chrono::DateTime<chrono::Utc>) -> String {
        format!(
            "{}-final-{}",
            self.rds_instance(),
            at.format("%Y%m%dT%H%M%S")
        )
    }
    pub(crate) fn cache_subnet_group(&self) -> String {
        self.resource("redis-subnets")
    }
    pub(crate) fn kinesis_producer_role(&self) -> String {
        self.resource("kinesis-producer")
    }
    pub(crate) fn secrets_reader_role(&self) -> String {
        self.resource("secrets-reader")
    }
    pub(crate) fn backup_role(&self) -> String {
        self.resource("backup")
    }
    /// `medtech-E`: the vault and the plan are the environment's only ones.
    pub(crate) fn backup_vault(&self) -> String {
        format!("medtech-{}", self.env)
    }
    pub(crate) fn backup_plan(&self) -> String {
        format!("medtech-{}", self.env)
    }
    /// Named after what it selects: the RDS instance.
    pub(crate) fn backup_selection(&self) -> String {
        self.rds_instance()
    }
    pub(crate) fn alarm_topic(&self) -> String {
        self.resource("alarms")
    }
    pub(crate) fn alarm(&self, metric: &str) -> String {
        self.resource(metric)
    }
    /// `medtech-rds-events-E` and its siblings: `events` is the subscription's logical name.
    pub(crate) fn rds_event_subscription(&self, events: &str) -> String {
        self.resource(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_names_from_the_contract() {
        for ok in ["dev", "a", "prod-eu-1", "x1234567890123456789"] {
            assert!(EnvName::parse(ok).is_ok(), "{ok} should be valid");
        }
    }

    #[test]
    fn rejects_names_outside_the_contract() {
        for bad in [
            "",
            "Dev",
            "1dev",
            "-dev",
            "dev-",
            "de--v",
            "dev_1",
            "dev.1",
            "x12345678901234567890",
        ] {
            assert!(EnvName::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn longest_env_fits_the_tightest_aws_limit() {
        let env = EnvName::parse(&"a".repeat(MAX_ENV_LEN)).unwrap();
        let names = Names::new(env);
        // ElastiCache replication group ids: at most 40 characters.
        assert!(names.redis_replication_group().len() <= 40);
        // RDS instance ids: 63; final snapshot ids: 255, letters, digits and hyphens only.
        assert!(names.rds_instance().len() <= 63);
        let snapshot = names.rds_final_snapshot(chrono::Utc::now());
        assert!(
            snapshot.len() <= 255
                && snapshot
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
        );
        // IAM role names: 64.
        assert!(names.kinesis_producer_role().len() <= 64);
        // Backup vault, plan and selection names: 50.
        assert!(names.backup_vault().len() <= 50 && names.backup_selection().len() <= 50);
        // ElastiCache subnet group names: 255; KMS aliases: 256.
        assert!(names.cache_subnet_group().len() <= 255);
        assert_eq!(
            names.subnet(Tier::Public, Zone::B),
            format!("medtech-public-b-{}", "a".repeat(20))
        );
    }

    /// Existing environments are found by these names: a name that changed would orphan them.
    #[test]
    fn names_by_tier_purpose_and_contents_are_the_ones_environments_have() {
        let names = Names::new(EnvName::parse("dev").unwrap());
        let by_tier = Tier::ALL.map(|tier| {
            let [a, b] = Zone::ALL.map(|zone| names.subnet(tier, zone));
            [a, b, names.route_table(tier), names.network_acl(tier)]
        });
        assert_eq!(
            by_tier,
            [
                [
                    "medtech-public-a-dev",
                    "medtech-public-b-dev",
                    "medtech-public-rt-dev",
                    "medtech-public-nacl-dev",
                ],
                [
                    "medtech-private-a-dev",
                    "medtech-private-b-dev",
                    "medtech-private-rt-dev",
                    "medtech-private-nacl-dev",
                ],
            ]
        );
        assert_eq!(
            Purpose::ALL.map(|purpose| names.log_group(purpose)),
            [
                "/medtech/dev/audit",
                "/medtech/dev/vpc-flow",
                "/aws/rds/instance/medtech-rds-dev/postgresql",
                "/aws/rds/instance/medtech-rds-dev/upgrade",
            ]
        );
        assert_eq!(
            Purpose::ALL.map(|purpose| names.log_group_prefix(purpose)),
            [
                "/medtech/dev/",
                "/medtech/dev/",
                "/aws/rds/instance/medtech-rds-dev/",
                "/aws/rds/instance/medtech-rds-dev/",
            ]
        );
        assert_eq!(
            Holds::ALL.map(|holds| names.secret(holds)),
            [
                "medtech-rds-credentials-dev",
                "medtech-redis-credentials-dev"
            ]
        );
    }
}
