//! Resources that pass through statuses by themselves for minutes on end (the RDS instance,
//! the ElastiCache replication group): their waits for `available`, for an accepted change to
//! be carried out and for the delete, declared once over the item their service describes.
//! The resources keep what differs: the describe, which status counts, what is pending, and
//! how a wanted value is seen.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::future::BoxFuture;

use crate::aws::{AwsError, ErrorKind};
use crate::context::Ctx;
use crate::error::Error;
use crate::resource::{Change, Observed, Properties, Resource};
use crate::resources::common::{found, gone};
use crate::resources::wait::{self, Pace, Poll, Waiter};
use crate::state::Record;

#[async_trait]
pub(crate) trait Settling: Resource + Sync + Sized {
    /// What the service's describe returns for the resource.
    type Item: Send + Sync;

    /// Statuses from which it becomes available without help.
    const SETTLING: &'static [&'static str];

    /// About how long AWS takes to create it, and to delete it: the grids the waits for
    /// either poll on, and the resource's `typical_seconds`.
    const USUAL_CREATE: Duration;
    const USUAL_DELETE: Duration;

    /// The describe's IAM action, as the records it makes are labelled.
    const DESCRIBE: &'static str;

    /// What state keeps of `item`, as `operation` (a describe, or the create) reported it.
    fn record(item: &Self::Item, operation: &'static str) -> Result<Record, AwsError>;

    /// How many minutes the configuration lets one of its waits run.
    fn timeout_minutes(ctx: &Ctx) -> u64;

    fn timeout(ctx: &Ctx) -> Duration {
        Duration::from_secs(Self::timeout_minutes(ctx) * 60)
    }

    /// The resource as its service describes it, `None` when it does not exist.
    async fn describe(&self, ctx: &Ctx) -> Result<Option<Self::Item>, Error>;

    /// Its status as medtech compares it (`available` for one at rest).
    fn status(item: &Self::Item) -> Option<&str>;

    /// Whether the service has yet to carry out part of an accepted modification.
    fn has_pending(item: &Self::Item) -> bool;

    /// Its status while a change is carried out: `available`, or one that becomes available by
    /// itself; any other (`failed`, `incompatible-parameters`) is an error, since waiting
    /// would not end it.
    fn settling_status<'a>(&self, item: &'a Self::Item) -> Result<&'a str, Error> {
        let status = Self::status(item).unwrap_or("missing");
        if status != "available" && !Self::SETTLING.contains(&status) {
            return Err(Error::resource(
                self.name(),
                format!("is {status}; it will not become available without help"),
            ));
        }
        Ok(status)
    }

    /// The status `wait_available` waits on: `status`, unless being `available` is not yet
    /// enough to be usable.
    fn waiting_status(item: &Self::Item) -> &str {
        Self::status(item).unwrap_or("missing")
    }

    /// Whether the `wanted` values are described already (a modification that was carried
    /// out before it was ever seen under way).
    async fn describes(
        &self,
        ctx: &Ctx,
        item: &Self::Item,
        wanted: &Properties,
    ) -> Result<bool, Error>;

    fn waiter(&self, ctx: &Ctx, goal: &'static str, pace: Pace) -> Waiter {
        Waiter {
            resource: self.name(),
            goal,
            pending: Self::SETTLING,
            target: &["available"],
            timeout: Self::timeout(ctx),
            pace,
        }
    }

    /// Records the id the creating call answered with, before the long wait for it.
    fn record_created(
        &self,
        ctx: &Ctx,
        created: Option<&Self::Item>,
        operation: &'static str,
    ) -> Result<(), Error> {
        if let Some(item) = created {
            ctx.set_record(self.name(), Self::record(item, operation)?)?;
        }
        Ok(())
    }

    /// Waits for a resource just created (or adopted) to be available, records it as
    /// described then, and reads it back.
    async fn wait_created(&self, ctx: &Ctx) -> Result<Observed, Error> {
        let item = self
            .wait_available(ctx, Pace::Steady(Self::USUAL_CREATE))
            .await?;
        ctx.set_record(self.name(), Self::record(&item, Self::DESCRIBE)?)?;
        self.read_back(ctx, None).await
    }

    /// Waits for `available`, polling as `pace` says.
    async fn wait_available(&self, ctx: &Ctx, pace: Pace) -> Result<Self::Item, Error> {
        self.waiter(ctx, "available", pace)
            .until_target(ctx, || async {
                Ok(self.describe(ctx).await?.map(|item| {
                    let status = Self::waiting_status(&item).to_owned();
                    (item, status)
                }))
            })
            .await
    }

    /// Waits until a modification the service accepted (`accepted`: its answer) has been
    /// carried out: over once the `wanted` values are described, or `wait::MODIFY_LAG` after
    /// it was sent, after which one never described is left for the engine's read-back to
    /// report.
    async fn wait_modified(
        &self,
        ctx: &Ctx,
        accepted: Option<&Self::Item>,
        wanted: &[&Change],
    ) -> Result<(), Error> {
        let wanted: &Properties = &wanted
            .iter()
            .map(|c| (c.property, c.desired.clone()))
            .collect();
        let started = Instant::now();
        let under_way = accepted
            .is_some_and(|item| Self::has_pending(item) || Self::status(item) != Some("available"));
        self.wait_carried_out(ctx, &MODIFIED, under_way, Self::has_pending, &|item| {
            Box::pin(async move {
                Ok(started.elapsed() >= ctx.scaled(wait::MODIFY_LAG)
                    || self.describes(ctx, &item, wanted).await?)
            })
        })
        .await
    }

    /// Waits until a change the service accepted has been carried out. For a while after
    /// the call (up to half a minute for RDS) it may still describe the resource `available`
    /// with the old values and nothing `pending`, so `available` alone proves nothing: the
    /// change is done once it was seen under way (`under_way` already, or another status, or
    /// the change pending) and is over, or once `over` says it is over all the same.
    async fn wait_carried_out<'o>(
        &self,
        ctx: &Ctx,
        says: &Says,
        under_way: bool,
        // Spelled higher-ranked: async_trait would tie an elided lifetime to the call's.
        pending: for<'i> fn(&'i Self::Item) -> bool,
        over: &'o Over<'o, Self::Item>,
    ) -> Result<(), Error> {
        let seen_under_way = AtomicBool::new(under_way);
        wait::paced(
            ctx,
            self.name(),
            says.goal,
            Self::timeout(ctx),
            Pace::Adaptive,
            || async {
                let item = self.describe(ctx).await?.ok_or_else(|| {
                    Error::resource(self.name(), format!("disappeared while {}", says.during))
                })?;
                let status = self.settling_status(&item)?;
                if status != "available" || pending(&item) {
                    seen_under_way.store(true, Ordering::Relaxed);
                    return Ok(Poll::Pending(if status == "available" {
                        format!("available, {}", says.pending)
                    } else {
                        status.to_owned()
                    }));
                }
                if seen_under_way.load(Ordering::Relaxed) || over(item).await? {
                    Ok(Poll::Ready(()))
                } else {
                    Ok(Poll::Pending("available, change not described yet".into()))
                }
            },
        )
        .await
    }

    /// The service deletes only a resource at rest: one busy (creating, modifying, backing
    /// up) is waited for first.
    async fn wait_unless_at_rest(&self, ctx: &Ctx, item: &Self::Item) -> Result<(), Error> {
        if Self::status(item).is_some_and(|s| Self::SETTLING.contains(&s)) {
            self.wait_available(ctx, Pace::Adaptive).await?;
        }
        Ok(())
    }

    /// Takes the delete call's answer, then waits until the delete is over. A delete refused
    /// while busy, or because one is already under way (a retry whose first answer was
    /// lost), says NotReadyYet: only the second may be waited out; the first is tried again.
    async fn wait_deleted<T: Send>(
        &self,
        ctx: &Ctx,
        deleted: Result<T, AwsError>,
    ) -> Result<(), Error> {
        match deleted {
            Err(e) if e.is(ErrorKind::NotReadyYet) => {
                let now = self.describe(ctx).await?;
                if now
                    .as_ref()
                    .and_then(Self::status)
                    .is_some_and(|s| s != "deleting")
                {
                    return Err(e.into());
                }
            }
            other => gone(other)?,
        }
        self.wait_gone(ctx).await
    }

    /// Waits until the delete is over.
    async fn wait_gone(&self, ctx: &Ctx) -> Result<(), Error> {
        self.waiter(ctx, "deleted", Pace::Steady(Self::USUAL_DELETE))
            .until_gone(ctx, || async {
                let item = self.describe(ctx).await?;
                Ok(item.map(|item| Self::status(&item).unwrap_or("deleting").to_owned()))
            })
            .await
    }
}

/// What the wait for an accepted change says: what it is for, what went on should the
/// resource disappear meanwhile, and what is pending while it is `available`.
pub(crate) struct Says {
    pub(crate) goal: &'static str,
    pub(crate) during: &'static str,
    pub(crate) pending: &'static str,
}

const MODIFIED: Says = Says {
    goal: "modified",
    during: "it was being modified",
    pending: "changes pending",
};

/// Whether an accepted change never seen under way is over all the same, given the item as
/// described.
pub(crate) type Over<'f, I> = dyn Fn(I) -> BoxFuture<'f, Result<bool, Error>> + Sync + 'f;

/// The one item a describe by name answers with; `None` when the service knows no such name.
pub(crate) fn first_found<O, T: Clone>(
    answer: Result<O, AwsError>,
    items: fn(&O) -> &[T],
) -> Result<Option<T>, Error> {
    Ok(found(answer)?.and_then(|out| items(&out).first().cloned()))
}
