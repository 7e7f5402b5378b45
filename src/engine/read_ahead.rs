//! Reads every recorded resource at once, and works out what it should be, before the walk.
//! The walk reads a resource only after its dependencies, so a run with nothing to do would
//! otherwise wait for the stack's depth in round trips, one after another; read ahead, the
//! reads go out in one wave. A step uses what was read ahead only while nothing it depends on
//! has moved since: no dependency was changed in AWS by this run, and every dependency's
//! record is still the one the read saw (a read finds a resource, and `desired` names its
//! dependencies, through their ids).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use futures::StreamExt;
use futures::stream;
use tracing::Instrument;

use super::graph::{Direction, Graph};
use crate::context::Ctx;
use crate::resource::{Observed, Properties, Resource};
use crate::state::Record;

/// Reads at once per step the walk may run at once. A read is a call or three of a fraction
/// of a second where a step may wait for minutes: at the default parallelism (10) the whole
/// stack (55 resources with backup and the RDS event subscriptions) is read in one wave, and
/// `--parallelism 1` still reads only a few at a time.
const READS_PER_STEP: usize = 8;

/// One resource, read ahead.
pub(super) struct Ahead {
    pub found: Option<Observed>,
    /// What it should be; `None` when it was not found (nothing to compare) or `desired` failed.
    pub desired: Option<Properties>,
}

pub(super) struct ReadAhead {
    /// Each resource's record when the reads went out.
    before: Vec<Option<Record>>,
    /// Empty where there was no read ahead, it failed, or a step took it.
    ahead: Vec<Mutex<Option<Ahead>>>,
    /// Set once a step has changed its resource in AWS.
    moved: Vec<AtomicBool>,
}

impl ReadAhead {
    /// Reads each resource that has a record and whose dependencies all have one (the others
    /// are found by name and tags through ids their dependencies' steps may still record);
    /// `compare`: works out what each should be as well.
    pub(super) async fn read(
        ctx: &Ctx,
        resources: &[Box<dyn Resource>],
        graph: &Graph,
        parallelism: usize,
        compare: bool,
    ) -> Self {
        let before: Vec<Option<Record>> = resources.iter().map(|r| ctx.record(r.name())).collect();
        let before_ref = &before;
        let reads = resources.iter().enumerate().map(|(node, res)| async move {
            let recorded = before_ref[node].as_ref()?;
            let deps = graph.before(node, Direction::Forward);
            if deps.iter().any(|&d| before_ref[d].is_none()) {
                return None;
            }
            // A failure here costs nothing but the call: the step reads again, with its
            // retries and its error report.
            let desired = async {
                if compare {
                    Some(res.desired(ctx).await)
                } else {
                    None
                }
            };
            let (found, desired) = tokio::join!(res.read(ctx, Some(recorded)), desired);
            let found = found
                .inspect_err(|e| tracing::debug!(resource = res.name().as_str(), error = %e, "read ahead failed"))
                .ok()?;
            let desired = found.as_ref().and(desired).and_then(Result::ok);
            Some(Ahead { found, desired })
        });
        let ahead: Vec<Option<Ahead>> = stream::iter(reads)
            .buffered(parallelism.max(1) * READS_PER_STEP)
            .collect()
            .instrument(tracing::info_span!("read_ahead"))
            .await;
        Self {
            moved: before.iter().map(|_| AtomicBool::new(false)).collect(),
            ahead: ahead.into_iter().map(Mutex::new).collect(),
            before,
        }
    }

    /// What was read ahead of `node`, unless something it depends on has moved since; taken,
    /// so that a retried step reads afresh.
    pub(super) fn take(
        &self,
        ctx: &Ctx,
        resources: &[Box<dyn Resource>],
        graph: &Graph,
        node: usize,
    ) -> Option<Ahead> {
        let ahead = self.ahead[node]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()?;
        let unmoved = graph.before(node, Direction::Forward).iter().all(|&d| {
            !self.moved[d].load(Ordering::Acquire)
                && ctx.record(resources[d].name()) == self.before[d]
        });
        unmoved.then_some(ahead)
    }

    /// `node`'s step changed its resource in AWS: what was read ahead of its dependents is stale.
    pub(super) fn moved(&self, node: usize) {
        self.moved[node].store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_PARALLELISM;

    /// A stack larger than one wave reads its last resources a round trip late: a no-op run
    /// then waits for two or more reads one after another.
    #[test]
    fn the_whole_stack_is_read_in_one_wave_at_the_default_parallelism() {
        let resources = crate::resources::stack().len();
        assert!(
            resources <= DEFAULT_PARALLELISM * READS_PER_STEP,
            "{resources} resources, {} reads at once",
            DEFAULT_PARALLELISM * READS_PER_STEP
        );
    }
}
