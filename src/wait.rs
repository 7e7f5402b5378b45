//! Waiting for AWS to finish something: poll with backoff (quick at first, then steady),
//! report the status AWS gives while waiting, and stop at a per-resource timeout that matches
//! how long real AWS takes.

use std::time::{Duration, Instant};

use crate::context::Ctx;
use crate::error::Error;

/// One look at the resource: done, or still in the named AWS state.
pub enum Poll<T> {
    Ready(T),
    Pending(String),
}

/// Polls come at least this often, however short the wait so far.
const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// And at most this often once a wait has gone on for minutes.
const MAX_INTERVAL: Duration = Duration::from_secs(15);
/// Between the two, the interval is this share of the time waited so far, so that completion
/// is noticed within 5% of the wait, the call's own round trip included: dense while a NAT
/// gateway may be seconds away, one poll per 15 s through the bulk of a 20-minute RDS creation.
const LAG_SHARE: f64 = 0.04;

/// How a wait spaces its polls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pace {
    /// 4% of the time waited so far, between `MIN_INTERVAL` and `MAX_INTERVAL`: for changes
    /// that may finish in seconds or take minutes (NAT gateways, endpoints, streams).
    Adaptive,
    /// Every `MAX_INTERVAL` from the start: for changes that take five minutes or more (RDS and
    /// ElastiCache creates and deletes), where 15 s is under 5% of the wait and denser polls
    /// in the first minutes would only find the same status. An early failure is seen within
    /// 15 s all the same.
    Steady,
}

/// The pause before the next poll, in real-AWS time, after waiting `waited`.
fn next_interval(waited: Duration, pace: Pace) -> Duration {
    match pace {
        Pace::Adaptive => waited.mul_f64(LAG_SHARE).clamp(MIN_INTERVAL, MAX_INTERVAL),
        Pace::Steady => MAX_INTERVAL,
    }
}

/// Polls `check` until it reports `Ready`, an error, or `timeout` passes.
pub async fn until<T, F, Fut>(
    ctx: &Ctx,
    resource: &str,
    goal: &str,
    timeout: Duration,
    check: F,
) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, Error>>,
{
    paced(ctx, resource, goal, timeout, Pace::Adaptive, check).await
}

/// `until`, with the polls spaced as `pace` says.
pub async fn paced<T, F, Fut>(
    ctx: &Ctx,
    resource: &str,
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
                ctx.pause(next_interval(waited, pace)).await?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn changes_of_many_minutes_poll_steadily_from_the_start() {
        for secs in [0, 60, 900] {
            assert_eq!(
                next_interval(Duration::from_secs(secs), Pace::Steady),
                MAX_INTERVAL
            );
        }
        // Within 5% of any wait of five minutes or more.
        assert!(MAX_INTERVAL.as_secs_f64() <= 0.05 * 300.0);
    }
}
