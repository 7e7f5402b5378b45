//! A subnet group of the two private subnets, as RDS and ElastiCache each keep one for the
//! database and the cache: the same resource against two APIs. Each service says how its
//! calls are made (`PrivateSubnetGroup`); what is desired, read, created, repaired and deleted
//! is said once here.

use async_trait::async_trait;
use serde_json::json;

use crate::aws::{AwsError, ErrorKind};
use crate::context::Ctx;
use crate::control::{ACCESS, Severity, control};
use crate::error::Error;
use crate::logical::{Logical, Tier};
use crate::property::{Prop, Property, TAGS};
use crate::resource::{Change, Observed, Properties, Resource, unchangeable};
use crate::resources::common::tags_by_arn::TagsByArn;
use crate::resources::common::{desired_tags, found, gone, sorted_ids};
use crate::state::Record;

/// The same property, and control, for the database's and the cache's group.
static SUBNET_IDS: Property = Property::in_place(
    "subnet_ids",
    control(
        "Data tier only in the private subnets",
        Severity::High,
        ACCESS,
        "run `medtech up`",
        Some("elasticache_cluster_uses_public_subnet"),
        None,
    ),
);

/// A group as its service describes it.
pub(crate) struct Described {
    pub arn: String,
    pub subnet_ids: Vec<String>,
}

/// One service's calls for its subnet group, by the group's name.
#[async_trait]
pub(crate) trait PrivateSubnetGroup: Send + Sync {
    const LOGICAL: Logical;

    /// The service's tag calls.
    type Tags: TagsByArn;

    fn group_name(ctx: &Ctx) -> String;

    /// The ARN the group has, where the service's ARNs follow from the name alone: a group
    /// that should exist (recorded, or just created) then has its tags read alongside its
    /// description, and its create's read-back waits for that read.
    fn arn_of_name(ctx: &Ctx, name: &str) -> Option<String>;

    async fn describe(ctx: &Ctx, name: &str) -> Result<Option<Described>, AwsError>;
    async fn create(
        ctx: &Ctx,
        name: &str,
        description: String,
        subnet_ids: Vec<String>,
    ) -> Result<(), AwsError>;
    async fn modify(ctx: &Ctx, name: &str, subnet_ids: Vec<String>) -> Result<(), AwsError>;
    /// Refused until what uses the group is fully gone: the engine retries.
    async fn delete(ctx: &Ctx, name: &str) -> Result<(), AwsError>;
}

fn private_subnets(ctx: &Ctx) -> Result<Vec<String>, Error> {
    sorted_ids(ctx, &Logical::subnets(Tier::Private))
}

#[async_trait]
impl<G: PrivateSubnetGroup> Resource for G {
    fn name(&self) -> Logical {
        G::LOGICAL
    }

    fn depends_on(&self) -> Vec<Logical> {
        Logical::subnets(Tier::Private).to_vec()
    }

    fn properties(&self) -> &'static [Prop] {
        const { &[&SUBNET_IDS, &TAGS] }
    }

    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error> {
        Ok(Properties::from([
            (&SUBNET_IDS, json!(private_subnets(ctx)?)),
            (&TAGS, desired_tags(ctx, &G::group_name(ctx))),
        ]))
    }

    async fn read(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        let name = G::group_name(ctx);
        let (described, tags) = match recorded.and(G::arn_of_name(ctx, &name)) {
            Some(arn) => {
                let (d, t) =
                    tokio::join!(G::describe(ctx, &name), G::Tags::read(ctx, recorded, &arn));
                (d, Some(t))
            }
            None => (G::describe(ctx, &name).await, None),
        };
        let Some(mut group) = found(described)?.flatten() else {
            return Ok(None);
        };
        group.subnet_ids.sort();
        let tags = match tags {
            Some(tags) => tags?,
            None => G::Tags::read(ctx, recorded, &group.arn).await?,
        };
        Ok(Some(Observed {
            record: Record::new(&name).with("arn", &group.arn),
            properties: Properties::from([(&SUBNET_IDS, json!(group.subnet_ids)), (&TAGS, tags)]),
        }))
    }

    async fn create(&self, ctx: &Ctx) -> Result<Observed, Error> {
        let name = G::group_name(ctx);
        let description = format!("medtech {}: private subnets", ctx.settings.env());
        match G::create(ctx, &name, description, private_subnets(ctx)?).await {
            Err(e) if e.is(ErrorKind::AlreadyExists) => {}
            other => other?,
        }
        let adopted = G::arn_of_name(ctx, &name).map(|_| Record::new(&name));
        self.read_back(ctx, adopted.as_ref()).await
    }

    async fn update(&self, ctx: &Ctx, current: &Observed, changes: &[Change]) -> Result<(), Error> {
        let name = G::group_name(ctx);
        for change in changes {
            match change.property {
                p if p == &SUBNET_IDS => G::modify(ctx, &name, private_subnets(ctx)?).await?,
                p if p == &TAGS => {
                    G::Tags::rewrite(ctx, self.name(), &current.record, &name).await?
                }
                _ => return Err(unchangeable(self.name(), change)),
            }
        }
        Ok(())
    }

    async fn destroy(&self, ctx: &Ctx, _: &Observed) -> Result<(), Error> {
        gone(G::delete(ctx, &G::group_name(ctx)).await)
    }
}
