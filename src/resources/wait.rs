//! Waiting for AWS to finish something: poll with backoff (quick at first, then steady),
//! report the status AWS gives while waiting, and stop at a per-resource timeout that matches
//! how long real AWS takes.

use std::time::{Duration, Instant};

use crate::context::Ctx;
use crate::error::Error;
use crate::logical::Logical;

/// One look at the resource: done, or still in the named AWS state.
pub(crate) enum Poll<T> {
    Ready(T),
    Pending(String),
}

/// Polls come at least this often, however short the wait so far.
const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// And at most this often once a wait has gone on for minutes.
const MAX_INTERVAL: Duration = Duration::from_secs(15);
/// Between the two, the interval is this share of the time waited so far, so that completion
/// is noticed within 5% of the wait, the call's own round trip included: dense while a
/// stream may be seconds away, sparse through the bulk of a long wait.
const LAG_SHARE: f64 = 0.04;
/// Once a wait has lasted this long, polls come at most every `MAX_INTERVAL`.
const SPARSE_AFTER: Duration = Duration::from_secs(60);
/// How long after a change's usual duration the poll meant to see it comes: a little late
/// rather than early, since an early one costs a whole interval.
const AFTER_USUAL: Duration = Duration::from_secs(1);

/// How long RDS and ElastiCache may go on describing a resource as before, `available` with
/// nothing pending, after accepting a modification: terraform-provider-aws waits 30 s for
/// this before its first poll; twice that, and more, covers a slow control plane.
pub(crate) const MODIFY_LAG: Duration = Duration::from_secs(2 * 60);

/// How a wait spaces its polls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pace {
    /// 4% of the time waited so far, between `MIN_INTERVAL` and `MAX_INTERVAL`: for changes
    /// with no usual length (modifications, a wait resumed from an earlier run).
    Adaptive,
    /// For a change that usually takes this long but may be done sooner (NAT gateways,
    /// interface endpoints): through the first minute, 4% of the time waited or of half the
    /// usual length, whichever is more; then every `MAX_INTERVAL` on a grid through the
    /// usual length, so that one poll comes just after it. A change that takes its usual time
    /// is seen at once, a slower one within `MAX_INTERVAL`.
    Usually(Duration),
    /// For a change of five minutes or more (RDS and ElastiCache creates and deletes): every
    /// `MAX_INTERVAL` from the start, on the same grid. 15 s is under 5% of such a wait, and
    /// denser polls in the first minutes would only find the same status. An early failure is
    /// seen within 15 s all the same.
    Steady(Duration),
}

/// The pause before the next poll, in real-AWS time, after waiting `waited`.
fn next_interval(waited: Duration, pace: Pace) -> Duration {
    let share_of = |d: Duration| d.mul_f64(LAG_SHARE).clamp(MIN_INTERVAL, MAX_INTERVAL);
    match pace {
        Pace::Adaptive => share_of(waited),
        Pace::Usually(usual) => {
            // Such a change seldom finishes in under half its usual time: until then, as if
            // it had waited that long.
            let early = share_of(waited.max(usual / 2));
            if waited + early < SPARSE_AFTER {
                early
            } else {
                on_grid(waited, (waited + MIN_INTERVAL).max(SPARSE_AFTER), usual)
            }
        }
        Pace::Steady(usual) => on_grid(waited, waited + MIN_INTERVAL, usual),
    }
}

/// The pause from `waited` to the first point at or after `earliest` of the grid
/// `usual + AFTER_USUAL + k × MAX_INTERVAL` (k any whole number).
fn on_grid(waited: Duration, earliest: Duration, usual: Duration) -> Duration {
    let anchor = usual + AFTER_USUAL;
    let step = MAX_INTERVAL.as_nanos();
    let at = if earliest <= anchor {
        let back = (anchor - earliest).as_nanos() / step;
        anchor - MAX_INTERVAL * u32::try_from(back).unwrap_or(u32::MAX)
    } else {
        let ahead = (earliest - anchor).as_nanos().div_ceil(step);
        anchor + MAX_INTERVAL * u32::try_from(ahead).unwrap_or(u32::MAX)
    };
    at.saturating_sub(waited)
}

/// A wait declared by its states, as terraform-provider-aws's `StateChangeConf`: the statuses
/// AWS passes through by itself (`pending`), those that end the wait (`target`); any other
/// status ends it with an error, since AWS will not leave it without help.
pub(crate) struct Waiter {
    pub resource: Logical,
    /// What the wait is for, as the messages say it: `available`, `deleted`.
    pub goal: &'static str,
    pub pending: &'static [&'static str],
    pub target: &'static [&'static str],
    pub timeout: Duration,
    pub pace: Pace,
}

impl Waiter {
    /// Polls `refresh` (the item and its status, `None` while it does not exist) until the
    /// status is a target, and returns the item.
    pub(crate) async fn until_target<T, F, Fut>(&self, ctx: &Ctx, refresh: F) -> Result<T, Error>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Option<(T, String)>, Error>>,
    {
        self.poll(ctx, refresh, |found| match found {
            Some((item, status)) if self.target.contains(&status.as_str()) => Ok(Poll::Ready(item)),
            Some((_, status)) if self.pending.contains(&status.as_str()) => {
                Ok(Poll::Pending(status))
            }
            found => Err(Error::resource(
                self.resource,
                format!(
                    "is {}; it will not become {} without help",
                    found
                        .as_ref()
                        .map_or("missing", |(_, status)| status.as_str()),
                    self.goal
                ),
            )),
        })
        .await
    }

    /// Polls `refresh` (the status, `None` once gone) until the resource is gone.
    pub(crate) async fn until_gone<F, Fut>(&self, ctx: &Ctx, refresh: F) -> Result<(), Error>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Option<String>, Error>>,
    {
        self.poll(ctx, refresh, |found| {
            Ok(match found {
                None => Poll::Ready(()),
                Some(status) => Poll::Pending(status),
            })
        })
        .await
    }

    /// Polls `refresh` at this wait's pace and timeout until `judge` finds what it saw final.
    async fn poll<Seen, T, F, Fut>(
        &self,
        ctx: &Ctx,
        refresh: F,
        judge: impl Fn(Seen) -> Result<Poll<T>, Error>,
    ) -> Result<T, Error>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Seen, Error>>,
    {
        paced(
            ctx,
            self.resource,
            self.goal,
            self.timeout,
            self.pace,
            || {
                let look = refresh();
                let judge = &judge;
                async move { judge(look.await?) }
            },
        )
        .await
    }
}

/// Polls `check` until it reports `Ready`, an error, or `timeout` passes, with the polls
/// spaced as `pace` says: for waits whose end is more than a status (a modification RDS or
/// ElastiCache has accepted but may not have started).
pub(crate) async fn paced<T, F, Fut>(
    ctx: &Ctx,
    resource: Logical,
    goal: &str,
    timeout: Duration,
    pace: Pace,
    mut check: F,
) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, Error>>,
{
    let started = Instant::now();
    let scale = ctx.settings.time_scale;
    loop {
        match crate::aws::polling(check()).await? {
            Poll::Ready(value) => return Ok(value),
            Poll::Pending(status) => {
                // In real-AWS terms, whatever the time scale of this run.
                let waited = started.elapsed().div_f64(scale);
                if waited >= timeout {
                    return Err(Error::resource(
                        resource,
                        format!(
                            "still {status} after {}s waiting to be {goal}; AWS may yet finish: run the command again to resume waiting",
                            waited.as_secs()
                        ),
                    ));
                }
                ctx.status(resource, &format!("{status} ({}s)", waited.as_secs()));
                let pause = next_interval(waited, pace);
                ctx.pause(pause).await?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// When each poll of a wait of `length` is sent, answers taking no time.
    fn polls(pace: Pace, length: Duration) -> Vec<Duration> {
        let mut at = vec![Duration::ZERO];
        while let Some(&last) = at.last().filter(|&&t| t < length) {
            at.push(last + next_interval(last, pace));
        }
        at
    }

    fn after_a_minute(polls: &[Duration]) -> Vec<Duration> {
        polls
            .iter()
            .copied()
            .filter(|&t| t > SPARSE_AFTER)
            .collect()
    }

    fn gaps(polls: &[Duration]) -> Vec<Duration> {
        polls.windows(2).map(|w| w[1] - w[0]).collect()
    }

    #[test]
    fn polls_are_dense_early_and_sparse_late() {
        let adaptive = Pace::Adaptive;
        assert_eq!(next_interval(Duration::ZERO, adaptive), MIN_INTERVAL);
        assert_eq!(
            next_interval(Duration::from_secs(90), adaptive),
            Duration::from_millis(3600)
        );
        assert_eq!(
            next_interval(Duration::from_secs(20 * 60), adaptive),
            MAX_INTERVAL
        );
        // Never more than 4% (or a second) late to notice completion, before the round trip.
        for secs in [10, 60, 90, 300, 900] {
            let w = Duration::from_secs(secs);
            assert!(next_interval(w, adaptive) <= w.mul_f64(LAG_SHARE).max(MIN_INTERVAL));
        }
    }

    #[test]
    fn a_change_of_its_usual_length_is_seen_at_once_and_polled_sparsely_after_a_minute() {
        let usual = Duration::from_secs(90);
        let polls = polls(Pace::Usually(usual), usual + AFTER_USUAL);
        assert!(polls.contains(&(usual + AFTER_USUAL)), "{polls:?}");
        // Dense in the first minute, in case it is early: within 2 s, the lag allowed.
        assert!(
            gaps(&polls[..5])
                .iter()
                .all(|&g| g == usual.mul_f64(LAG_SHARE / 2.0))
        );
        // Then no more than one per 15 s.
        let late = after_a_minute(&polls);
        assert!(late.len() <= 3, "{late:?}");
        assert!(gaps(&late).iter().all(|&g| g >= MAX_INTERVAL), "{late:?}");
    }

    #[test]
    fn a_slower_change_is_seen_within_the_longest_interval() {
        let polls = polls(
            Pace::Usually(Duration::from_secs(90)),
            Duration::from_secs(400),
        );
        // Crossing the first minute, onto the grid, may take up to a second more.
        assert!(
            gaps(&polls)
                .iter()
                .all(|&g| g <= MAX_INTERVAL + MIN_INTERVAL)
        );
        let late = after_a_minute(&polls);
        assert!(gaps(&late).iter().all(|&g| g == MAX_INTERVAL), "{late:?}");
    }

    #[test]
    fn changes_of_many_minutes_poll_steadily_from_the_start_and_just_after_their_usual_length() {
        for secs in [300, 420, 600, 900] {
            let usual = Duration::from_secs(secs);
            let polls = polls(Pace::Steady(usual), usual + AFTER_USUAL);
            assert!(polls.contains(&(usual + AFTER_USUAL)), "{polls:?}");
            let gaps = gaps(&polls);
            assert!(gaps[0] >= MIN_INTERVAL && gaps[0] <= MAX_INTERVAL);
            assert!(gaps[1..].iter().all(|&g| g == MAX_INTERVAL), "{gaps:?}");
        }
        // Within 5% of any wait of five minutes or more.
        assert!(MAX_INTERVAL.as_secs_f64() <= 0.05 * 300.0);
    }
}
