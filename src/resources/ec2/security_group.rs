//! medtech's own security groups: PostgreSQL (`rds.port`, 5432 by default), Redis (6379) and
//! the interface endpoints (443), each reachable only over TCP on its port from inside the VPC,
//! with no egress rules (neither service opens outbound connections; replies to allowed inbound
//! traffic are stateful).

use async_trait::async_trait;
use aws_sdk_ec2::types::SecurityGroup as SdkGroup;
use serde_json::json;

use super::api::{self, filter, tags_value};
use super::delete::delete;
use super::describe::{self, Described};
use super::sg_rules::{self, Direction, rule_names, tcp_from};
use crate::aws::{AwsError, AwsResultExt, ErrorKind};
use crate::context::Ctx;
use crate::control::{ACCESS, Severity, control};
use crate::error::Error;
use crate::logical::{Guards, Logical};
use crate::property::{Prop, Property, TAGS};
use crate::resource::{Change, Observed, Properties, Resource};
use crate::resources::common::desired_tags;
use crate::state::Record;

pub(crate) struct SecurityGroup {
    service: Guards,
}

static VPC_ID: Property = api::in_stack_vpc("Security group in the stack's VPC");
static INGRESS: Property = Property::in_place(
    "ingress",
    control(
        "Only the service port, only from inside the VPC",
        Severity::Critical,
        ACCESS,
        "run `medtech up` to revoke extra rules",
        Some("ec2_securitygroup_allow_ingress_from_internet_to_any_port"),
        Some("RESTRICTED_INCOMING_TRAFFIC"),
    ),
);
static EGRESS: Property = Property::in_place(
    "egress",
    control(
        "No egress rules on data-tier groups",
        Severity::Medium,
        ACCESS,
        "run `medtech up` to revoke them",
        None,
        None,
    ),
);

impl SecurityGroup {
    pub(crate) fn new(service: Guards) -> Self {
        Self { service }
    }

    fn port(&self, ctx: &Ctx) -> u16 {
        match self.service {
            Guards::Postgres => ctx.settings.services.rds.port,
            Guards::Redis => 6379,
            Guards::Endpoints => 443,
        }
    }

    fn aws_name(&self, ctx: &Ctx) -> String {
        match self.service {
            Guards::Postgres => ctx.names().rds_security_group(),
            Guards::Redis => ctx.names().redis_security_group(),
            Guards::Endpoints => ctx.names().endpoints_security_group(),
        }
    }

    fn description(&self) -> &'static str {
        match self.service {
            Guards::Postgres => "medtech: PostgreSQL from inside the VPC only",
            Guards::Redis => "medtech: Redis from inside the VPC only",
            Guards::Endpoints => "medtech: HTTPS to the VPC endpoints from inside the VPC only",
        }
    }

    fn ingress(&self, ctx: &Ctx) -> Vec<(u16, String)> {
        vec![(self.port(ctx), ctx.settings.network.vpc_cidr.to_string())]
    }

    fn observe(group: &SdkGroup) -> Result<Observed, AwsError> {
        Ok(Observed {
            record: Record::new(describe::id_of(group)?),
            properties: Properties::from([
                (&VPC_ID, json!(group.vpc_id())),
                (&INGRESS, json!(rule_names(group, Direction::Ingress)?)),
                (&EGRESS, json!(rule_names(group, Direction::Egress)?)),
                (&TAGS, tags_value(group.tags())),
            ]),
        })
    }

    async fn describe(&self, ctx: &Ctx, id: &str) -> Result<SdkGroup, Error> {
        let groups = SdkGroup::call(ctx, Some(vec![id.to_owned()]), None).await?;
        groups
            .into_iter()
            .next()
            .ok_or_else(|| Error::resource(self.name(), format!("{id} not found")))
    }

    /// The rules the group must have in `direction`: its service's port from the VPC in, and
    /// nothing out.
    fn rules(&self, ctx: &Ctx, direction: Direction) -> Vec<(u16, String)> {
        match direction {
            Direction::Ingress => self.ingress(ctx),
            Direction::Egress => vec![],
        }
    }

    async fn converge_rules(&self, ctx: &Ctx, id: &str, direction: Direction) -> Result<(), Error> {
        let group = self.describe(ctx, id).await?;
        sg_rules::converge(ctx, &group, direction, &self.rules(ctx, direction)).await
    }
}

#[async_trait]
impl Resource for SecurityGroup {
    fn name(&self) -> Logical {
        Logical::SecurityGroup(self.service)
    }

    fn depends_on(&self) -> Vec<Logical> {
        vec![Logical::Vpc]
    }

    fn properties(&self) -> &'static [Prop] {
        const { &[&VPC_ID, &INGRESS, &EGRESS, &TAGS] }
    }

    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error> {
        let ingress: Vec<String> = self
            .ingress(ctx)
            .iter()
            .map(|(p, c)| tcp_from(*p, c))
            .collect();
        Ok(Properties::from([
            (&VPC_ID, json!(ctx.id_of(Logical::Vpc)?)),
            (&INGRESS, json!(ingress)),
            (&EGRESS, json!([])),
            (&TAGS, desired_tags(ctx, &self.aws_name(ctx))),
        ]))
    }

    async fn read(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        let name = self.aws_name(ctx);
        describe::read(ctx, self.name(), recorded, &name, Self::observe).await
    }

    async fn create(&self, ctx: &Ctx) -> Result<Observed, Error> {
        let vpc = ctx.id_of(Logical::Vpc)?;
        let name = self.aws_name(ctx);
        let call = ctx.clients.ec2.create_security_group().group_name(&name);
        let call = call.description(self.description()).vpc_id(&vpc);
        let created = api::create_once(ctx, call, &name)
            .await
            .op("ec2:CreateSecurityGroup");
        let out = match created {
            Ok(out) => out,
            // Group names are unique per VPC: one without our tags (a tag call lost, a copy
            // made by hand) is not silently adopted.
            Err(e) if e.is(ErrorKind::AlreadyExists) => {
                let filters = vec![filter("vpc-id", &vpc), filter("group-name", &name)];
                let same_name: Vec<SdkGroup> = describe::filtered(ctx, filters).await?;
                let existing = same_name
                    .first()
                    .and_then(SdkGroup::group_id)
                    .unwrap_or("?");
                return Err(Error::resource(
                    self.name(),
                    format!(
                        "a security group named {name} ({existing}) already exists in the VPC without medtech's tags; tag it Environment={} and Project=medtech to adopt it, or delete it",
                        ctx.settings.env()
                    ),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        let operation = "ec2:CreateSecurityGroup";
        let record = api::record_created(ctx, self.name(), operation, out.group_id(), "group id")?;
        let id = &record.id;
        // One look at the new group, then its ingress and its (default allow-all) egress side by
        // side: RDS and ElastiCache wait for their groups.
        let group = self.describe(ctx, id).await?;
        let (ingress, egress) = (
            self.rules(ctx, Direction::Ingress),
            self.rules(ctx, Direction::Egress),
        );
        tokio::try_join!(
            sg_rules::converge(ctx, &group, Direction::Ingress, &ingress),
            sg_rules::converge(ctx, &group, Direction::Egress, &egress),
        )?;
        self.read_back(ctx, Some(&record)).await
    }

    async fn update(&self, ctx: &Ctx, current: &Observed, changes: &[Change]) -> Result<(), Error> {
        let (id, name) = (&current.record.id, self.aws_name(ctx));
        for change in changes {
            match change.property {
                p if p == &INGRESS => self.converge_rules(ctx, id, Direction::Ingress).await?,
                p if p == &EGRESS => self.converge_rules(ctx, id, Direction::Egress).await?,
                _ => api::retag_or_refuse(ctx, self.name(), id, &name, change).await?,
            }
        }
        Ok(())
    }

    async fn destroy(&self, ctx: &Ctx, current: &Observed) -> Result<(), Error> {
        // DependencyViolation while RDS/ElastiCache network interfaces linger: the engine
        // retries with backoff.
        delete::<SdkGroup>(ctx, &current.record.id).await
    }
}
