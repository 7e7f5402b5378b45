//! What the VPC's default network ACL and default security group share: AWS creates each with
//! the VPC and deletes it with the VPC, so medtech never makes or deletes one; it only strips
//! its rules in both directions, and reads them back as names.

use std::marker::PhantomData;

use serde_json::json;

use super::describe::{self, Described};
use super::sg_rules::Direction;
use crate::context::Ctx;
use crate::error::Error;
use crate::logical::Logical;
use crate::property::Prop;
use crate::resource::{Change, Observed, Properties, unchangeable};
use crate::state::Record;

/// A kind of which AWS gives every VPC a default one.
pub(crate) trait Defaulted: Described {
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

/// The lock-down of the VPC's default `T`: `resource`, whose properties `ingress` and `egress`
/// hold the names of what it lets through, and are wanted empty.
pub(crate) struct Lockdown<T> {
    pub(crate) resource: Logical,
    pub(crate) ingress: Prop,
    pub(crate) egress: Prop,
    pub(crate) kind: PhantomData<T>,
}

impl<T: Defaulted> Lockdown<T> {
    pub(crate) fn desired(&self) -> Properties {
        Properties::from([(self.ingress, json!([])), (self.egress, json!([]))])
    }

    async fn describe(ctx: &Ctx) -> Result<Option<T>, Error> {
        // Without a VPC there is no default one to lock down.
        let Some(vpc) = ctx.record(Logical::Vpc) else {
            return Ok(None);
        };
        T::default_of(ctx, &vpc.id).await
    }

    pub(crate) async fn read(
        &self,
        ctx: &Ctx,
        recorded: Option<&Record>,
    ) -> Result<Option<Observed>, Error> {
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
                (self.ingress, json!(found.rule_names(Direction::Ingress)?)),
                (self.egress, json!(found.rule_names(Direction::Egress)?)),
            ]),
        }))
    }

    /// The error of a `create`: there is nothing to create, AWS makes it with the VPC.
    pub(crate) fn missing(&self) -> Error {
        Error::resource(
            self.resource,
            format!(
                "the VPC has no default {}; AWS creates one with every VPC, so the VPC is not usable",
                T::KIND
            ),
        )
    }

    pub(crate) async fn update(&self, ctx: &Ctx, changes: &[Change]) -> Result<(), Error> {
        let found = Self::describe(ctx)
            .await?
            .ok_or_else(|| Error::resource(self.resource, "disappeared while being locked down"))?;
        for change in changes {
            let direction = match change.property {
                p if p == self.ingress => Direction::Ingress,
                p if p == self.egress => Direction::Egress,
                _ => return Err(unchangeable(self.resource, change)),
            };
            found.strip(ctx, direction).await?;
        }
        Ok(())
    }
}
