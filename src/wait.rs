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
/// is noticed within about 5% of the wait: dense while a NAT gateway may be seconds away, one
/// poll per 15 s through the bulk of a 20-minute RDS creation.
const LAG_SHARE: f64 = 0.05;

/// The pause before the next poll, in real-AWS time, after waiting `waited` for something
/// that is never done in under `settles_after`.
fn next_interval(waited: Duration, settles_after: Duration) -> Duration {
    waited
        .max(settles_after)
        .mul_f64(LAG_SHARE)
        .clamp(MIN_INTERVAL, MAX_INTERVAL)
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
    until_after(ctx, resource, goal, timeout, Duration::ZERO, check).await
}

/// `until`, for a change AWS never completes in under `settles_after` (a Multi-AZ database
/// takes 10-20 minutes to create): from the start, polls are spaced as if that long had been
/// waited already (one per 15 s for five minutes or more), instead of densely through a first
/// minute in which it cannot finish. Only an early failure is noticed later for it.
pub async fn until_after<T, F, Fut>(
    ctx: &Ctx,
    resource: &str,
    goal: &str,
    timeout: Duration,
    settles_after: Duration,
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
                ctx.pause(next_interval(waited, settles_after)).await?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_are_dense_early_and_sparse_late() {
        let none = Duration::ZERO;
        assert_eq!(next_interval(Duration::ZERO, none), MIN_INTERVAL);
        assert_eq!(
            next_interval(Duration::from_secs(90), none),
            Duration::from_millis(4500)
        );
        assert_eq!(
            next_interval(Duration::from_secs(20 * 60), none),
            MAX_INTERVAL
        );
        // Never more than 5% (or a second) late to notice completion.
        for secs in [10, 60, 90, 300, 900] {
            let w = Duration::from_secs(secs);
            assert!(next_interval(w, none) <= w.mul_f64(LAG_SHARE).max(MIN_INTERVAL));
        }
    }

    #[test]
    fn slow_changes_poll_at_the_steady_interval_from_the_start() {
        let five_minutes = Duration::from_secs(300);
        assert_eq!(next_interval(Duration::ZERO, five_minutes), MAX_INTERVAL);
        assert_eq!(
            next_interval(Duration::from_secs(60), five_minutes),
            MAX_INTERVAL
        );
        let three_minutes = Duration::from_secs(180);
        assert_eq!(
            next_interval(Duration::ZERO, three_minutes),
            Duration::from_secs(9)
        );
    }
}
