//! The engine: walks the stack's dependency graph and runs, for each resource, the step a
//! command asks for — converge (`up`), predict (`plan`), find (`verify`, `destroy`'s first
//! pass) or delete (`destroy`). It knows the `Resource` trait and nothing of any AWS service.

pub(crate) mod graph;
pub(crate) mod progress;
mod read_ahead;
mod retry;
pub(crate) mod walk;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tracing::Instrument;

use graph::{Direction, Graph, GraphError};
use progress::Progress;
use read_ahead::{Ahead, ReadAhead};
use retry::{RetryPolicy, with_retries};
use walk::{NodeResult, walk};

use crate::context::Ctx;
use crate::error::Error;
use crate::interrupt::Interrupt;
use crate::logical::Logical;
use crate::resource::{Change, Observed, Properties, Resource, diff, unchangeable};

/// What a step did (or, in `plan`, would do).
#[derive(Clone, Debug)]
pub(crate) enum Action {
    Created,
    Updated(Vec<Change>),
    Unchanged,
    WouldCreate,
    WouldUpdate(Vec<Change>),
    /// `plan`: AWS is still carrying out a change (its status word); `up` would wait for it.
    WouldSettle(String),
    Found,
    Deleted,
    Absent,
}

impl Action {
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated(_) => "updated",
            Self::Unchanged => "unchanged",
            Self::WouldCreate => "create",
            Self::WouldUpdate(_) => "update",
            Self::WouldSettle(_) => "settling",
            Self::Found => "found",
            Self::Deleted => "deleted",
            Self::Absent => "absent",
        }
    }

    pub(crate) fn changes(&self) -> &[Change] {
        match self {
            Self::Updated(c) | Self::WouldUpdate(c) => c,
            _ => &[],
        }
    }
}

/// How one resource's step ended, for the summary table and machine output.
#[derive(Debug)]
pub(crate) struct StepReport {
    pub resource: String,
    pub kind: &'static str,
    pub id: Option<String>,
    pub outcome: Outcome,
    pub seconds: f64,
}

#[derive(Debug)]
pub(crate) enum Outcome {
    Done(Action),
    Failed(Error),
    Skipped { because: String },
    NotStarted,
}

impl StepReport {
    pub(crate) fn is_ok(&self) -> bool {
        matches!(self.outcome, Outcome::Done(_))
    }
}

pub(crate) struct Engine {
    resources: Vec<Box<dyn Resource>>,
    graph: Graph,
    parallelism: usize,
    interrupt: Interrupt,
    progress: Arc<dyn Progress>,
}

/// The dependency graph of `resources`, checked: no unknown dependency, no cycle.
pub(crate) fn graph_of(resources: &[Box<dyn Resource>]) -> Result<Graph, GraphError> {
    Graph::new(resources.iter().map(|r| {
        let needs = r.depends_on().into_iter().map(Logical::as_str).collect();
        (r.name().as_str(), needs)
    }))
}

impl Engine {
    pub(crate) fn new(
        resources: Vec<Box<dyn Resource>>,
        parallelism: usize,
        interrupt: Interrupt,
        progress: Arc<dyn Progress>,
    ) -> Result<Self, GraphError> {
        let graph = graph_of(&resources)?;
        Ok(Self {
            resources,
            graph,
            parallelism,
            interrupt,
            progress,
        })
    }

    pub(crate) fn resources(&self) -> &[Box<dyn Resource>] {
        &self.resources
    }

    pub(crate) fn interrupted(&self) -> bool {
        self.interrupt.is_raised()
    }

    /// Creates what is missing and repairs what drifted, dependencies first.
    pub(crate) async fn up(&self, ctx: &Ctx) -> Vec<StepReport> {
        let ahead = &self.read_ahead(ctx, true).await;
        self.run(ctx, Direction::Forward, "reading", |node, res| async move {
            let action = with_retries(ctx, res.name(), RetryPolicy::CONVERGE, || {
                converge(res, ctx, self.taken(ctx, ahead, node))
            })
            .await?;
            if matches!(action, Action::Created | Action::Updated(_)) {
                ahead.moved(node);
            }
            Ok(action)
        })
        .await
    }

    /// What `up` would do, without a single mutating call.
    pub(crate) async fn plan(&self, ctx: &Ctx) -> Vec<StepReport> {
        let planned_create: Mutex<BTreeSet<Logical>> = Mutex::default();
        let planned_create = &planned_create;
        let ahead = &self.read_ahead(ctx, true).await;
        self.run(ctx, Direction::Forward, "reading", |node, res| async move {
            let parent_missing = {
                let created = planned_create
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                res.depends_on().iter().any(|d| created.contains(d))
            };
            let action = if parent_missing {
                Action::WouldCreate
            } else {
                predict(res, ctx, self.taken(ctx, ahead, node)).await?
            };
            if matches!(action, Action::WouldCreate) {
                planned_create
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(res.name());
            }
            Ok(action)
        })
        .await
    }

    /// Finds every resource (by recorded id, else by name and tags) and records what it found
    /// in `ctx`. Returns what each read saw, in stack order.
    pub(crate) async fn discover(&self, ctx: &Ctx) -> (Vec<StepReport>, Vec<Option<Observed>>) {
        let found: Mutex<Vec<Option<Observed>>> = Mutex::new(vec![None; self.resources.len()]);
        let found_ref = &found;
        let ahead = &self.read_ahead(ctx, false).await;
        let reports = self
            .run(
                ctx,
                Direction::Forward,
                "reading",
                |index, res| async move {
                    let observed = with_retries(ctx, res.name(), RetryPolicy::CONVERGE, || {
                        let ahead = self.taken(ctx, ahead, index);
                        async move { Ok(read(res, ctx, ahead).await?.0) }
                    })
                    .await?;
                    let action = match &observed {
                        Some(o) => {
                            ctx.set_record(res.name(), o.record.clone())?;
                            Action::Found
                        }
                        None => {
                            ctx.remove_record(res.name())?;
                            Action::Absent
                        }
                    };
                    found_ref.lock().unwrap_or_else(PoisonError::into_inner)[index] = observed;
                    Ok(action)
                },
            )
            .await;
        (
            reports,
            found.into_inner().unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Deletes what `discover` found, dependents first, and drops each record as it goes.
    pub(crate) async fn destroy(&self, ctx: &Ctx, found: &[Option<Observed>]) -> Vec<StepReport> {
        self.run(
            ctx,
            Direction::Reverse,
            "deleting",
            |index, res| async move {
                let Some(current) = &found[index] else {
                    ctx.remove_record(res.name())?;
                    return Ok(Action::Absent);
                };
                ctx.before_change().await?;
                with_retries(ctx, res.name(), RetryPolicy::DESTROY, || {
                    res.destroy(ctx, current)
                })
                .await?;
                ctx.remove_record(res.name())?;
                Ok(Action::Deleted)
            },
        )
        .await
    }

    async fn read_ahead(&self, ctx: &Ctx, compare: bool) -> ReadAhead {
        ReadAhead::read(ctx, &self.resources, &self.graph, self.parallelism, compare).await
    }

    fn taken(&self, ctx: &Ctx, ahead: &ReadAhead, node: usize) -> Option<Ahead> {
        ahead.take(ctx, &self.resources, &self.graph, node)
    }

    async fn run<'a, F, Fut>(
        &'a self,
        ctx: &Ctx,
        direction: Direction,
        activity: &str,
        step: F,
    ) -> Vec<StepReport>
    where
        F: Fn(usize, &'a dyn Resource) -> Fut,
        Fut: Future<Output = Result<Action, Error>>,
    {
        let timings: Mutex<Vec<f64>> = Mutex::new(vec![0.0; self.resources.len()]);
        let timings_ref = &timings;
        // Ids as known before each step: a destroy step drops its record.
        let ids: Vec<Option<String>> = self
            .resources
            .iter()
            .map(|r| ctx.record(r.name()).map(|rec| rec.id))
            .collect();
        let step = &step;
        let weights: Vec<u64> = self.resources.iter().map(|r| r.typical_seconds()).collect();
        let priority = self.graph.chain_weights(direction, &weights);
        let results = walk(
            &self.graph,
            direction,
            self.parallelism,
            &priority,
            &self.interrupt,
            |node| async move {
                let res = self.resources[node].as_ref();
                // Instrumented, not entered: a guard held across awaits would leak the span
                // into whichever step the executor polls next.
                let span = tracing::info_span!(
                    "step",
                    resource = res.name().as_str(),
                    kind = res.name().kind()
                );
                self.progress.started(res.name().as_str(), activity);
                let started = Instant::now();
                let result = step(node, res).instrument(span).await;
                timings_ref.lock().unwrap_or_else(PoisonError::into_inner)[node] =
                    started.elapsed().as_secs_f64();
                match &result {
                    Ok(action) => self
                        .progress
                        .finished(res.name().as_str(), action.label(), true),
                    Err(e) => self
                        .progress
                        .finished(res.name().as_str(), &e.to_string(), false),
                }
                result
            },
        )
        .await;
        let timings = timings.into_inner().unwrap_or_else(PoisonError::into_inner);
        results
            .into_iter()
            .enumerate()
            .map(|(node, result)| {
                let res = &self.resources[node];
                StepReport {
                    resource: res.name().to_string(),
                    kind: res.name().kind(),
                    id: ctx
                        .record(res.name())
                        .map(|r| r.id)
                        .or_else(|| ids[node].clone()),
                    outcome: match result {
                        NodeResult::Done(action) => Outcome::Done(action),
                        NodeResult::Failed(e) => Outcome::Failed(e),
                        NodeResult::Skipped { because } => Outcome::Skipped { because },
                        NodeResult::NotStarted => Outcome::NotStarted,
                    },
                    seconds: timings[node],
                }
            })
            .collect()
    }
}

/// What `res` is now, and what it should be when that was worked out ahead.
async fn read(
    res: &dyn Resource,
    ctx: &Ctx,
    ahead: Option<Ahead>,
) -> Result<(Option<Observed>, Option<Properties>), Error> {
    match ahead {
        Some(ahead) => Ok((ahead.found, ahead.desired)),
        None => Ok((res.read(ctx, ctx.record(res.name()).as_ref()).await?, None)),
    }
}

async fn desired(
    res: &dyn Resource,
    ctx: &Ctx,
    ahead: Option<Properties>,
) -> Result<Properties, Error> {
    match ahead {
        Some(desired) => Ok(desired),
        None => res.desired(ctx).await,
    }
}

/// One attempt at bringing a resource to its desired state.
async fn converge(res: &dyn Resource, ctx: &Ctx, ahead: Option<Ahead>) -> Result<Action, Error> {
    let (found, wanted) = read(res, ctx, ahead).await?;
    let Some(current) = found else {
        ctx.before_change().await?;
        ctx.status(res.name(), "creating");
        let created = res.create(ctx).await?;
        ctx.set_record(res.name(), created.record)?;
        return Ok(Action::Created);
    };
    ctx.set_record(res.name(), current.record.clone())?;
    let current = settled(res, ctx, current).await?;
    let changes = diff(&desired(res, ctx, wanted).await?, &current.properties);
    if changes.is_empty() {
        return Ok(Action::Unchanged);
    }
    // Better no change than half of one: a property only a re-create could change stops the
    // whole update before any call.
    if let Some(fixed) = changes.iter().find(|c| !c.property.in_place) {
        return Err(unchangeable(res.name(), fixed));
    }
    ctx.before_change().await?;
    ctx.status(res.name(), "updating");
    res.update(ctx, &current, &changes).await?;
    let after = res
        .read(ctx, Some(&current.record))
        .await?
        .ok_or_else(|| Error::resource(res.name(), "disappeared while it was being updated"))?;
    ctx.set_record(res.name(), after.record.clone())?;
    let left = diff(&res.desired(ctx).await?, &after.properties);
    if let Some(change) = left.first() {
        return Err(Error::resource(
            res.name(),
            format!(
                "{} is still {} after the update, wanted {}",
                change.property,
                change
                    .observed
                    .as_ref()
                    .map_or("unset".to_owned(), |v| v.to_string()),
                change.desired
            ),
        ));
    }
    Ok(Action::Updated(changes))
}

async fn predict(res: &dyn Resource, ctx: &Ctx, ahead: Option<Ahead>) -> Result<Action, Error> {
    let (found, wanted) = read(res, ctx, ahead).await?;
    let Some(current) = found else {
        return Ok(Action::WouldCreate);
    };
    ctx.set_record(res.name(), current.record.clone())?;
    let changes = diff(&desired(res, ctx, wanted).await?, &current.properties);
    let transition = res.in_transition(&current);
    let changes = match &transition {
        Some(t) => t.known_changes(changes),
        None => changes,
    };
    Ok(match transition {
        _ if !changes.is_empty() => Action::WouldUpdate(changes),
        Some(t) => Action::WouldSettle(t.status),
        None => Action::Unchanged,
    })
}

/// `current`, or, when AWS is still carrying out a change on it, what it is once that change
/// is done: a partial description (no endpoint yet) is never compared.
async fn settled(res: &dyn Resource, ctx: &Ctx, current: Observed) -> Result<Observed, Error> {
    let Some(transition) = res.in_transition(&current) else {
        return Ok(current);
    };
    ctx.status(res.name(), &format!("still {}", transition.status));
    res.settle(ctx, &current).await?;
    let after = res.read(ctx, Some(&current.record)).await?.ok_or_else(|| {
        Error::resource(
            res.name(),
            format!("disappeared while {}", transition.status),
        )
    })?;
    ctx.set_record(res.name(), after.record.clone())?;
    Ok(after)
}
