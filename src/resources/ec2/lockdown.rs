//! What the VPC's default network ACL and default security group share: AWS creates each with
//! the VPC and deletes it with the VPC, so medtech never makes or deletes one; it only strips
//! its rules in both directions, and reads them back as names.

use std::marker::PhantomData;

use async_trait::async_trait;
use serde_json::json;

use super::describe::{self, Described};
use super::sg_rules::Direction;
use crate::context::Ctx;
use crate::control::Control;
use crate::error::Error;
use crate::logical::Logical;
use crate::property::{Prop, Property};
use crate::resource::{Change, Observed, Properties, Resource, unchangeable};
use crate::state::Record;

/// A kind of which AWS gives every VPC a default one, and how the stack locks that one down.
pub(crate) trait Defaulted: Described {
    /// Which resource of the stack its lock-down is.
    const RESOURCE: Logical;
    /// What its lock-down waits for.
    const DEPENDS_ON: &'static [Logical];
    /// The control both directions' properties hold it to.
    const CLOSED: Control;

    /// The default one of the VPC `vpc`.
    fn default_of(ctx: &Ctx, vpc: &str)
    -> impl Future<Output = Result<Option<Self>, Error>> + Send;

    /// The names of what it lets through in `direction`.
    fn rule_names(&self, direction: Direction) -> Result<Vec<String>, Error>;

    /// Deletes all it lets through in `direction`.
    fn strip(
        &self,
        ctx: &Ctx,
        direction: Direction,
    ) -> impl Future<Output = Result<(), Error>> + Send;
}

/// The lock-down of the VPC's default `T`: the resource `T::RESOURCE`, whose properties
/// `ingress` and `egress` hold the names of what it lets through, and are wanted empty.
pub(crate) struct Lockdown<T>(PhantomData<T>);

impl<T: Defaulted> Lockdown<T> {
    const INGRESS: Prop = &Property::in_place("ingress", T::CLOSED);
    const EGRESS: Prop = &Property::in_place("egress", T::CLOSED);
    const PROPERTIES: &'static [Prop] = &[Self::INGRESS, Self::EGRESS];

    pub(crate) const fn new() -> Self {
        Self(PhantomData)
    }

    async fn describe(ctx: &Ctx) -> Result<Option<T>, Error> {
        // Without a VPC there is no default one to lock down.
        let Some(vpc) = ctx.record(Logical::Vpc) else {
            return Ok(None);
        };
        T::default_of(ctx, &vpc.id).await
    }
}

#[async_trait]
impl<T: Defaulted> Resource for Lockdown<T> {
    fn name(&self) -> Logical {
        T::RESOURCE
    }

    fn depends_on(&self) -> Vec<Logical> {
        T::DEPENDS_ON.to_vec()
    }

    fn properties(&self) -> &'static [Prop] {
        Self::PROPERTIES
    }

    async fn desired(&self, _ctx: &Ctx) -> Result<Properties, Error> {
        Ok(Properties::from([
            (Self::INGRESS, json!([])),
            (Self::EGRESS, json!([])),
        ]))
    }

    async fn read(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        let found = match describe::listed(ctx, recorded).await? {
            Some(found) => Some(found),
            None => Self::describe(ctx).await?,
        };
        let Some(found) = found else {
            return Ok(None);
        };
        Ok(Some(Observed {
            record: Record::new(describe::id_of(&found)?),
            properties: Properties::from([
                (Self::INGRESS, json!(found.rule_names(Direction::Ingress)?)),
                (Self::EGRESS, json!(found.rule_names(Direction::Egress)?)),
            ]),
        }))
    }

    /// There is nothing to create: AWS makes it with the VPC.
    async fn create(&self, _ctx: &Ctx) -> Result<Observed, Error> {
        Err(Error::resource(
            T::RESOURCE,
            format!(
                "the VPC has no default {}; AWS creates one with every VPC, so the VPC is not usable",
                T::KIND
            ),
        ))
    }

    async fn update(
        &self,
        ctx: &Ctx,
        _current: &Observed,
        changes: &[Change],
    ) -> Result<(), Error> {
        let found = Self::describe(ctx)
            .await?
            .ok_or_else(|| Error::resource(T::RESOURCE, "disappeared while being locked down"))?;
        for change in changes {
            let direction = match change.property {
                p if p == Self::INGRESS => Direction::Ingress,
                p if p == Self::EGRESS => Direction::Egress,
                _ => return Err(unchangeable(T::RESOURCE, change)),
            };
            found.strip(ctx, direction).await?;
        }
        Ok(())
    }

    async fn destroy(&self, _ctx: &Ctx, _current: &Observed) -> Result<(), Error> {
        // Deleted by AWS together with the VPC.
        Ok(())
    }
}
